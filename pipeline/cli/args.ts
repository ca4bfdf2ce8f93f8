/** `npm run matrix`'s options: declared once (see options.ts), parsed and checked before anything else happens. */
import { UsageError } from '../errors.ts';
import { parseOptions, renderHelp, type CommandSpec, type OptionSpecs, type OptionValues } from './options.ts';

export const MATRIX_OPTIONS = {
  config: { type: 'string', arg: 'FILE', default: 'matrix.yaml', help: 'matrix file (default: matrix.yaml)' },
  out: { type: 'string', arg: 'DIR', default: 'artifacts', help: 'artifacts directory (default: artifacts)' },
  'source-dir': {
    type: 'string', arg: 'DIR',
    help: 'build this edk2 working tree as it is, uncommitted changes included\n(overrides the matrix\'s source; never released)',
  },
  'export-source': {
    type: 'string', arg: 'DIR',
    help: 'write the tree the matrix builds (its source with its patches applied) to\nDIR, a new git repository with one commit, to change and build with\n--source-dir DIR; and exit',
  },
  only: { type: 'string', arg: 'IDS', help: 'build only these variants: comma-separated ids or globs (x64-*,arm-debug)' },
  list: { type: 'flag', help: 'list the variants the matrix expands into, and exit' },
  json: { type: 'flag', help: 'with --list: a JSON array (id, arch, target, features, defines, pcds, dsc)' },
  'dry-run': { type: 'flag', help: 'validate, print each variant\'s build command, and exit; touches nothing' },
  verify: { type: 'flag', help: 'after building, boot every built variant to the UEFI Shell (npm run verify)' },
  'verify-reproducible': {
    type: 'flag',
    help: 'build each variant twice from nothing and require identical files;\nnames the files and edk2 modules that differ',
  },
  'no-cache': { type: 'flag', help: 'build even when a verified result for the same inputs exists' },
  rehash: {
    type: 'flag',
    help: 'check published files by their sha256 even when their size, times and\ninode did not change since they were last checked (the default trusts those)',
  },
  'prune-cache': { type: 'flag', help: 'free cache entries, volumes and images the artifacts no longer use, and exit' },
  jobs: { type: 'count', arg: 'N', help: 'variants built at once (default: from cores and memory)' },
  threads: { type: 'count', arg: 'N', help: 'edk2 build threads (-n) per variant (default: cores / jobs)' },
  memory: { type: 'number', arg: 'GIB', unit: 'GiB', example: '4 or 2.5', help: 'memory limit of each build container, in GiB (default: from memory and jobs)' },
  timeout: { type: 'duration', default: 60 * 60_000, help: 'how long a variant may build before it is stopped: 90s, 45m, 1h30m' },
  'cache-dir': {
    type: 'string', arg: 'DIR',
    help: 'downloads, artifact cache, build logs; its own source and compiler cache\nvolumes (default: $EDK2_MATRIX_CACHE or ~/.cache/edk2-matrix)',
  },
  'keep-failed': {
    type: 'flag',
    help: 'keep the workspace of a variant whose build fails (one per variant, until\n--clean), to step into with --shell',
  },
  'clean-build': {
    type: 'flag',
    help: 'build every variant of a working tree (--source-dir) from nothing, not from\nits kept build tree; the result is kept for the next incremental build',
  },
  shell: {
    type: 'string', arg: 'ID',
    help: 'open a shell in the kept workspace of variant ID (needs a terminal): the\nbuild\'s image and mounts, edksetup.sh sourced; prints the build command',
  },
  clean: { type: 'flag', help: 'remove containers and volumes left by runs that died, and every kept\nworkspace, and exit' },
  'builder-only': {
    type: 'flag',
    help: 'make sure the builder image exists (checking packages.lock against the\narchive first), print what it is, and exit',
  },
  'update-builder-lock': {
    type: 'flag',
    help: 'build the builder with the newest packages of the archive, write every\npackage\'s version to packages.lock, show what changed, and exit',
  },
  snapshot: {
    type: 'string', arg: 'TS',
    pattern: { re: /^\d{8}T\d{6}Z$/, what: 'an archive timestamp', example: '20251120T000000Z' },
    help: 'install the builder from a dated snapshot of the Debian archive\n(e.g. 20251120T000000Z; overrides builder.snapshot; the archive\'s base\nURL comes from $EDK2_MATRIX_SNAPSHOT_ARCHIVE)',
  },
} as const satisfies OptionSpecs;

export const MATRIX_COMMAND: CommandSpec<typeof MATRIX_OPTIONS> = {
  command: 'npm run matrix',
  usage: ['[options]'],
  about: `Builds every variant of matrix.yaml (EDK2 UEFI firmware for QEMU) in pinned containers and
exports checksummed pflash images, a QEMU launch manifest and launch.sh for each.`,
  options: MATRIX_OPTIONS,
  footer: `Exit status: 0 all built, 1 a variant or stage failed, 2 bad configuration or usage,
130 interrupted.
Environment: DOCKER_HOST (engine), EDK2_MATRIX_DEBIAN_MIRROR (Debian mirror; default: the
host's apt configuration), EDK2_MATRIX_SNAPSHOT_ARCHIVE (base URL of a dated Debian archive,
for builder.snapshot), GITHUB_ACTIONS (grouped output and a step summary).`,
};

export type CliOptions = OptionValues<typeof MATRIX_OPTIONS> & { readonly help: boolean };

export const HELP = renderHelp(MATRIX_COMMAND);

export function parseCli(argv: readonly string[]): CliOptions {
  const { values, help } = parseOptions(MATRIX_COMMAND, argv);
  if (values.json && !values.list) throw new UsageError('--json only goes with --list', 'use --list --json');
  if (values.exportSource !== undefined && values.sourceDir !== undefined) {
    throw new UsageError('--export-source and --source-dir do not go together', 'export the matrix\'s source first, then build the tree with --source-dir');
  }
  return { ...values, help };
}
