/**
 * The product's spine against a real Docker engine and real QEMU: `npm run matrix` builds
 * X64 and AARCH64 firmware from the real edk2 source, a variant whose build fails does not stop
 * or lose the others, every published file verifies, and each manifest's argv boots to the
 * UEFI Shell.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Index, Manifest } from '../../pipeline/domain.ts';
import { bootToShell } from '../../pipeline/verify/boot.ts';
import { REPO } from '../helpers/config.ts';

const run = promisify(execFile);
const out = join(mkdtempSync(join(tmpdir(), 'edk2-matrix-it-')), 'artifacts');
const BUILD_MINUTES = 40;

let result: { code: number; stdout: string; stderr: string };

beforeAll(async () => {
  try {
    const { stdout, stderr } = await run('npx', ['tsx', 'pipeline/cli.ts', '--config', 'test/fixtures/ci-matrix.yaml', '--out', out],
      { cwd: REPO, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, GITHUB_ACTIONS: '' } });
    result = { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    result = { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}, BUILD_MINUTES * 60_000);

const manifestOf = (id: string) => JSON.parse(readFileSync(join(out, id, 'manifest.json'), 'utf8')) as Manifest;

describe('npm run matrix against the real engine', () => {
  it('exits 1 because one variant failed, after finishing the others', () => {
    expect(result.stderr).toMatch(/x64-debug\s+built/);
    expect(result.stderr).toMatch(/aarch64-debug\s+built/);
    expect(result.stderr).toMatch(/x64-broken-debug\s+failed/);
    expect(result.code).toBe(1);
  });

  it('keeps the failed variant\'s log and reason, and publishes no directory for it', () => {
    expect(existsSync(join(out, 'x64-broken-debug'))).toBe(false);
    expect(readFileSync(join(out, 'failed', 'x64-broken-debug', 'error.txt'), 'utf8')).toMatch(/edk2 build exited with status/);
    expect(readFileSync(join(out, 'failed', 'x64-broken-debug', 'build.log'), 'utf8')).toMatch(/PcdEdk2MatrixDoesNotExist/);
  });

  it('writes SHA256SUMS that sha256sum -c verifies inside the artifacts dir', () => {
    const check = execFileSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: out }).toString();
    expect(check).toMatch(/aarch64-debug\/QEMU_EFI-pflash.raw: OK/);
    expect(check).toMatch(/x64-debug\/OVMF_CODE.fd: OK/);
    expect(check.trim().split('\n')).toHaveLength(readFileSync(join(out, 'SHA256SUMS'), 'utf8').trim().split('\n').length);
  });

  it('pads AARCH64 code and vars to exactly 64 MiB', () => {
    expect(statSync(join(out, 'aarch64-debug', 'QEMU_EFI-pflash.raw')).size).toBe(67108864);
    expect(statSync(join(out, 'aarch64-debug', 'QEMU_VARS-pflash.raw')).size).toBe(67108864);
  });

  it('indexes every published variant with its files, digests and manifest', () => {
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as Index;
    expect(index.variants.map((v) => v.id).sort()).toEqual(['aarch64-debug', 'x64-debug']);
    const x64 = index.variants.find((v) => v.id === 'x64-debug')!;
    expect(x64).toMatchObject({ arch: 'X64', target: 'DEBUG', defines: {}, manifest: 'x64-debug/manifest.json' });
    expect(x64.files.map((f) => f.path)).toEqual(expect.arrayContaining(['x64-debug/OVMF_CODE.fd', 'x64-debug/OVMF_VARS.fd']));
    for (const f of x64.files) expect(statSync(join(out, f.path)).size).toBe(f.size);
  });

  it('leaves nothing temporary in the artifacts dir', () => {
    expect(readdirSync(out).sort()).toEqual(['SHA256SUMS', 'aarch64-debug', 'failed', 'index.json', 'x64-debug']);
  });

  it('records the builder image and its package versions in each manifest', () => {
    const m = manifestOf('x64-debug');
    expect(m.builder.image).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(m.builder.packages).toEqual(expect.arrayContaining([expect.stringMatching(/^nasm=/), expect.stringMatching(/^gcc-aarch64-linux-gnu=/)]));
    expect(m.source.digests.map((d) => d.name)).toContain('edk2_2025.02.orig.tar.xz');
  });

  for (const id of ['x64-debug', 'aarch64-debug']) {
    it(`boots ${id} to the UEFI Shell with its manifest argv, and reset -s exits 0`, async () => {
      const boot = await bootToShell(manifestOf(id), join(out, id), { timeoutMs: 180_000 });
      expect(boot.reason).toBeUndefined();
      expect(boot.serial).toMatch(/Shell> /);
      expect(boot.exitCode).toBe(0);
    }, 200_000);
  }
});
