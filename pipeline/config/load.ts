/**
 * Reads matrix.yaml and turns it into a validated MatrixConfig, or throws one ConfigError
 * naming file:line:col, the key, and what would be valid. Reads files; writes nothing.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { LineCounter, parseDocument, visit } from 'yaml';
import type { z } from 'zod';
import type { BuilderSpec, EnrolledCert, KeySet, MatrixConfig, SourceSpec } from '../domain.ts';
import { sha256Hex } from '../checksums.ts';
import { BUILTIN_KEY_SETS, CUSTOM_OWNER, pinMismatch } from './key-sets.ts';
import { ConfigError } from '../errors.ts';
import { expandMatrix, type Fail } from './expand.ts';
import { formatPath, makeLocator, type Locator, type Path } from './locate.ts';
import { configSchema, type RawConfig } from './schema.ts';
import { edk2TreeProblem } from './edk2-tree.ts';

/** Alias uses the document may expand to, in yaml's count: a matrix file needs a handful. */
const MAX_ALIAS_COUNT = 1000;

export function loadConfig(file: string): MatrixConfig {
  const path = resolve(file);
  // Relative to the working directory when inside it, absolute otherwise.
  const inside = relative(process.cwd(), path);
  const shown = inside && !inside.startsWith('..') ? inside : path;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the matrix file (${(err as NodeJS.ErrnoException).code ?? err})`,
      { file: shown }, undefined, 'pass an existing file with --config');
  }
  return parseConfig(text, path, shown);
}

/** `shown` is the file name used in messages (relative to the working directory). */
export function parseConfig(text: string, path: string, shown = path): MatrixConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  const syntax = doc.errors[0];
  if (syntax) {
    const pos = syntax.linePos?.[0] ?? { line: 1, col: 1 };
    throw new ConfigError(`YAML syntax error: ${firstLine(syntax.message)}`, { file: shown, ...pos }, undefined,
      'fix the YAML syntax (indentation, colons, quotes)');
  }
  const locator = makeLocator(shown, doc, lines);
  const fail: Fail = (at, detail, hint) => {
    throw new ConfigError(detail, locator.at(at), formatPath(at) || undefined, hint);
  };
  if (doc.contents === null) fail([], 'the file is empty', 'start from the default matrix.yaml');

  let plain: unknown;
  try {
    // A document whose aliases expand into millions of nodes is refused, not expanded.
    plain = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    let at = 0;
    visit(doc, { Alias: (_key, node) => ((at = node.range?.[0] ?? 0), visit.BREAK) });
    const { line, col } = lines.linePos(at);
    throw new ConfigError(`YAML aliases expand too far (${(err as Error).message.toLowerCase()})`, { file: shown, line, col }, undefined,
      'write the values out, or use fewer nested aliases');
  }
  const parsed = configSchema.safeParse(plain);
  if (!parsed.success) throw issueToError(firstIssue(parsed.error.issues, locator), locator, plain);
  const raw = parsed.data;
  const base = dirname(path);
  const source = sourceSpec(raw, base, fail);
  const builder = builderSpec(raw, base, fail);
  const variants = expandMatrix(raw, fail, keySets(raw, base, fail));
  if (source.kind === 'tree') {
    const problem = edk2TreeProblem(source.path, variants);
    if (problem) fail(['source', 'path'], problem, `point source.path at an edk2 checkout (paths are relative to ${base}), or make one with npm run matrix -- --export-source DIR`);
  }
  return {
    file: path,
    locate: (at, which = 'value') => (which === 'key' ? locator.keyAt(at) : locator.at(at)),
    source,
    builder,
    installPrefix: raw.install.prefix,
    toolchain: raw.toolchain,
    variants,
  };
}

/** The message without the excerpt and position the yaml library appends. */
function firstLine(s: string): string {
  return s.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '').trim();
}

/** The issue that appears first in the file: the one a user fixes first. */
function firstIssue(issues: readonly z.core.$ZodIssue[], loc: Locator): z.core.$ZodIssue {
  const score = (i: z.core.$ZodIssue) => {
    const p = loc.at(i.path as Path);
    return p.line * 10_000 + p.col;
  };
  return [...issues].sort((a, b) => score(a) - score(b))[0]!;
}

/** Whether the document has a value at `path` (an error there is a wrong value, not a missing one). */
function present(value: unknown, path: Path): boolean {
  let v = value;
  for (const step of path) {
    if (v === null || typeof v !== 'object' || !(step in v)) return false;
    v = (v as Record<string | number, unknown>)[step];
  }
  return v !== undefined;
}

function issueToError(issue: z.core.$ZodIssue, loc: Locator, plain: unknown): ConfigError {
  const path = issue.path as Path;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const at = [...path, key];
    return new ConfigError(`unknown key "${key}"`, loc.keyAt(at), formatPath(path) || '(top level)',
      'check the spelling against the default matrix.yaml, which documents every key');
  }
  if (issue.code === 'invalid_union' && 'errors' in issue && issue.errors.length) {
    // A value of none of the union's types gets the union's own message; a value of the right
    // type that is wrong inside (a selector's key, a string's pattern) gets that problem.
    const inner = issue.errors.map((branch) => branch[0]).find((i) => i && i.code !== 'invalid_type');
    if (inner) return issueToError({ ...inner, path: [...path, ...inner.path] } as z.core.$ZodIssue, loc, plain);
  }
  if (issue.code === 'invalid_key') {
    const bad = path[path.length - 1];
    return new ConfigError(`invalid name "${String(bad)}": ${issue.issues[0]?.message ?? issue.message}`,
      loc.keyAt(path), formatPath(path.slice(0, -1)), undefined);
  }
  const missing = issue.code === 'invalid_type' && !present(plain, path);
  return new ConfigError(missing ? `missing (${issue.message})` : issue.message,
    missing ? loc.keyAt(path.slice(0, -1)) : loc.at(path), formatPath(path) || undefined,
    missing ? `add ${String(path[path.length - 1])}: to this section` : undefined);
}

function existingFile(base: string, file: string, at: Path, what: string, fail: Fail): string {
  const full = isAbsolute(file) ? file : resolve(base, file);
  if (!existsSync(full) || !statSync(full).isFile()) fail(at, `${what} ${file} does not exist`, `paths are relative to ${base}`);
  return full;
}

function sourceSpec(raw: RawConfig, base: string, fail: Fail): SourceSpec {
  const s = raw.source;
  const kinds = (['debian', 'archive', 'git', 'path'] as const).filter((k) => s[k] !== undefined);
  if (kinds.length !== 1) {
    fail(['source'], kinds.length ? `only one of ${kinds.join(', ')} may be given` : 'no source given',
      'give exactly one of source.debian, source.archive, source.git or source.path');
  }
  if (s.path !== undefined) {
    if (s.patches.length) fail(['source', 'patches'], 'a tree (source.path) is built as it is', 'apply the patches to the tree itself, or drop source.patches');
    return { kind: 'tree', path: resolve(base, s.path), patches: [] };
  }
  const patches = s.patches.map((p, i) => existingFile(base, p, ['source', 'patches', i], 'patch', fail));
  if (s.debian) {
    const d = s.debian;
    return {
      kind: 'debian', package: d.package, version: d.version, mirror: d.mirror, patches,
      // The orig tarball holds the tree under one top directory; the debian tarball holds debian/.
      files: d.files.map((f) => ({ name: f.name, sha256: f.sha256, strip: /\.orig(-[a-z0-9-]+)?\.tar\./.test(f.name) ? 1 : 0 })),
    };
  }
  if (s.archive) {
    const a = s.archive;
    const local = !/^[a-z]+:\/\//.test(a.url);
    const location = local ? existingFile(base, a.url, ['source', 'archive', 'url'], 'archive', fail) : a.url;
    const name = location.split('/').pop() ?? 'source.tar';
    return { kind: 'archive', location, patches, file: { name, sha256: a.sha256, strip: a.strip } };
  }
  const g = s.git!;
  return { kind: 'git', url: g.url, commit: g.commit, submodules: g.submodules, patches };
}

/**
 * The built-in key sets and the matrix's own, whose files must exist and match their sha256:
 * the matrix's own always, the built-in ones (this repository's files) where a feature enrolls them.
 */
function keySets(raw: RawConfig, base: string, fail: Fail): Record<string, KeySet> {
  const sets: Record<string, KeySet> = { ...BUILTIN_KEY_SETS };
  const checked = new Set<string>();
  for (const [f, feature] of Object.entries(raw.features)) {
    feature.enroll.forEach((name, i) => {
      const set = BUILTIN_KEY_SETS[name];
      if (!set || checked.has(name)) return;
      checked.add(name);
      const problem = pinMismatch(set);
      if (problem) fail(['features', f, 'enroll', i], `built-in key set "${name}": ${problem}`, 'restore it with git checkout -- keys/secureboot');
    });
  }
  for (const [name, k] of Object.entries(raw.keysets)) {
    if (name in BUILTIN_KEY_SETS) fail(['keysets', name], `"${name}" is a built-in key set`, 'give yours another name');
    const cert = (c: { file: string; sha256: string }, at: Path): EnrolledCert => {
      const path = existingFile(base, c.file, at, 'certificate', fail);
      const got = sha256Hex(readFileSync(path));
      if (got !== c.sha256) fail([...at, 'sha256'], `${c.file} has sha256 ${got}, not the pinned one`, 'pin the certificate you mean to enroll');
      return { source: { kind: 'file', path, sha256: got }, owner: CUSTOM_OWNER };
    };
    sets[name] = {
      name,
      pk: cert(k.pk, ['keysets', name, 'pk']),
      kek: k.kek.map((c, i) => cert(c, ['keysets', name, 'kek', i])),
      db: k.db.map((c, i) => cert(c, ['keysets', name, 'db', i])),
    };
  }
  return sets;
}

function builderSpec(raw: RawConfig, base: string, fail: Fail): BuilderSpec {
  const b = raw.builder;
  const context = resolve(base, b.dockerfile);
  if (!existsSync(resolve(context, 'Dockerfile'))) {
    fail(['builder', 'dockerfile'], `no Dockerfile in ${b.dockerfile}`, 'point builder.dockerfile at the directory that holds the Dockerfile');
  }
  return { context, base: b.base, suite: b.suite, mirror: b.mirror, network: b.network, snapshot: b.snapshot };
}
