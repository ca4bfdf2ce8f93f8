/** Command-line options: parsed and checked before anything else happens. */
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.ts';

export interface CliOptions {
  readonly config: string;
  readonly out: string;
  readonly cacheDir: string | undefined;
  readonly only: string | undefined;
  readonly list: boolean;
  readonly json: boolean;
  readonly dryRun: boolean;
  readonly clean: boolean;
  readonly pruneCache: boolean;
  readonly noCache: boolean;
  readonly verify: boolean;
  readonly verifyReproducible: boolean;
  readonly memoryGiB: number | undefined;
  readonly help: boolean;
  readonly jobs: number | undefined;
  readonly threads: number | undefined;
  readonly timeoutMinutes: number;
  /** Install the builder from this dated archive snapshot (overrides builder.snapshot). */
  readonly snapshot: string | undefined;
  readonly updateBuilderLock: boolean;
  readonly builderOnly: boolean;
  readonly rehash: boolean;
}

export const HELP = `Usage: npm run matrix -- [options]

Builds every variant of matrix.yaml (EDK2 UEFI firmware for QEMU) in pinned containers and
exports checksummed pflash images, a QEMU launch manifest and launch.sh for each.

Options:
  --config FILE      matrix file (default: matrix.yaml)
  --out DIR          artifacts directory (default: artifacts)
  --only IDS         build only these variants: comma-separated ids or globs (x64-*,arm-debug)
  --list             list the variants the matrix expands into, and exit
  --json             with --list: a JSON array (id, arch, target, features, defines, pcds, dsc)
  --dry-run          validate, print each variant's build command, and exit; touches nothing
  --verify           after building, boot every built variant to the UEFI Shell (npm run verify)
  --verify-reproducible
                     build each variant twice from nothing and require identical files;
                     names the files and edk2 modules that differ
  --no-cache         build even when a verified result for the same inputs exists
  --rehash           check published files by their sha256 even when their size, times and
                     inode did not change since they were last checked (the default trusts those)
  --prune-cache      free cache entries, volumes and images the artifacts no longer use, and exit
  --jobs N           variants built at once (default: from cores and memory)
  --threads N        edk2 build threads (-n) per variant (default: cores / jobs)
  --memory GIB       memory limit of each build container (default: from memory and jobs)
  --timeout MIN      minutes a variant may build before it is stopped (default: 60; 0.5 is fine)
  --cache-dir DIR    downloads, artifact cache, build logs; its own source and compiler cache
                     volumes (default: $EDK2_MATRIX_CACHE or ~/.cache/edk2-matrix)
  --clean            remove containers and volumes left by runs that died, and exit
  --builder-only     make sure the builder image exists (checking packages.lock against the
                     archive first), print what it is, and exit
  --update-builder-lock
                     build the builder with the newest packages of the archive, write every
                     package's version to packages.lock, show what changed, and exit
  --snapshot TS      install the builder from a dated snapshot of the Debian archive
                     (e.g. 20251120T000000Z; overrides builder.snapshot; the archive's base
                     URL comes from $EDK2_MATRIX_SNAPSHOT_ARCHIVE)
  -h, --help         this help

Exit status: 0 all built, 1 a variant or stage failed, 2 bad configuration or usage,
130 interrupted.
Environment: DOCKER_HOST (engine), EDK2_MATRIX_DEBIAN_MIRROR (Debian mirror; default: the
host's apt configuration), EDK2_MATRIX_SNAPSHOT_ARCHIVE (base URL of a dated Debian archive,
for builder.snapshot), GITHUB_ACTIONS (grouped output and a step summary).
`;

function positiveNumber(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} ${value}: expected a positive number`);
  return n;
}

export function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} ${value}: expected a whole number of at least 1`);
  return n;
}

function snapshotOption(value: string | undefined): string | undefined {
  if (value !== undefined && !/^\d{8}T\d{6}Z$/.test(value)) throw new UsageError(`--snapshot ${value}: expected a timestamp like 20251120T000000Z`);
  return value;
}

export function parseCli(argv: readonly string[]): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string', default: 'matrix.yaml' },
        out: { type: 'string', default: 'artifacts' },
        'cache-dir': { type: 'string' },
        only: { type: 'string' },
        list: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        clean: { type: 'boolean', default: false },
        'prune-cache': { type: 'boolean', default: false },
        'no-cache': { type: 'boolean', default: false },
        verify: { type: 'boolean', default: false },
        'verify-reproducible': { type: 'boolean', default: false },
        memory: { type: 'string' },
        jobs: { type: 'string' },
        threads: { type: 'string' },
        timeout: { type: 'string' },
        snapshot: { type: 'string' },
        'update-builder-lock': { type: 'boolean', default: false },
        'builder-only': { type: 'boolean', default: false },
        rehash: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!, 'see npm run matrix -- --help');
  }
  const v = parsed.values;
  if (v.json && !v.list) throw new UsageError('--json only goes with --list', 'use --list --json');
  return {
    config: v.config!,
    out: v.out!,
    cacheDir: v['cache-dir'],
    only: v.only,
    list: v.list!,
    json: v.json!,
    dryRun: v['dry-run']!,
    clean: v.clean!,
    pruneCache: v['prune-cache']!,
    noCache: v['no-cache']!,
    verify: v.verify!,
    verifyReproducible: v['verify-reproducible']!,
    memoryGiB: positiveNumber('memory', v.memory),
    help: v.help!,
    jobs: positiveInt('jobs', v.jobs),
    threads: positiveInt('threads', v.threads),
    timeoutMinutes: positiveNumber('timeout', v.timeout) ?? 60,
    snapshot: snapshotOption(v.snapshot),
    updateBuilderLock: v['update-builder-lock']!,
    builderOnly: v['builder-only']!,
    rehash: v.rehash!,
  };
}
