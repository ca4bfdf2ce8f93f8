/**
 * The runner of Debian's autopkgtest, without Docker: the tree it puts into the container, the
 * command it runs there (run for real with this host's python3 on a stand-in shell.py), and
 * how the report is read back from the container's output.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { extract, pack } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { autopkgtestCommand, BEGIN, END, runAutopkgtest, runnerPy, TEST_PACKAGES, testTree, unittestOutput } from '../../pipeline/pull/autopkgtest.ts';
import { RunScope } from '../../pipeline/engine/run-scope.ts';
import { describeReport, parseUnittestVerbose } from '../../pipeline/pull/unittest-results.ts';
import { FakeEngine } from '../helpers/fake-engine.ts';
import { quietLog } from '../helpers/pull-release.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const SHELL_PY = `import sys, unittest
class BootToShellTest(unittest.TestCase):
    def test_ovmf_4m_q35(self):
        sys.stdout.write('BdsDxe: loading Boot0001 "UEFI Shell"\\nShell> ')
    @unittest.skipUnless(False, "arm64-only")
    def test_aavmf_snakeoil_secure_boot_signed(self):
        pass
    def test_ovmf_4m_ms_secure_boot_signed(self):
        self.assertEqual(True, False)
if __name__ == '__main__':
    unittest.main(verbosity=2)
`;

async function debianTar(dir: string): Promise<string> {
  const out = pack();
  for (const [name, text] of [['debian/tests/shell.py', SHELL_PY], ['debian/python/UEFI/Qemu.py', '# qemu'], ['debian/rules', '#!/usr/bin/make -f']] as const) {
    out.entry({ name, size: Buffer.byteLength(text), mode: 0o644 }, text);
  }
  out.finalize();
  const chunks: Buffer[] = [];
  for await (const c of out as unknown as Readable) chunks.push(c as Buffer);
  const path = join(dir, 'edk2_2025.02-8+deb13u1.debian.tar');
  writeFileSync(path, Buffer.concat(chunks));
  return path;
}

async function entries(tar: Readable): Promise<Map<string, string>> {
  const got = new Map<string, string>();
  const x = extract();
  tar.pipe(x);
  for await (const e of x) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    got.set(e.header.name, e.header.type === 'symlink' ? `-> ${e.header.linkname}` : e.header.type === 'directory' ? 'dir' : Buffer.concat(chunks).toString());
  }
  return got;
}

describe('Debian autopkgtest runner', () => {
  it('puts the test code and DESTDIR\'s Debian directories, links as links, into the container, and nothing else of the packaging', async () => {
    const dir = tempDir('autopkgtest-');
    const dest = join(dir, 'dest');
    mkdirSync(join(dest, 'usr/share/OVMF'), { recursive: true });
    mkdirSync(join(dest, 'usr/share/edk2-matrix'), { recursive: true });
    writeFileSync(join(dest, 'usr/share/OVMF/OVMF_CODE_4M.secboot.fd'), 'code');
    symlinkSync('OVMF_CODE_4M.secboot.fd', join(dest, 'usr/share/OVMF/OVMF_CODE_4M.ms.fd'));
    writeFileSync(join(dest, 'usr/share/edk2-matrix/receipt.json'), '{}');
    const got = await entries(testTree(await debianTar(dir), dest, quietLog));
    expect(got.get('autopkgtest/debian/tests/shell.py')).toBe(SHELL_PY);
    expect(got.has('autopkgtest/debian/python/UEFI/Qemu.py')).toBe(true);
    expect(got.has('autopkgtest/debian/rules')).toBe(false);
    expect(got.get('usr/share/OVMF/OVMF_CODE_4M.secboot.fd')).toBe('code');
    expect(got.get('usr/share/OVMF/OVMF_CODE_4M.ms.fd')).toBe('-> OVMF_CODE_4M.secboot.fd');
    expect([...got.keys()].some((n) => n.includes('edk2-matrix'))).toBe(false);
  });

  it('runs shell.py as autopkgtest does and reads unittest\'s report apart from what QEMU prints', () => {
    const root = tempDir('autopkgtest-run-');
    mkdirSync(join(root, 'debian/tests'), { recursive: true });
    writeFileSync(join(root, 'debian/tests/shell.py'), SHELL_PY);
    const run = spawnSync('python3', ['-c', runnerPy(root)], { cwd: root, encoding: 'utf8' });
    expect(run.status).toBe(1);
    const report = parseUnittestVerbose(unittestOutput(run.stdout)!);
    expect(report.tests.map((t) => [t.name, t.outcome])).toEqual([
      ['test_aavmf_snakeoil_secure_boot_signed', 'skipped'], ['test_ovmf_4m_ms_secure_boot_signed', 'failed'], ['test_ovmf_4m_q35', 'passed'],
    ]);
    expect([report.ran, report.verdict]).toEqual([3, 'FAILED']);
    expect(readFileSync(join(root, 'unittest.log'), 'utf8')).toContain('AssertionError');
  });

  it('runs in the image given, without network, and passes only when unittest says OK', async () => {
    const dir = tempDir('autopkgtest-');
    const dest = join(dir, 'dest');
    mkdirSync(join(dest, 'usr/share/qemu/firmware'), { recursive: true });
    const ok = ['test_a (__main__.T.test_a) ... ok', '', 'Ran 1 test in 0.1s', '', 'OK'];
    const engine = new FakeEngine(() => ({ exitCode: 0, output: ['Shell> serial output', BEGIN, ...ok, END] }));
    const result = await runAutopkgtest({ scope: new RunScope(engine, 'r'), image: 'edk2-matrix/qemu:test', tarball: await debianTar(dir), destdir: dest, logPath: join(dir, 'log'), log: quietLog, signal: new AbortController().signal });
    expect(describeReport(result.report).ok).toBe(true);
    const spec = [...engine.containers.values()][0]!.spec;
    expect(spec).toMatchObject({ image: 'edk2-matrix/qemu:test', network: 'none', cmd: autopkgtestCommand().cmd, env: { PYTHONPATH: '/autopkgtest/debian/python' } });
    expect(engine.leftovers().containers).toBe(0);
  });

  it('runs by default in the QEMU image, whose lock holds every package Debian\'s test calls', () => {
    const lock = readFileSync(join(import.meta.dirname, '../../dockerfiles/qemu/packages.lock'), 'utf8');
    const locked = new Set(lock.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split('=')[0]));
    expect(TEST_PACKAGES.filter((p) => !locked.has(p))).toEqual([]);
    for (const qemu of ['qemu-system-x86', 'qemu-system-arm', 'qemu-system-riscv', 'qemu-system-misc']) expect(locked).toContain(qemu);
  });
});
