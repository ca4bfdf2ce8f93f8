/**
 * `npm run pull -- <release URL or directory>`: fetches a release, verifies the whole chain
 * before touching the destination, installs atomically, and puts each variant's QEMU firmware
 * descriptor where QEMU and libvirt look. `--check` re-hashes an install; `uninstall` removes
 * exactly what the receipt lists.
 * Exit status: 0 done (or no drift), 1 a broken release or drift, 2 bad usage, 130 interrupted.
 */
import { join, resolve } from 'node:path';
import { selectVariants } from '../config/select.ts';
import { UsageError } from '../errors.ts';
import { checkInstall } from '../pull/check-install.ts';
import { atDestination } from '../pull/destination.ts';
import { installDebianLayout, selectDebianFiles } from '../pull/debian-install.ts';
import { DEBIAN_VARIANTS } from '../pull/debian-layout.ts';
import { installRelease } from '../pull/install.ts';
import { installPaths, onDisk } from '../pull/install-paths.ts';
import { readReceipt, receiptPath } from '../pull/receipt.ts';
import { checkExpectedTag, checkNoDowngrade } from '../pull/rollback.ts';
import { uninstall } from '../pull/uninstall.ts';
import { releaseReader } from '../release/release-reader.ts';
import { checkRebuilds } from '../release/require-rebuilds.ts';
import { verifyRelease } from '../release/verify-release.ts';
import { createReporter } from '../report/create-reporter.ts';
import { defaultCacheDir } from './matrix-command.ts';
import { commandIo, type CommandContext } from './command-context.ts';
import { parseOptions, renderHelp, usageError, type CommandSpec, type OptionSpecs } from './options.ts';
import { readRebuildPolicy, rebuildOptions } from './rebuild-options.ts';
import { readTrust } from './release-command.ts';

const WHERE = 'Where (see docs/downstream.md)';

export const PULL_OPTIONS = {
  user: {
    type: 'flag', section: WHERE,
    help: 'files in $XDG_DATA_HOME/edk2-matrix, descriptors in\n$XDG_CONFIG_HOME/qemu/firmware (the default when not root)',
  },
  destdir: {
    type: 'string', arg: 'DIR', section: WHERE,
    help: 'a package build: everything under DIR, files in <prefix>/share/edk2-matrix,\ndescriptors in <prefix>/share/qemu/firmware, paths recorded without DIR',
  },
  prefix: { type: 'string', arg: 'DIR', section: WHERE, help: '/usr/local for a system install, /usr with --destdir' },
  layout: {
    type: 'string', arg: 'NAME', section: WHERE, choices: ['debian'],
    help: '\'debian\' (with --destdir): Debian\'s own paths and names, as its packages ovmf,\novmf-ia32, qemu-efi-aarch64 and qemu-efi-arm ship them, from a release of distro.yaml',
  },
  only: { type: 'string', arg: 'IDS', help: 'only these variants: comma-separated ids or globs (x64-*)' },
  trust: {
    type: 'strings', arg: 'FILE|DIR',
    help: 'a publisher\'s public key or trust directory; repeatable\n(default: this project\'s trust store, keys/trust)',
  },
  'expect-tag': { type: 'string', arg: 'TAG', help: 'refuse any release but TAG (checked against the signed trusted comment)' },
  'allow-downgrade': { type: 'flag', help: 'install even a release signed before the one installed for a variant' },
  prefer: {
    type: 'flag',
    help: 'number the descriptors ahead of the distribution\'s (20, 30 instead of\n80, 90), so that libvirt picks ours for domains that do not name a loader',
  },
  check: { type: 'flag', help: 're-hash what the receipt lists and report any drift; installs nothing' },
  'dry-run': { type: 'flag', help: 'fetch and verify, print what would be installed, change nothing' },
  timeout: { type: 'duration', default: 30_000, help: 'give up on a server that sends nothing for this long: 30s, 2m' },
  'cache-dir': { type: 'string', arg: 'DIR', help: 'where downloads are kept (default: $EDK2_MATRIX_CACHE or ~/.cache/edk2-matrix)' },
  ...rebuildOptions('Independent rebuilds (see docs/downstream.md)'),
} as const satisfies OptionSpecs;

export const PULL_COMMAND: CommandSpec<typeof PULL_OPTIONS> = {
  command: 'npm run pull',
  usage: ['<release URL or directory> [options]', '--check [options]', 'uninstall [options]'],
  about: `Fetches a release (any static HTTP server, e.g. a GitHub release's download URL, or a
directory), verifies key → signature → SHA256SUMS → every asset → every file before it touches
the destination, installs the firmware atomically and its QEMU firmware descriptors where QEMU
and libvirt look for them. A receipt lists what was installed; --check re-hashes it, uninstall
removes exactly it.

As root, by default, the files go to /usr/local/share/edk2-matrix and the descriptors to
/etc/qemu/firmware; the options under "Where" change that.`,
  options: PULL_OPTIONS,
  positionals: true,
  footer: `One pull (install, --check, uninstall) at a time per destination: another waits for it up to
5 minutes, then refuses naming its pid. An install killed at any point (even SIGKILL) is
completed or undone by the next pull, --check or uninstall there, which says so.

Exit status: 0 done, 1 a broken release (the first broken link is named), drift found, a
receipt that cannot be read, or files uninstall could not remove (each is named), 2 bad usage,
130 interrupted. Whatever fails, the destination stays exactly as it was.`,
};

export const PULL_HELP = renderHelp(PULL_COMMAND);

function usage(message: string): UsageError {
  return usageError(PULL_COMMAND, message);
}

export async function pullCommand(argv: readonly string[], signal: AbortSignal, ctx: CommandContext = {}): Promise<number> {
  const { values: v, positionals, help } = parseOptions(PULL_COMMAND, argv);
  const { stdout: out, stderr } = commandIo(ctx);
  if (help) {
    out.write(PULL_HELP);
    return 0;
  }
  const debian = v.layout === 'debian';
  if (debian && v.destdir === undefined) throw usage('--layout debian goes with --destdir DIR (a package build)');
  if (debian && v.prefix !== undefined && v.prefix !== '/usr') throw usage(`--prefix ${v.prefix}: Debian's layout is under /usr`);
  const paths = installPaths({ user: v.user, destdir: v.destdir, prefix: v.prefix });
  const log = createReporter(stderr);

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
      for (const f of done.failed) stderr.write(`edk2-matrix: could not remove ${f.path} (${f.reason})\n`);
      if (done.removed.length) out.write(`removed ${done.removed.join(', ')} from ${onDisk(paths, paths.dataDir)} and their descriptors from ${onDisk(paths, paths.descriptorDir)}\n`);
      if (!done.failed.length) return 0;
      out.write(`${done.failed.length} path(s) could not be removed; what they belong to stays in the receipt: fix the cause and run uninstall again\n`);
      return 1;
    });
  }

  if (positionals.length !== 1) throw usage('give one release URL or directory');
  const location = /^https?:\/\//.test(positionals[0]!) ? positionals[0]! : resolve(positionals[0]!);
  const http = { cacheDir: join(resolve(v.cacheDir ?? defaultCacheDir()), 'downloads', 'releases'), idleMs: v.timeout };
  const rebuilds = await readRebuildPolicy(v, usage, http);
  const trust = await readTrust(v.trust);
  const reader = releaseReader(location, http);

  // The signed index names the variants; --only is checked against it before any archive is fetched.
  const head = await verifyRelease(reader, trust, { only: new Set(), signal });
  // Debian's layout takes, without --only, exactly the variants of distro.yaml it names.
  const ids = selectVariants(head.index.variants, v.only).map((x) => x.id).filter((id) => !debian || v.only !== undefined || DEBIAN_VARIANTS.includes(id));
  const selection = debian ? selectDebianFiles(head.index.variants.map((x) => x.id), ids, v.only !== undefined, head.index.release.tag) : undefined;
  if (selection) for (const f of selection.skipped) log.warn(`${f.path} left out: it names a file of a variant not chosen with --only`);
  checkExpectedTag(v.expectTag, head.signed!);
  checkNoDowngrade((await readReceipt(paths)).variants, ids, head.signed!, v.allowDowngrade);
  const release = await verifyRelease(reader, trust, { only: new Set(ids), signal });
  log.info(`release ${release.index.release.tag ?? '(untagged)'} verified: key ${release.keyId}, ${ids.length} variant(s): ${ids.join(', ')}`);
  if (rebuilds) {
    // Before anything is installed: a refusal leaves the destination as it was.
    const assets = release.index.assets.filter((a) => ids.includes(a.variant));
    const report = await checkRebuilds(rebuilds, { reader, sumsSha256: release.sumsSha256, location }, assets, signal);
    for (const line of report.lines) log.info(line);
    for (const w of report.warnings) log.warn(w);
  }
  if (v.dryRun && selection) {
    for (const f of selection.files) out.write(`would install ${onDisk(paths, f.path)}\n`);
    return 0;
  }
  if (v.dryRun) {
    out.write(`would install ${ids.join(', ')} into ${onDisk(paths, paths.dataDir)}, descriptors into ${onDisk(paths, paths.descriptorDir)}\n`);
    return 0;
  }
  const receipt = await atDestination(paths, { log, signal }, async (lock) => {
    // Again under the lock: another pull may have installed a newer release meanwhile.
    checkNoDowngrade((await readReceipt(paths)).variants, ids, head.signed!, v.allowDowngrade);
    return selection
      ? installDebianLayout({ paths, release, location, ids, selection, log, signal, made: lock.made })
      : installRelease({ paths, release, location, ids, prefer: v.prefer, log, signal, made: lock.made });
  });
  if (selection) {
    out.write(`installed ${selection.files.length} file(s) of ${ids.length} variant(s) from ${location} in Debian's layout under ${paths.destdir}; receipt ${receiptPath(paths)}\n`);
    return 0;
  }
  for (const x of receipt.variants.filter((r) => ids.includes(r.id))) {
    out.write(`${x.id}: ${onDisk(paths, x.dir)} (descriptor${x.descriptors.length > 1 ? 's' : ''} ${x.descriptors.map((d) => onDisk(paths, d.path)).join(', ')})\n`);
  }
  out.write(`installed ${ids.length} variant(s) from ${location}; receipt ${receiptPath(paths)}\n`);
  return 0;
}
