/**
 * `npm run release -- <command>`: keygen, assemble, sign, verify. The GitHub workflow's jobs
 * call exactly these; nothing a release needs happens only in YAML.
 * Exit status: 0 done, 1 the release is broken (the first broken link is named), 2 bad usage.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.ts';
import { ReleaseError, UsageError } from '../errors.ts';
import { DEFAULT_TRUST_FILE, PUBLIC_KEY_FILE, SECRET_KEY_FILE } from '../layout.ts';
import { assembleRelease } from '../release/assemble.ts';
import { formatPublicKey, formatSecretKey, generateKey, keyIdHex, MinisignFormatError, parsePublicKey, parseSecretKey, type SecretKey } from '../release/minisign.ts';
import { buildRunFromEnv } from '../release/provenance.ts';
import { inputsDigest, releaseTag } from '../release/release-tag.ts';
import { releaseReader } from '../release/release-reader.ts';
import { signRelease } from '../release/sign-release.ts';
import { verifyRelease } from '../release/verify-release.ts';
import { createReporter } from '../report/create-reporter.ts';
import { loadSourceNotices } from '../source/source-notices.ts';
import { defaultCacheDir } from './matrix-command.ts';

/** The package root: where keys/release.pub is, whatever the working directory. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const KEY_ENV = 'EDK2_MATRIX_RELEASE_KEY';
export const KEY_PASSWORD_ENV = 'EDK2_MATRIX_RELEASE_KEY_PASSWORD';

export const RELEASE_HELP = `Usage: npm run release -- <command> [options]

Commands:
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
  verify DIR|URL [--trust FILE]
                        check the whole chain: key, signature, SHA256SUMS, every asset, every
                        file in every archive; names the first broken link.
                        Default trust: the project's key, ${DEFAULT_TRUST_FILE}

Options for assemble:
  --config FILE         the matrix the shards built: every variant it declares must be there;
                        its digest goes into the provenance
  --tag TAG             release tag (default: $GITHUB_REF_NAME on a tag push)
  --commit SHA          commit built (default: $GITHUB_SHA)
  --source-date-epoch N date for every timestamp (default: the variants' SOURCE_DATE_EPOCH)
  --cache-dir DIR       where the source is read (and downloaded) for its licence texts
                        (default: $EDK2_MATRIX_CACHE or ~/.cache/edk2-matrix)
Options for verify:
  --timeout SEC         give up on a server that sends nothing for this long (default: 30)
  --cache-dir DIR       where downloads are kept (default: $EDK2_MATRIX_CACHE or ~/.cache/edk2-matrix)

Exit status: 0 done, 1 a broken or unverifiable release, 2 bad usage.
`;

function usage(message: string): UsageError {
  return new UsageError(message, 'see npm run release -- --help');
}

function parse(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        from: { type: 'string', multiple: true },
        config: { type: 'string' },
        tag: { type: 'string' },
        commit: { type: 'string' },
        'source-date-epoch': { type: 'string' },
        key: { type: 'string' },
        trust: { type: 'string' },
        timeout: { type: 'string' },
        'cache-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw usage((err as Error).message.split('\n')[0]!);
  }
}

async function readSecretKey(file: string | undefined): Promise<SecretKey> {
  const text = file ? await readFile(file, 'utf8').catch(() => { throw usage(`--key ${file}: cannot read it`); }) : process.env[KEY_ENV];
  if (!text) throw usage(`no signing key: pass --key FILE or set ${KEY_ENV}`);
  try {
    return parseSecretKey(text, process.env[KEY_PASSWORD_ENV]);
  } catch (err) {
    if (err instanceof MinisignFormatError) throw usage(`${file ?? `$${KEY_ENV}`}: ${err.message}`);
    throw err;
  }
}

export async function readTrust(file: string | undefined): Promise<{ key: ReturnType<typeof parsePublicKey>; name: string }> {
  const path = file ? resolve(file) : join(PACKAGE_ROOT, DEFAULT_TRUST_FILE);
  const name = file ?? DEFAULT_TRUST_FILE;
  const text = await readFile(path, 'utf8').catch(() => {
    throw new ReleaseError('public key', `cannot read ${name}`, file ? 'pass the publisher\'s release.pub with --trust' : 'the package should carry keys/release.pub; pass --trust');
  });
  try {
    return { key: parsePublicKey(text), name };
  } catch (err) {
    if (err instanceof MinisignFormatError) throw new ReleaseError('public key', `${name}: ${err.message}`);
    throw err;
  }
}

function epochOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw usage(`--source-date-epoch ${value}: expected whole seconds since 1970`);
  return Number(value);
}

export async function releaseCommand(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const { values: v, positionals } = parse(argv);
  const [command, ...rest] = positionals;
  if (v.help || command === 'help' || command === undefined) {
    process.stdout.write(RELEASE_HELP);
    return command === undefined && !v.help ? 2 : 0;
  }
  const out = process.stdout;
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
        `public ${join(dir, PUBLIC_KEY_FILE)} (publish it; the project's is ${DEFAULT_TRUST_FILE})\n`);
      return 0;
    }
    case 'assemble': {
      // `--from a b c` (as a shell glob expands) gives a, then b and c as positionals: all are shards.
      const from = [...(v.from ?? []), ...rest];
      if (!from.length || !v.out) throw usage('assemble needs --from DIR (one per shard) and --out DIR');
      const config = v.config ? { matrix: loadConfig(v.config), shownPath: relative(process.cwd(), resolve(v.config)) || v.config } : undefined;
      const env = process.env;
      const log = createReporter();
      // Licence texts and patch series come from the source the shards were built from (assemble checks its digests).
      const notices = await loadSourceNotices((config?.matrix ?? loadConfig(join(PACKAGE_ROOT, 'matrix.yaml'))).source, resolve(v['cache-dir'] ?? defaultCacheDir()), log, signal);
      const result = await assembleRelease({
        from, out: v.out, config,
        tag: v.tag ?? (env.GITHUB_REF_TYPE === 'tag' ? env.GITHUB_REF_NAME : undefined),
        commit: v.commit ?? env.GITHUB_SHA,
        sourceDateEpoch: epochOption(v['source-date-epoch']),
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
      const timeout = v.timeout === undefined ? 30 : Number(v.timeout);
      if (!(timeout > 0)) throw usage(`--timeout ${v.timeout}: expected seconds`);
      const trust = await readTrust(v.trust);
      const reader = releaseReader(rest[0]!, { cacheDir: join(resolve(v['cache-dir'] ?? defaultCacheDir()), 'downloads', 'releases'), idleMs: timeout * 1000 });
      const r = await verifyRelease(reader, trust, { signal });
      const files = r.index.variants.reduce((n, x) => n + x.files.length, 0);
      out.write(`release ${r.index.release.tag ?? '(untagged)'} at ${reader.location}: verified\n` +
        `  signature: key ${r.keyId} (${trust.name}), trusted comment: ${r.trustedComment.replaceAll('\t', ' ')}\n` +
        `  SHA256SUMS: ${r.sums.length} assets; ${r.index.variants.length} variants, ${files} files, SBOMs and provenance agree\n`);
      return 0;
    }
    default:
      throw usage(`unknown command "${command}"`);
  }
}
