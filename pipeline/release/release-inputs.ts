/**
 * The inputs a release carries so that anyone can build it again from the release alone
 * (`npm run rebuild`): the matrix it was assembled with, and every file that matrix names —
 * the builder's context (Dockerfile, scripts, packages.lock), extra patches and Secure Boot
 * certificates — with the matrix rewritten to name them where they are written back.
 * What the source is (package, version, digests, a git commit) is in the matrix itself; the
 * source is fetched again by its digests, never carried.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { isMap, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { sha256Hex } from '../checksums.ts';
import { loadConfig } from '../config/load.ts';
import type { InputFile, Log, MatrixConfig, ReleaseInputs } from '../domain.ts';
import { ReleaseError } from '../errors.ts';
import { readContext } from '../image/build-context.ts';
import { TEMP_PREFIX } from '../layout.ts';
import { planRun } from '../run.ts';

/** File name of the carried matrix when written back. */
export const INPUTS_MATRIX = 'matrix.yaml';
/** A carried file's path: below builder/, patches/ or keysets/, plain components only (dot files, never . or ..). */
const INPUT_PATH = /^(builder|patches|keysets)(\/(?!\.\.?(\/|$))[A-Za-z0-9._+-]+)+$/;
/** The key sets edk2-matrix itself ships (keys/ of the package). */
const SHIPPED_KEYS = fileURLToPath(new URL('../../keys/', import.meta.url));
const HINT = 'the release cannot be rebuilt from what it carries: ask its publisher, or rebuild with the edk2-matrix commit it names';
const inputsSchema = z.object({
  matrix: z.string(),
  files: z.array(z.object({ path: z.string(), executable: z.boolean(), sha256: z.string().regex(/^[0-9a-f]{64}$/), data: z.string() })),
});

const fileOf = (path: string, data: Buffer, executable = false): InputFile =>
  ({ path, executable, sha256: sha256Hex(data), data: data.toString('base64') });

/** Every certificate file a `keysets:` entry names, as the document holds its scalars. */
function certScalars(doc: Document): { node: { value: unknown }; value: string }[] {
  const found: { node: { value: unknown }; value: string }[] = [];
  const keysets = doc.get('keysets');
  if (!isMap(keysets)) return found;
  for (const set of keysets.items) {
    if (!isMap(set.value)) continue;
    for (const slot of set.value.items) {
      const certs = isSeq(slot.value) ? slot.value.items : [slot.value];
      for (const cert of certs) {
        const file = isMap(cert) ? cert.get('file', true) : undefined;
        if (isScalar(file) && typeof file.value === 'string') found.push({ node: file, value: file.value });
      }
    }
  }
  return found;
}

/** The matrix with its files, ready to be recorded in a release's index. */
export async function collectInputs(config: MatrixConfig): Promise<ReleaseInputs> {
  const doc = parseDocument(await readFile(config.file, 'utf8'));
  const files: InputFile[] = [];
  for (const f of readContext(config.builder.context)) files.push(fileOf(`builder/${f.path.split(sep).join('/')}`, f.data, f.executable));
  doc.setIn(['builder', 'dockerfile'], 'builder');
  if (config.source.patches.length) {
    const names = config.source.patches.map((p, i) => `patches/${i + 1}/${basename(p)}`);
    for (const [i, p] of config.source.patches.entries()) files.push(fileOf(names[i]!, await readFile(p)));
    doc.setIn(['source', 'patches'], names);
  }
  // A local archive is not carried (it may be large): its absolute path lets assemble plan it
  // here; a rebuild elsewhere refuses it (checkCarriedConfig) — a URL is what travels.
  if (config.source.kind === 'archive' && !/^[a-z][a-z0-9+.-]*:\/\//.test(config.source.location)) doc.setIn(['source', 'archive', 'url'], config.source.location);
  const seen = new Set<string>();
  for (const cert of certScalars(doc)) {
    const data = await readFile(resolve(dirname(config.file), cert.value));
    const path = `keysets/${sha256Hex(data)}.pem`;
    cert.node.value = path;
    if (!seen.has(path)) files.push(fileOf(path, data));
    seen.add(path);
  }
  return { matrix: doc.toString(), files: files.sort((a, b) => (a.path < b.path ? -1 : 1)) };
}

/**
 * Writes carried inputs below `dir` and returns the matrix's path. Refuses a path that is not
 * one of ours or a file whose bytes are not what the release says: the release was signed, so
 * either is a release this version cannot read.
 */
export async function writeInputs(inputs: ReleaseInputs, dir: string): Promise<string> {
  const shape = inputsSchema.safeParse(inputs);
  if (!shape.success) throw new ReleaseError('index.json', `release.inputs is not what edk2-matrix records (${shape.error.issues[0]?.message ?? 'bad shape'})`, HINT);
  const paths = new Set(inputs.files.map((f) => f.path));
  for (const f of inputs.files) {
    if (!INPUT_PATH.test(f.path) || [...paths].some((p) => p.startsWith(`${f.path}/`))) {
      throw new ReleaseError('index.json', `carries an input file named ${JSON.stringify(f.path)}, which is not a plain file below builder/, patches/ or keysets/`, HINT);
    }
    const data = Buffer.from(f.data, 'base64');
    if (sha256Hex(data) !== f.sha256) throw new ReleaseError('index.json', `carries input ${f.path} whose bytes do not match its sha256`, HINT);
    const path = join(dir, f.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, data);
    await chmod(path, f.executable ? 0o755 : 0o644);
  }
  const matrix = join(dir, INPUTS_MATRIX);
  await writeFile(matrix, inputs.matrix);
  return matrix;
}

export interface PlannedInputs {
  /** The carried matrix, loaded from where `writeInputs` put it. */
  readonly config: MatrixConfig;
  /** Content key of every variant it declares, by id. */
  readonly keys: ReadonlyMap<string, string>;
}

/**
 * Writes the inputs below `dir`, loads the matrix and plans every variant it declares: the keys
 * this edk2-matrix gives them. Equal to a release's keys, they prove the release was built from
 * exactly these inputs by a pipeline that plans as this one does.
 */
/**
 * What a rebuild may do with a matrix its publisher wrote: read only the files it carries,
 * fetch the source only from a URL, and build the builder on the host's or the default network.
 * (The schema already keeps the suite, the base image and a git URL from reading as options.)
 */
export function checkCarriedConfig(config: MatrixConfig, dir: string): void {
  const inside = (path: string) => resolve(path).startsWith(`${resolve(dir)}/`);
  const refuse = (what: string) => { throw new ReleaseError('index.json', `the matrix the release carries ${what}`, HINT); };
  if (resolve(config.builder.context) !== resolve(dir, 'builder')) refuse(`builds its builder from ${config.builder.context}, not from the builder context it carries`);
  for (const p of config.source.patches) if (!inside(p)) refuse(`names a patch outside what it carries: ${p}`);
  // Certificates: the matrix's own (carried), or the key sets this edk2-matrix ships in keys/.
  const shipped = (path: string) => resolve(path).startsWith(SHIPPED_KEYS);
  for (const v of config.variants) {
    for (const k of v.keySets) {
      for (const c of [k.pk, ...k.kek, ...k.db]) if (c.source.kind === 'file' && !inside(c.source.path) && !shipped(c.source.path)) refuse(`names a certificate outside what it carries: ${c.source.path}`);
    }
  }
  if (config.source.kind === 'archive' && !/^https?:\/\//.test(config.source.location)) {
    refuse(`was built from a local archive (${config.source.file.name}, sha256 ${config.source.file.sha256.slice(0, 12)}…) that cannot be fetched again: only a release whose source is a URL, a Debian package or a git commit can be rebuilt`);
  }
  if (config.source.kind === 'git' && !/^(https?|ssh|git):\/\//.test(config.source.url)) refuse(`fetches git from ${config.source.url}: a rebuild fetches only https, ssh or git URLs`);
  for (const m of [config.source.kind === 'debian' ? config.source.mirror : undefined, config.builder.mirror]) {
    if (m !== undefined && !/^https?:\/\//.test(m)) refuse(`names a mirror ${m} that is not an http(s) URL`);
  }
  if (!['host', 'bridge', 'default'].includes(config.builder.network)) refuse(`asks for the builder network ${config.builder.network}: a rebuild allows host, bridge or default`);
}

export async function planInputs(inputs: ReleaseInputs, dir: string, cacheDir: string, log: Log, signal: AbortSignal, untrusted = false): Promise<PlannedInputs> {
  const config = loadConfig(await writeInputs(inputs, dir));
  if (untrusted) checkCarriedConfig(config, dir);
  const { plans } = await planRun(config, config.variants, 1, cacheDir, log, signal);
  return { config, keys: new Map(plans.map((p) => [p.variant.id, p.key])) };
}

/** The inputs of `config` and the keys they plan, read back as a rebuilder will read them. */
export async function carryInputs(config: MatrixConfig, cacheDir: string, log: Log, signal: AbortSignal): Promise<{ carried: ReleaseInputs; keys: ReadonlyMap<string, string> }> {
  const carried = await collectInputs(config);
  const dir = await mkdtemp(join(tmpdir(), `${TEMP_PREFIX}inputs-`));
  try {
    return { carried, keys: (await planInputs(carried, dir, cacheDir, log, signal)).keys };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
