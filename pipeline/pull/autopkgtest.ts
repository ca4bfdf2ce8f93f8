/**
 * Runs Debian's own autopkgtest of its edk2 firmware (debian/tests/shell.py with
 * debian/python/, from the Debian source package distro.yaml builds) against files installed
 * with `pull --layout debian --destdir DIR`, without touching the host: in a container of the
 * image given (by default verification's QEMU image, which holds TEST_PACKAGES), into which the test code
 * and DIR's /usr/share directories of Debian's layout are copied before it starts. The tests
 * are unittest's: what ran, passed, failed and was skipped is read back (unittest-results.ts).
 */
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { pack, type Pack } from 'tar-stream';
import type { Log, SourceSpec } from '../domain.ts';
import { SourceError } from '../errors.ts';
import { runToCompletion, type ContainerOwner } from '../engine/run-to-completion.ts';
import { hostDebianMirror, MIRROR_ENV } from '../host/debian-mirror.ts';
import { fetchVerified } from '../source/download.ts';
import { debianPoolUrl } from '../source/materialize.ts';
import { safeEntries } from '../source/pack-tree.ts';
import { parseUnittestVerbose, type UnittestReport } from './unittest-results.ts';

/**
 * What the test needs besides QEMU and the firmware, on an amd64 host: debian/tests/control's
 * Depends, and the packages of the files shell.py and debian/python/UEFI/*.py call or read
 * (dpkg-architecture; the unsigned shim and monolithic GRUB the *_unsigned and snakeoil tests
 * boot). dockerfiles/qemu/packages installs them (a unit test keeps the two in step).
 */
export const TEST_PACKAGES = [
  'python3-pexpect', 'dpkg-dev', 'dosfstools', 'mtools', 'xorriso', 'openssl', 'sbsigntool',
  'shim-signed', 'shim-unsigned', 'grub-efi-amd64-signed', 'grub-efi-amd64-bin',
] as const;

/** Where the test code goes in the container. */
export const TEST_ROOT = '/autopkgtest';
/** The directories of Debian's layout copied from DESTDIR, under /usr/share. */
export const DEBIAN_SHARE_DIRS = ['OVMF', 'AAVMF', 'ovmf', 'qemu-efi-aarch64', 'qemu-efi-arm', 'qemu-efi-riscv64', 'qemu-efi-loongarch64', 'qemu/firmware'];
/** The parts of Debian's packaging the test needs. */
const TEST_PARTS = /^debian\/(tests|python)\//;
export const BEGIN = '--- edk2-matrix: unittest output ---';
export const END = '--- edk2-matrix: end of unittest output ---';

/**
 * Runs shell.py as autopkgtest does (PYTHONPATH=debian/python, from the source's top
 * directory), with unittest's report in its own file, printed between markers at the end so
 * that QEMU's serial output (on stdout) cannot interleave with it.
 */
export const runnerPy = (root: string): string => `import runpy, sys
log = open('${root}/unittest.log', 'w+', buffering=1)
sys.stderr = log
sys.argv = ['debian/tests/shell.py']
code = 0
try:
    runpy.run_path(sys.argv[0], run_name='__main__')
except SystemExit as e:
    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
finally:
    sys.stderr = sys.__stderr__
    sys.stdout.flush()
    log.seek(0)
    sys.__stdout__.write('\\n${BEGIN}\\n' + log.read() + '\\n${END}\\n')
    sys.__stdout__.flush()
sys.exit(code)
`;

/** The container's argv and environment. */
export function autopkgtestCommand(): { cmd: string[]; env: Record<string, string>; workingDir: string } {
  return { cmd: ['python3', '-c', runnerPy(TEST_ROOT)], env: { PYTHONPATH: `${TEST_ROOT}/debian/python`, PYTHONUNBUFFERED: '1' }, workingDir: TEST_ROOT };
}

/** unittest's report, from the container's whole output. */
export function unittestOutput(output: string): string | undefined {
  const start = output.lastIndexOf(`${BEGIN}\n`);
  if (start < 0) return undefined;
  const end = output.indexOf(`\n${END}`, start);
  return output.slice(start + BEGIN.length + 1, end < 0 ? undefined : end);
}

/** The cached, verified Debian packaging tarball (`*.debian.tar.xz`) of a Debian source; fetched when missing. */
export async function debianTarball(source: SourceSpec, cacheDir: string, log: Log, signal: AbortSignal): Promise<string> {
  if (source.kind !== 'debian') throw new SourceError('Debian\'s autopkgtest comes with a Debian source package', 'use distro.yaml (source.debian)');
  const file = source.files.find((f) => f.name.endsWith('.debian.tar.xz'));
  if (!file) throw new SourceError(`source ${source.package} ${source.version} lists no .debian.tar.xz`, 'list the packaging tarball under source.debian.files');
  const mirror = source.mirror ?? hostDebianMirror();
  if (!mirror) throw new SourceError('no Debian mirror to fetch the source package from', `set source.debian.mirror or ${MIRROR_ENV}, or configure apt on this host`);
  return fetchVerified(debianPoolUrl(mirror, source.package, file.name), file.sha256, file.name, cacheDir, log, signal);
}

async function addTree(out: Pack, destdir: string, dir: string): Promise<void> {
  const st = await lstat(dir).catch(() => undefined);
  if (!st) return;
  const name = relative(destdir, dir);
  const add = (header: Parameters<Pack['entry']>[0], data: Buffer = Buffer.alloc(0)) => new Promise<void>((resolve, reject) => {
    out.entry({ ...header, uid: 0, gid: 0, mtime: new Date(0) }, data, (err) => (err ? reject(err) : resolve()));
  });
  if (st.isSymbolicLink()) return add({ name, type: 'symlink', linkname: await readlink(dir), mode: 0o777 });
  if (st.isFile()) return add({ name, type: 'file', mode: st.mode & 0o777, size: st.size }, await readFile(dir));
  if (!st.isDirectory()) return;
  await add({ name, type: 'directory', mode: 0o755 });
  for (const e of (await readdir(dir)).sort()) await addTree(out, destdir, join(dir, e));
}

/** The tar put into the container: the test code under TEST_ROOT, DESTDIR's Debian directories at their place. */
export function testTree(tarball: string, destdir: string, log: Log): Readable {
  const out = pack();
  void (async () => {
    for await (const e of safeEntries({ path: tarball, name: tarball.split('/').pop()!, strip: 0 }, (entry, why) => log.warn(`autopkgtest: left out ${entry} (${why})`))) {
      if (!TEST_PARTS.test(e.name)) continue;
      const chunks: Buffer[] = [];
      for await (const c of e.body) chunks.push(c as Buffer);
      await new Promise<void>((resolve, reject) => out.entry({ ...e.header, name: `${TEST_ROOT.slice(1)}/${e.name}`, uid: 0, gid: 0 }, Buffer.concat(chunks), (err) => (err ? reject(err) : resolve())));
    }
    for (const d of ['usr', 'usr/share']) out.entry({ name: d, type: 'directory', mode: 0o755 });
    out.entry({ name: 'usr/share/qemu', type: 'directory', mode: 0o755 });
    for (const d of DEBIAN_SHARE_DIRS) await addTree(out, destdir, join(destdir, 'usr', 'share', d));
    out.finalize();
  })().catch((err: unknown) => out.destroy(err as Error));
  return out as unknown as Readable;
}

export interface AutopkgtestRun {
  readonly scope: ContainerOwner;
  readonly image: string;
  readonly tarball: string;
  readonly destdir: string;
  /** Where the container's whole output goes (QEMU's serial consoles included). */
  readonly logPath: string;
  readonly log: Log;
  readonly signal: AbortSignal;
}

export async function runAutopkgtest(o: AutopkgtestRun): Promise<{ exitCode: number; report: UnittestReport; raw: string | undefined }> {
  const command = autopkgtestCommand();
  const { exitCode } = await runToCompletion(o.scope, {
    image: o.image, ...command,
    // QEMU runs under TCG, as shell.py asks: no device, no network, nothing of the host.
    network: 'none', hardened: false, tmpfs: { '/tmp': 'rw,exec,size=2g' },
  }, {
    role: 'work', signal: o.signal, log: { path: o.logPath },
    put: async (container) => container.putArchive('/', testTree(o.tarball, o.destdir, o.log)),
  });
  const raw = unittestOutput(await readFile(o.logPath, 'utf8'));
  return { exitCode, report: parseUnittestVerbose(raw ?? ''), raw };
}
