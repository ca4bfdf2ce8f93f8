/**
 * `npm run rebuild -- <release URL or directory>`: builds a published release again from what
 * the release records, compares every file and asset byte for byte, prints a table and writes
 * a signed verification summary (rebuild/rebuild-release.ts).
 * Exit status: 0 everything asked for is identical, 1 something differs or did not build (or
 * the release is broken), 2 bad usage, 130 interrupted.
 */
import { availableParallelism, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import type { SecretKey } from '../release/minisign.ts';
import { releaseReader } from '../release/release-reader.ts';
import { rebuildRelease, signStatement } from '../rebuild/rebuild-release.ts';
import { rebuildTable } from '../rebuild/rebuild-table.ts';
import { schedule } from '../queue/schedule.ts';
import { createReporter } from '../report/create-reporter.ts';
import { commandIo, type CommandContext } from './command-context.ts';
import { defaultCacheDir } from './matrix-command.ts';
import { parseOptions, renderHelp, usageError, type CommandSpec, type OptionSpecs } from './options.ts';
import { optionalSecretKey, readTrust } from './release-command.ts';

export const REBUILDER_KEY_ENV = 'EDK2_MATRIX_REBUILDER_KEY';

export const REBUILD_OPTIONS = {
  only: { type: 'string', arg: 'IDS', help: 'only these variants of the release: comma-separated ids or globs (x64-*)' },
  trust: {
    type: 'strings', arg: 'FILE|DIR',
    help: 'the publisher\'s public key or trust directory; repeatable\n(default: this project\'s trust store, keys/trust)',
  },
  out: { type: 'string', arg: 'DIR', help: 'a new directory for the inputs, the rebuilt artifacts and assets and\nthe attestation (default: rebuild-<tag>)' },
  key: { type: 'string', arg: 'FILE', help: `the rebuilder's secret key (release keygen makes one) to sign the\nattestation (default: $${REBUILDER_KEY_ENV}; none: no attestation)` },
  'resource-uri': { type: 'string', arg: 'URI', help: 'the release, as the attestation names it (default: the location given;\nCI passes the release page when it rebuilt a downloaded copy)' },
  'verifier-id': { type: 'string', arg: 'URI', help: 'who rebuilt, as the attestation names it\n(default: urn:edk2-matrix:rebuilder:<key id>)' },
  'cache-dir': {
    type: 'string', arg: 'DIR',
    help: 'build in this cache directory (never its artifacts: every variant is built)\n(default: a fresh one, removed at the end)',
  },
  sign: {
    type: 'string', arg: 'DIR',
    help: 'sign the statement an earlier rebuild left in DIR (its --out) with --key and\nbuild nothing: the CI job that holds the key runs only this',
  },
  'compare-with': {
    type: 'string', arg: 'DIR',
    help: 'compare with the artifacts of an earlier rebuild of the same inputs (its --out)\ninstead of building again: a re-uploaded or mirrored copy of a release',
  },
  jobs: { type: 'count', arg: 'N', help: 'variants built at once (default: from cores and memory)' },
  threads: { type: 'count', arg: 'N', help: 'edk2 build threads (-n) per variant (default: cores / jobs)' },
  timeout: { type: 'duration', default: 60 * 60_000, help: 'how long a variant may build before it is stopped: 90s, 45m, 1h30m' },
} as const satisfies OptionSpecs;

export const REBUILD_COMMAND: CommandSpec<typeof REBUILD_OPTIONS> = {
  command: 'npm run rebuild',
  usage: ['<release URL or directory> [options]'],
  about: `Builds a published release again from the release alone and compares it, bit for bit.
Verifies the release (key → signature → SHA256SUMS → assets) first, writes back the matrix,
builder context, patches and certificates it carries, builds each variant from nothing in a
cache directory of its own, assembles its archive and SBOM as the release did, and compares
every file and asset. A firmware image that differs is opened: the table names the edk2
modules whose binaries differ. With a key, it writes a signed attestation (an SLSA
verification summary in a DSSE envelope) that pull and release verify accept with
--rebuilt-by: see docs/rebuild.md.`,
  options: REBUILD_OPTIONS,
  positionals: true,
  footer: `Exit status: 0 every variant asked for is identical, 1 something differs or did not
build (or the release is broken: the first broken link is named), 2 bad usage, 130 interrupted.`,
};

export const REBUILD_HELP = renderHelp(REBUILD_COMMAND);

function usage(message: string): UsageError {
  return usageError(REBUILD_COMMAND, message);
}

function rebuilderKey(file: string | undefined): Promise<SecretKey | undefined> {
  return optionalSecretKey(file, REBUILDER_KEY_ENV, usage);
}

export async function rebuildCommand(argv: readonly string[], signal: AbortSignal, ctx: CommandContext = {}): Promise<number> {
  const { values: v, positionals, help } = parseOptions(REBUILD_COMMAND, argv);
  const { stdout, stderr, engine } = commandIo(ctx);
  if (help) {
    stdout.write(REBUILD_HELP);
    return 0;
  }
  if (v.sign) {
    if (positionals.length) throw usage('--sign takes no release');
    const key = await rebuilderKey(v.key);
    if (!key) throw usage(`--sign needs a key: --key FILE or $${REBUILDER_KEY_ENV}`);
    stdout.write(`attestation: ${await signStatement(resolve(v.sign), key)}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw usage('give one release URL or directory');
  const location = /^https?:\/\//.test(positionals[0]!) ? positionals[0]! : resolve(positionals[0]!);
  const key = await rebuilderKey(v.key);
  const trust = await readTrust(v.trust);
  const reporter = createReporter(stderr);
  const reader = releaseReader(location, { cacheDir: join(resolve(defaultCacheDir()), 'downloads', 'releases'), idleMs: 30_000 });
  const plan = (variants: number) => schedule({ cores: availableParallelism(), memoryBytes: totalmem(), variants, jobs: v.jobs, threads: v.threads, buildMemoryBytes: undefined });
  const report = await rebuildRelease(engine(), {
    reader, trust, only: v.only, out: v.out,
    cacheDir: v.cacheDir, key, verifierId: v.verifierId, resourceUri: v.resourceUri, compareWith: v.compareWith, downloadsFrom: resolve(defaultCacheDir()), schedule: plan, timeoutMs: v.timeout,
  }, reporter, signal);
  stdout.write(rebuildTable(report));
  if (!key) stderr.write(`no --key (nor $${REBUILDER_KEY_ENV}): the verdict is in ${join(report.out, 'statement.json')}, unsigned (sign it with --sign)\n`);
  return report.passed ? 0 : 1;
}
