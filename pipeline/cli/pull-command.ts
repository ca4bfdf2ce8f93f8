/**
 * `npm run pull -- <release URL or directory>`: fetches a release, verifies the whole chain
 * before touching the destination, installs atomically, and puts each variant's QEMU firmware
 * descriptor where QEMU and libvirt look. `--check` re-hashes an install; `uninstall` removes
 * exactly what the receipt lists.
 * Exit status: 0 done (or no drift), 1 a broken release or drift, 2 bad usage, 130 interrupted.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { selectVariants } from '../config/select.ts';
import { UsageError } from '../errors.ts';
import { checkInstall } from '../pull/check-install.ts';
import { atDestination } from '../pull/destination.ts';
import { installRelease } from '../pull/install.ts';
import { installPaths, onDisk } from '../pull/install-paths.ts';
import { readReceipt, receiptPath } from '../pull/receipt.ts';
import { checkExpectedTag, checkNoDowngrade } from '../pull/rollback.ts';
import { uninstall } from '../pull/uninstall.ts';
import { releaseReader } from '../release/release-reader.ts';
import { verifyRelease } from '../release/verify-release.ts';
import { createReporter } from '../report/create-reporter.ts';
import { defaultCacheDir } from './matrix-command.ts';
import { readTrust } from './release-command.ts';

export const PULL_HELP = `Usage: npm run pull -- <release URL or directory> [options]
       npm run pull -- --check [options]
       npm run pull -- uninstall [options]

Fetches a release (any static HTTP server, e.g. a GitHub release's download URL, or a
directory), verifies key → signature → SHA256SUMS → every asset → every file before it touches
the destination, installs the firmware atomically and its QEMU firmware descriptors where QEMU
and libvirt look for them. A receipt lists what was installed; --check re-hashes it, uninstall
removes exactly it.

Where (see README, "Downstream"):
  (root, default)       files in /usr/local/share/edk2-matrix, descriptors in /etc/qemu/firmware
  --user                files in $XDG_DATA_HOME/edk2-matrix, descriptors in $XDG_CONFIG_HOME/qemu/firmware
                        (the default when not root)
  --destdir DIR         a package build: everything under DIR, files in <prefix>/share/edk2-matrix,
                        descriptors in <prefix>/share/qemu/firmware, paths recorded without DIR
  --prefix DIR          /usr/local for a system install, /usr with --destdir

Options:
  --only IDS            only these variants: comma-separated ids or globs (x64-*)
  --trust FILE|DIR      a publisher's public key or trust directory; repeatable
                        (default: this project's trust store, keys/trust)
  --expect-tag TAG      refuse any release but TAG (checked against the signed trusted comment)
  --allow-downgrade     install even a release signed before the one installed for a variant
  --prefer              number the descriptors ahead of the distribution's (20, 30 instead of
                        80, 90), so that libvirt picks ours for domains that do not name a loader
  --dry-run             fetch and verify, print what would be installed, change nothing
  --timeout SEC         give up on a server that sends nothing for this long (default: 30)
  --cache-dir DIR       where downloads are kept (default: $EDK2_MATRIX_CACHE or ~/.cache/edk2-matrix)
  -h, --help            this help

One pull (install, --check, uninstall) at a time per destination: another waits for it up to
5 minutes, then refuses naming its pid. An install killed at any point (even SIGKILL) is
completed or undone by the next pull, --check or uninstall there, which says so.

Exit status: 0 done, 1 a broken release (the first broken link is named), drift found, a
receipt that cannot be read, or files uninstall could not remove (each is named), 2 bad usage,
130 interrupted. Whatever fails, the destination stays exactly as it was.
`;

function usage(message: string): UsageError {
  return new UsageError(message, 'see npm run pull -- --help');
}

export async function pullCommand(argv: readonly string[], signal: AbortSignal): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: {
        only: { type: 'string' },
        trust: { type: 'string', multiple: true },
        'expect-tag': { type: 'string' },
        'allow-downgrade': { type: 'boolean', default: false },
        destdir: { type: 'string' },
        prefix: { type: 'string' },
        user: { type: 'boolean', default: false },
        prefer: { type: 'boolean', default: false },
        check: { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        timeout: { type: 'string' },
        'cache-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw usage((err as Error).message.split('\n')[0]!);
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    process.stdout.write(PULL_HELP);
    return 0;
  }
  const paths = installPaths({ user: v.user!, destdir: v.destdir, prefix: v.prefix });
  const out = process.stdout;
  const log = createReporter();

  if (v.check || positionals[0] === 'uninstall') {
    if (v.check && positionals.length) throw usage('--check takes no release');
    if (!v.check && positionals.length !== 1) throw usage('uninstall takes no release');
    return atDestination(paths, { log, signal }, async (lock) => {
      const receipt = await readReceipt(paths);
      if (!receipt.variants.length) throw usage(`nothing was installed here: no receipt at ${receiptPath(paths)}`);
      const ids = v.only === undefined ? receipt.variants.map((x) => x.id) : selectVariants(receipt.variants, v.only).map((x) => x.id);
      if (v.check) {
        const drift = await checkInstall(paths, { ...receipt, variants: receipt.variants.filter((x) => ids.includes(x.id)) });
        for (const d of drift) out.write(`drift: ${d}\n`);
        out.write(`${ids.length} variant(s) checked in ${onDisk(paths, paths.dataDir)}: ${drift.length ? `${drift.length} problem(s)` : 'as installed'}\n`);
        return drift.length ? 1 : 0;
      }
      const done = await uninstall(paths, receipt, ids, log);
      lock.removeIfEmpty(done.emptyDirs);
      for (const f of done.failed) process.stderr.write(`edk2-matrix: could not remove ${f.path} (${f.reason})\n`);
      if (done.removed.length) out.write(`removed ${done.removed.join(', ')} from ${onDisk(paths, paths.dataDir)} and their descriptors from ${onDisk(paths, paths.descriptorDir)}\n`);
      if (!done.failed.length) return 0;
      out.write(`${done.failed.length} path(s) could not be removed; what they belong to stays in the receipt: fix the cause and run uninstall again\n`);
      return 1;
    });
  }

  if (positionals.length !== 1) throw usage('give one release URL or directory');
  const location = /^https?:\/\//.test(positionals[0]!) ? positionals[0]! : resolve(positionals[0]!);
  const timeout = v.timeout === undefined ? 30 : Number(v.timeout);
  if (!(timeout > 0)) throw usage(`--timeout ${v.timeout}: expected seconds`);
  const trust = await readTrust(v.trust);
  const reader = releaseReader(location, { cacheDir: join(resolve(v['cache-dir'] ?? defaultCacheDir()), 'downloads', 'releases'), idleMs: timeout * 1000 });

  // The signed index names the variants; --only is checked against it before any archive is fetched.
  const head = await verifyRelease(reader, trust, { only: new Set(), signal });
  const ids = selectVariants(head.index.variants, v.only).map((x) => x.id);
  checkExpectedTag(v['expect-tag'], head.signed!);
  checkNoDowngrade((await readReceipt(paths)).variants, ids, head.signed!, v['allow-downgrade']!);
  const release = await verifyRelease(reader, trust, { only: new Set(ids), signal });
  log.info(`release ${release.index.release.tag ?? '(untagged)'} verified: key ${release.keyId}, ${ids.length} variant(s): ${ids.join(', ')}`);
  if (v['dry-run']) {
    out.write(`would install ${ids.join(', ')} into ${onDisk(paths, paths.dataDir)}, descriptors into ${onDisk(paths, paths.descriptorDir)}\n`);
    return 0;
  }
  const receipt = await atDestination(paths, { log, signal }, async (lock) => {
    // Again under the lock: another pull may have installed a newer release meanwhile.
    checkNoDowngrade((await readReceipt(paths)).variants, ids, head.signed!, v['allow-downgrade']!);
    return installRelease({ paths, release, location, ids, prefer: v.prefer!, log, signal, made: lock.made });
  });
  for (const x of receipt.variants.filter((r) => ids.includes(r.id))) {
    out.write(`${x.id}: ${onDisk(paths, x.dir)} (descriptor${x.descriptors.length > 1 ? 's' : ''} ${x.descriptors.map((d) => onDisk(paths, d.path)).join(', ')})\n`);
  }
  out.write(`installed ${ids.length} variant(s) from ${location}; receipt ${receiptPath(paths)}\n`);
  return 0;
}
