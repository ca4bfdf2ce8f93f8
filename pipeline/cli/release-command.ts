/**
 * `npm run release -- <command>`: keygen, assemble, sign, verify. The GitHub workflow's jobs
 * call exactly these; nothing a release needs happens only in YAML.
 * Exit status: 0 done, 1 the release is broken (the first broken link is named), 2 bad usage.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config/load.ts';
import { UsageError } from '../errors.ts';
import { DEFAULT_TRUST_DIR, PUBLIC_KEY_FILE, SECRET_KEY_FILE } from '../layout.ts';
import { assembleRelease } from '../release/assemble.ts';
import { carryInputs } from '../release/release-inputs.ts';
import { formatPublicKey, formatSecretKey, generateKey, keyIdHex, MinisignFormatError, parsePublicKey, parseSecretKey, type SecretKey } from '../release/minisign.ts';
import { describeKey, KEY_NAME, keyById, keyProblem, loadTrust, makeStatement, type StatementKind, type TrustStore } from '../release/trust.ts';
import { buildRunFromEnv } from '../release/provenance.ts';
import { inputsDigest, releaseTag } from '../release/release-tag.ts';
import { releaseReader } from '../release/release-reader.ts';
import { checkRebuilds } from '../release/require-rebuilds.ts';
import { signRelease } from '../release/sign-release.ts';
import { verifyRelease } from '../release/verify-release.ts';
import { createReporter } from '../report/create-reporter.ts';
import { loadSourceNotices } from '../source/source-notices.ts';
import { commandIo, type CommandContext } from './command-context.ts';
import { defaultCacheDir } from './matrix-command.ts';
import { parseOptions, renderHelp, usageError, type CommandSpec, type OptionSpecs } from './options.ts';
import { readRebuildPolicy, rebuildOptions } from './rebuild-options.ts';

/** The package root: where keys/trust is, whatever the working directory. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const KEY_ENV = 'EDK2_MATRIX_RELEASE_KEY';
export const KEY_PASSWORD_ENV = 'EDK2_MATRIX_RELEASE_KEY_PASSWORD';

const ASSEMBLE = 'Options for assemble';
const VERIFY = 'Options for verify';

export const RELEASE_OPTIONS = {
  out: { type: 'string', arg: 'DIR', help: 'keygen, assemble: the directory written' },
  key: { type: 'string', arg: 'FILE', help: `sign, rotate, revoke: the secret key (default: $${KEY_ENV})` },
  trust: {
    type: 'strings', arg: 'FILE|DIR',
    help: `verify, check-signing: a trusted public key or trust directory; repeatable\n(default: ${DEFAULT_TRUST_DIR})`,
  },
  'allow-missing': { type: 'flag', help: 'check-signing: no key set is signing=false, not an error' },
  new: { type: 'string', arg: 'PUB', help: 'rotate: the new key\'s public key file' },
  name: { type: 'string', arg: 'NAME', help: 'rotate: the new key\'s name in the trust directory (default: key-<id>)' },
  reason: { type: 'string', arg: 'TEXT', help: 'revoke: why, recorded in the signed statement' },
  'trust-dir': { type: 'string', arg: 'DIR', help: `rotate, revoke: the trust directory (default: ${DEFAULT_TRUST_DIR})` },
  'cache-dir': {
    type: 'string', arg: 'DIR',
    help: 'assemble: where the source is read (and downloaded) for its licence texts;\nverify: where downloads are kept (default: $EDK2_MATRIX_CACHE or ~/.cache/edk2-matrix)',
  },
  from: { type: 'strings', arg: 'DIR', section: ASSEMBLE, help: 'an artifacts directory (one per CI shard); repeatable, or several after one --from' },
  config: {
    type: 'string', arg: 'FILE', section: ASSEMBLE,
    help: 'the matrix the shards built: every variant it declares must be there;\nits digest goes into the provenance (tag: the matrix a nightly tag digests)',
  },
  tag: { type: 'string', arg: 'TAG', section: ASSEMBLE, help: 'release tag (default: $GITHUB_REF_NAME on a tag push)' },
  commit: { type: 'string', arg: 'SHA', section: ASSEMBLE, help: 'commit built (default: $GITHUB_SHA)' },
  'source-date-epoch': {
    type: 'string', arg: 'N', section: ASSEMBLE,
    pattern: { re: /^\d+$/, what: 'whole seconds since 1970', example: '1700000000' },
    help: 'date for every timestamp, in seconds since 1970\n(default: the variants\' SOURCE_DATE_EPOCH)',
  },
  timeout: { type: 'duration', default: 30_000, section: VERIFY, help: 'give up on a server that sends nothing for this long: 30s, 2m' },
  ...rebuildOptions(VERIFY),
} as const satisfies OptionSpecs;

export const RELEASE_COMMAND: CommandSpec<typeof RELEASE_OPTIONS> = {
  command: 'npm run release',
  usage: ['<command> [options]'],
  about: `Commands:
  keygen --out DIR      write a new signing key pair: DIR/${SECRET_KEY_FILE} (secret, mode 0600)
                        and DIR/${PUBLIC_KEY_FILE}; refuses to overwrite
  assemble --out DIR --from DIR [DIR ...] [--config FILE] [--tag TAG] [--commit SHA]
                        merge artifacts directories (one per CI shard) into one release:
                        index.json, SHA256SUMS, <id>.tar.xz, <id>.cdx.json, provenance.intoto.jsonl
  sign DIR [--key FILE] sign DIR/SHA256SUMS (writes SHA256SUMS.minisig); the secret key comes
                        from FILE or from $${KEY_ENV} (its contents, for a CI secret);
                        an encrypted key's password from $${KEY_PASSWORD_ENV}
  tag [--config FILE]   print the tag this CI run releases under: the pushed tag, or
                        nightly-<digest of the matrix, builder, pipeline and lock file>
  verify DIR|URL [--trust FILE|DIR ...] [--rebuilt-by PUB ... [--require-rebuilds N]]
                        check the whole chain: trusted key, signature and its trusted comment
                        (tag, kind, index digest), SHA256SUMS, every asset, the signed
                        provenance, every file in every archive; names the signing key, or the
                        first broken link. --trust repeats; default: ${DEFAULT_TRUST_DIR}.
                        With --rebuilt-by: also N rebuilders' signed attestations that they
                        rebuilt every archive and SBOM bit for bit (docs/downstream.md)
  check-signing [--allow-missing] [--trust FILE|DIR ...]
                        before a CI build: is $${KEY_ENV} set, and is its public half a
                        trusted, unrevoked, unexpired key of the trust store? Prints
                        signing=true (or, with --allow-missing and no key set, signing=false)
  rotate --new PUB [--name NAME] [--key FILE] [--trust-dir DIR]
                        introduce a new key: copy PUB to DIR/NAME.pub and sign it with the
                        current key (FILE or $${KEY_ENV}) into DIR/NAME.introduced-by-<old>.minisig
  revoke NAME [--reason TEXT] [--key FILE] [--trust-dir DIR]
                        revoke DIR/NAME.pub with a trusted key: DIR/NAME.revoked-by-<signer>.minisig
                        (DIR: default ${DEFAULT_TRUST_DIR})`,
  options: RELEASE_OPTIONS,
  positionals: true,
  footer: 'Exit status: 0 done, 1 a broken or unverifiable release, 2 bad usage.',
};

export const RELEASE_HELP = renderHelp(RELEASE_COMMAND);

function usage(message: string): UsageError {
  return usageError(RELEASE_COMMAND, message);
}

async function readSecretKey(file: string | undefined): Promise<SecretKey> {
  const key = await optionalSecretKey(file, KEY_ENV, usage);
  if (!key) throw usage(`no signing key: pass --key FILE or set ${KEY_ENV}`);
  return key;
}

/**
 * A secret key from `--key FILE`, else from the environment variable `env` (its contents, for
 * a CI secret); undefined when neither gives one. An encrypted key's password comes from
 * $EDK2_MATRIX_RELEASE_KEY_PASSWORD. Bad keys are usage errors of the calling command.
 */
export async function optionalSecretKey(file: string | undefined, env: string, bad: (message: string) => UsageError): Promise<SecretKey | undefined> {
  const text = file ? await readFile(file, 'utf8').catch(() => { throw bad(`--key ${file}: cannot read it`); }) : process.env[env];
  if (file && !text?.trim()) throw bad(`--key ${file}: the file is empty`);
  if (!text?.trim()) return undefined;
  try {
    return parseSecretKey(text, process.env[KEY_PASSWORD_ENV]);
  } catch (err) {
    if (err instanceof MinisignFormatError) throw bad(`${file ?? `$${env}`}: ${err.message}`);
    throw err;
  }
}

/** The trust store of `--trust` (repeatable: files and directories), or the repository's. */
export async function readTrust(given: readonly string[] | undefined): Promise<TrustStore> {
  const sources = given?.length ? given.map((t) => ({ path: resolve(t), shown: t })) : [{ path: join(PACKAGE_ROOT, DEFAULT_TRUST_DIR), shown: DEFAULT_TRUST_DIR }];
  return loadTrust(sources);
}

const SETUP = `run \`npm run release -- keygen --out DIR\`, store DIR/${SECRET_KEY_FILE} as the secret ${KEY_ENV} of the GitHub environment \`release\` and commit DIR/${PUBLIC_KEY_FILE} as ${DEFAULT_TRUST_DIR}/<name>.pub`;

/** check-signing: the one line to print, and the exit status. */
export async function checkSigning(env: NodeJS.ProcessEnv, trustGiven: readonly string[] | undefined, allowMissing: boolean, now: number): Promise<{ code: number; line: string }> {
  const text = env[KEY_ENV];
  if (!text?.trim()) return allowMissing ? { code: 0, line: 'signing=false' } : { code: 2, line: `no signing key in $${KEY_ENV}: ${SETUP}` };
  let key: SecretKey;
  try {
    key = parseSecretKey(text, env[KEY_PASSWORD_ENV]);
  } catch (err) {
    if (!(err instanceof MinisignFormatError)) throw err;
    return { code: 2, line: `$${KEY_ENV} is not a usable minisign secret key (${err.message}): ${SETUP}` };
  }
  const store = await readTrust(trustGiven);
  const shown = store.sources.join(', ');
  const trusted = keyById(store, key.keyId);
  if (!trusted) return { code: 2, line: `the signing key ${keyIdHex(key.keyId)} in $${KEY_ENV} is not in ${shown}: commit its public key as ${DEFAULT_TRUST_DIR}/<name>.pub (npm run release -- keygen wrote it beside the secret)` };
  const problem = keyProblem(trusted, now, now);
  if (problem) return { code: 2, line: `${problem}: make a new key, introduce it with npm run release -- rotate, and replace the secret ${KEY_ENV}` };
  return { code: 0, line: 'signing=true' };
}

/** rotate/revoke: the statement about `subject`, signed by the current key, written into the trust directory. */
async function writeStatement(kind: StatementKind, dir: string, subject: { name: string; text: string }, key: SecretKey, reason: string | undefined): Promise<string> {
  const store = await loadTrust([{ path: dir, shown: dir }]);
  const signer = keyById(store, key.keyId);
  if (!signer) throw usage(`the signing key ${keyIdHex(key.keyId)} is not a key of ${dir}: a statement must be signed by a key it trusts`);
  const problem = keyProblem(signer, Math.floor(Date.now() / 1000), Math.floor(Date.now() / 1000));
  if (problem) throw usage(`${problem}: it cannot sign a statement`);
  const st = makeStatement(kind, { name: signer.name, key }, subject, Math.floor(Date.now() / 1000), reason);
  const path = join(dir, st.file);
  if (existsSync(path)) throw usage(`${path} exists`);
  await writeFile(path, st.text, { mode: 0o644, flag: 'wx' });
  return `${path} (signed by ${describeKey(signer)})`;
}

export async function releaseCommand(argv: readonly string[], signal: AbortSignal, ctx: CommandContext = {}): Promise<number> {
  const { values: v, positionals, help } = parseOptions(RELEASE_COMMAND, argv);
  const { stdout: out, stderr } = commandIo(ctx);
  const [command, ...rest] = positionals;
  if (help || command === 'help' || command === undefined) {
    out.write(RELEASE_HELP);
    return command === undefined && !help ? 2 : 0;
  }
  switch (command) {
    case 'keygen': {
      if (!v.out) throw usage('keygen needs --out DIR');
      const dir = resolve(v.out);
      for (const f of [SECRET_KEY_FILE, PUBLIC_KEY_FILE]) if (existsSync(join(dir, f))) throw usage(`${join(dir, f)} exists; keygen never overwrites a key`);
      const key = generateKey();
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, SECRET_KEY_FILE), formatSecretKey(key), { mode: 0o600, flag: 'wx' });
      await writeFile(join(dir, PUBLIC_KEY_FILE), formatPublicKey(key), { mode: 0o644, flag: 'wx' });
      out.write(`key ${keyIdHex(key.keyId)}: secret ${join(dir, SECRET_KEY_FILE)} (keep it secret; CI reads it from $${KEY_ENV}), ` +
        `public ${join(dir, PUBLIC_KEY_FILE)} (commit it as ${DEFAULT_TRUST_DIR}/<name>.pub, or introduce it with rotate)\n`);
      return 0;
    }
    case 'assemble': {
      // `--from a b c` (as a shell glob expands) gives a, then b and c as positionals: all are shards.
      const from = [...v.from, ...rest];
      if (!from.length || !v.out) throw usage('assemble needs --from DIR (one per shard) and --out DIR');
      const config = v.config ? { matrix: loadConfig(v.config), shownPath: relative(process.cwd(), resolve(v.config)) || v.config } : undefined;
      const env = process.env;
      const log = createReporter(stderr);
      // Licence texts and patch series come from the source the shards were built from (assemble checks its digests).
      const cacheDir = resolve(v.cacheDir ?? defaultCacheDir());
      const notices = await loadSourceNotices((config?.matrix ?? loadConfig(join(PACKAGE_ROOT, 'matrix.yaml'))).source, cacheDir, log, signal);
      // The matrix and its files travel in the release (for `npm run rebuild`), checked to plan the shards' keys.
      const inputs = config ? await carryInputs(config.matrix, cacheDir, log, signal) : undefined;
      const result = await assembleRelease({
        from, out: v.out, config, inputs,
        tag: v.tag ?? (env.GITHUB_REF_TYPE === 'tag' ? env.GITHUB_REF_NAME : undefined),
        commit: v.commit ?? env.GITHUB_SHA,
        sourceDateEpoch: v.sourceDateEpoch === undefined ? undefined : Number(v.sourceDateEpoch),
        run: buildRunFromEnv(), notices, log,
      });
      out.write(`release ${result.index.release.tag ?? '(untagged)'}: ${result.index.variants.length} variants in ${result.dir}\n`);
      for (const a of result.assets) out.write(`  ${String(a.size).padStart(12)}  ${a.name}\n`);
      return 0;
    }
    case 'sign': {
      if (rest.length !== 1) throw usage('sign takes one release directory');
      const r = await signRelease(resolve(rest[0]!), await readSecretKey(v.key));
      out.write(`${r.already ? 'already signed' : 'signed'} with key ${r.keyId} (trusted comment: ${r.trustedComment.replaceAll('\t', ' ')})\n`);
      return 0;
    }
    case 'tag': {
      const config = resolve(v.config ?? join(PACKAGE_ROOT, 'matrix.yaml'));
      out.write(`${releaseTag(process.env, await inputsDigest(PACKAGE_ROOT, config))}\n`);
      return 0;
    }
    case 'verify': {
      if (rest.length !== 1) throw usage('verify takes one release directory or URL');
      const http = { cacheDir: join(resolve(v.cacheDir ?? defaultCacheDir()), 'downloads', 'releases'), idleMs: v.timeout };
      const rebuilds = await readRebuildPolicy(v, usage, http);
      const trust = await readTrust(v.trust);
      const reader = releaseReader(rest[0]!, http);
      const r = await verifyRelease(reader, trust, { signal });
      const report = rebuilds && await checkRebuilds(rebuilds, { reader, sumsSha256: r.sumsSha256, location: reader.location }, r.index.assets, signal);
      const files = r.index.variants.reduce((n, x) => n + x.files.length, 0);
      const when = new Date(r.signed!.signedAt * 1000).toISOString();
      out.write(`${r.signed!.kind} ${r.index.release.tag ?? '(untagged)'} at ${reader.location}: verified\n` +
        `  signed by key ${describeKey(r.signer!)} of ${r.signer!.source}${r.signer!.introducedBy ? ` (introduced by ${r.signer!.introducedBy})` : ''} on ${when}\n` +
        `  SHA256SUMS: ${r.sums.length} assets; ${r.index.variants.length} variants, ${files} files, SBOMs and provenance agree\n` +
        (report?.lines.map((l) => `  ${l}\n`).join('') ?? ''));
      if (report?.warnings.length) {
        const log = createReporter(stderr);
        for (const w of report.warnings) log.warn(w);
      }
      return 0;
    }
    case 'check-signing': {
      if (rest.length) throw usage('check-signing takes no arguments');
      const r = await checkSigning(process.env, v.trust, v.allowMissing, Math.floor(Date.now() / 1000));
      (r.code === 0 ? out : stderr).write(r.code === 0 ? `${r.line}\n` : `edk2-matrix: ${r.line}\n`);
      return r.code;
    }
    case 'rotate': {
      if (rest.length || !v.new) throw usage('rotate needs --new PUB (the new key\'s public key file)');
      const dir = resolve(v.trustDir ?? join(PACKAGE_ROOT, DEFAULT_TRUST_DIR));
      const text = await readFile(v.new, 'utf8').catch(() => { throw usage(`--new ${v.new}: cannot read it`); });
      let newKey;
      try {
        newKey = parsePublicKey(text);
      } catch (err) {
        if (err instanceof MinisignFormatError) throw usage(`--new ${v.new}: ${err.message}`);
        throw err;
      }
      const name = v.name ?? `key-${keyIdHex(newKey.keyId).toLowerCase()}`;
      if (!KEY_NAME.test(name)) throw usage(`--name ${name}: letters, digits, - and _ only`);
      const pub = join(dir, `${name}.pub`);
      const present = await readFile(pub, 'utf8').catch(() => undefined);
      if (present !== undefined && present !== text) throw usage(`${pub} exists and holds another key`);
      const statement = await writeStatement('introduce', dir, { name, text }, await readSecretKey(v.key), undefined);
      if (present === undefined) await writeFile(pub, text, { mode: 0o644, flag: 'wx' });
      out.write(`introduced key ${name} (${keyIdHex(newKey.keyId)}): ${pub}, ${statement}; commit both, then replace the secret ${KEY_ENV}\n`);
      return 0;
    }
    case 'revoke': {
      if (rest.length !== 1 || !KEY_NAME.test(rest[0]!)) throw usage('revoke takes the name of one key of the trust directory');
      const dir = resolve(v.trustDir ?? join(PACKAGE_ROOT, DEFAULT_TRUST_DIR));
      const name = rest[0]!;
      const text = await readFile(join(dir, `${name}.pub`), 'utf8').catch(() => { throw usage(`${join(dir, `${name}.pub`)}: no such key`); });
      const statement = await writeStatement('revoke', dir, { name, text }, await readSecretKey(v.key), v.reason);
      out.write(`revoked key ${name}: ${statement}; commit it\n`);
      return 0;
    }
    default:
      throw usage(`unknown command "${command}"`);
  }
}
