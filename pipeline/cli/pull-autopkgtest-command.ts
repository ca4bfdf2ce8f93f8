/**
 * `npm run autopkgtest -- --destdir DIR [--image IMAGE]`: runs
 * Debian's autopkgtest of its edk2 packages (debian/tests/shell.py) against what
 * `npm run pull -- ... --layout debian --destdir DIR` installed, in a container of
 * verification's QEMU image (dockerfiles/qemu, which also holds the test's dependencies; built
 * when missing) or of IMAGE, and lists which tests passed, failed and were skipped. See
 * pipeline/pull/autopkgtest.ts.
 * Exit status: 0 unittest said OK, 1 a test failed or the run did not finish, 2 bad usage.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadConfig } from '../config/load.ts';
import { RunScope, newRunId } from '../engine/run-scope.ts';
import { exists } from '../host/exists.ts';
import { ensureQemuImage, qemuImageSpec } from '../image/qemu-image.ts';
import { debianTarball, runAutopkgtest } from '../pull/autopkgtest.ts';
import { describeReport } from '../pull/unittest-results.ts';
import { createReporter } from '../report/create-reporter.ts';
import { commandIo, type CommandContext } from './command-context.ts';
import { defaultCacheDir } from './matrix-command.ts';
import { parseOptions, renderHelp, usageError, type CommandSpec, type OptionSpecs } from './options.ts';

export const AUTOPKGTEST_OPTIONS = {
  destdir: { type: 'string', arg: 'DIR', help: 'what pull --layout debian --destdir DIR installed' },
  image: { type: 'string', arg: 'IMAGE', help: 'the container image to test in (default: the QEMU image, dockerfiles/qemu, built when\nmissing): Debian with qemu-system-*, python3-pexpect, dosfstools, mtools, xorriso,\nopenssl, sbsigntool, shim-signed, grub-efi-*-signed, dpkg-dev' },
  config: { type: 'string', arg: 'FILE', default: 'distro.yaml', help: 'the matrix whose Debian source package holds the test' },
  'cache-dir': { type: 'string', arg: 'DIR', help: 'where downloads are kept (default: $EDK2_MATRIX_CACHE or ~/.cache/edk2-matrix)' },
} as const satisfies OptionSpecs;

export const AUTOPKGTEST_COMMAND: CommandSpec<typeof AUTOPKGTEST_OPTIONS> = {
  command: 'npm run autopkgtest',
  usage: ['--destdir DIR [options]'],
  about: `Runs Debian's own autopkgtest of ovmf, ovmf-ia32, qemu-efi-aarch64, qemu-efi-arm,
qemu-efi-riscv64 and qemu-efi-loongarch64 (debian/tests/shell.py from the Debian source
package of --config) against the files pull --layout debian installed under DIR, in a
container: nothing of the host is used or changed.`,
  options: AUTOPKGTEST_OPTIONS,
  footer: 'Exit status: 0 every test that ran passed (unittest said OK), 1 a test failed or the run did not finish, 2 bad usage.',
};

export async function autopkgtestCommand(argv: readonly string[], signal: AbortSignal, ctx: CommandContext = {}): Promise<number> {
  const { values: v, help } = parseOptions(AUTOPKGTEST_COMMAND, argv);
  const { stdout: out, stderr, engine } = commandIo(ctx);
  if (help) {
    out.write(renderHelp(AUTOPKGTEST_COMMAND));
    return 0;
  }
  if (v.destdir === undefined) throw usageError(AUTOPKGTEST_COMMAND, '--destdir DIR is required: what pull --layout debian installed');
  const destdir = resolve(v.destdir);
  if (!(await exists(join(destdir, 'usr', 'share', 'qemu', 'firmware')))) {
    throw usageError(AUTOPKGTEST_COMMAND, `--destdir ${v.destdir}: holds no usr/share/qemu/firmware (install there with pull --layout debian first)`);
  }
  const log = createReporter(stderr);
  const cacheDir = resolve(v.cacheDir ?? defaultCacheDir());
  const config = loadConfig(v.config);
  const tarball = await debianTarball(config.source, cacheDir, log, signal);
  const logDir = join(cacheDir, 'logs');
  await mkdir(logDir, { recursive: true });
  const logPath = join(logDir, `autopkgtest-${newRunId()}.log`);
  const scope = new RunScope(engine(), newRunId());
  try {
    const image = v.image ?? (await ensureQemuImage(scope, qemuImageSpec(config.builder), cacheDir, log, signal)).tag;
    log.info(`autopkgtest: running debian/tests/shell.py in ${image}; log ${logPath}`);
    const { exitCode, report } = await runAutopkgtest({ scope, image, tarball, destdir, logPath, log, signal });
    const { lines, ok } = describeReport(report);
    for (const line of lines) out.write(`${line}\n`);
    if (!ok || exitCode !== 0) out.write(`autopkgtest FAILED (exit ${exitCode}); log ${logPath}\n`);
    return ok && exitCode === 0 ? 0 : 1;
  } finally {
    for (const left of await scope.cleanup()) log.warn(left);
  }
}
