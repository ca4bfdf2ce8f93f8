/**
 * The product's spine against a real Docker engine and real QEMU: `npm run matrix -- --verify`
 * builds one variant per architecture (X64 with secure boot and SMM, AARCH64 also with secure
 * boot and TPM 2.0, both with three key sets enrolled) from the real edk2 source; a variant
 * whose build fails does not stop or lose the others, every published file verifies, every
 * manifest argv boots to the UEFI Shell, and a broken image fails verification with its serial
 * log kept. That two clean builds give the same bytes is proven where it costs one build, not
 * seven: the release rehearsal's rebuild.yml job rebuilds a released variant from nothing in a
 * cache of its own and compares every file (docs/testing.md).
 */
import { execFile, execFileSync, type ExecFileException } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BootRecord, BuildRecord, Index, Manifest } from '../../pipeline/domain.ts';
import { firmwareDescriptorSchema } from '../../pipeline/plan/qemu-firmware-schema.ts';
import { archFacts } from '../../pipeline/platforms.ts';
import { firmwareModules } from '../../pipeline/rebuild/firmware-volumes.ts';
import { REPO } from '../helpers/config.ts';

const exec = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'edk2-matrix-it-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const out = join(work, 'artifacts');
const BUILT = ['aarch64-debug', 'aarch64-secureboot-tpm2-debug', 'arm-debug', 'ia32-debug', 'loongarch64-debug', 'riscv64-debug', 'x64-secureboot-smm-debug'];
const SECURE = ['aarch64-secureboot-tpm2-debug', 'x64-secureboot-smm-debug'];
const KEY_SETS = ['microsoft', 'snakeoil', 'lab'];

interface Result { code: number; stdout: string; stderr: string }

async function npm(script: string, args: readonly string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await exec('npm', ['run', '-s', script, '--', ...args],
      { cwd: REPO, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, GITHUB_ACTIONS: '' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as Result;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let run: Result;
beforeAll(async () => {
  // --no-cache: the variants are built here, also on a machine whose artifact cache holds them.
  // --keep-failed: x64-broken-debug's workspace is kept for the --shell tests below.
  run = await npm('matrix', ['--config', 'test/fixtures/ci-matrix.yaml', '--out', out, '--verify', '--no-cache', '--keep-failed']);
}, 60 * 60_000);

const manifestOf = (id: string) => JSON.parse(readFileSync(join(out, id, 'manifest.json'), 'utf8')) as Manifest;
const index = () => JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as Index;

describe('npm run matrix -- --verify against the real engine', () => {
  it('exits 1 because one variant failed, after building and booting the others', () => {
    for (const id of BUILT) expect(run.stderr).toMatch(new RegExp(`${id}\\s+built`));
    expect(run.stderr).toMatch(/x64-broken-debug\s+failed/);
    expect(run.stderr).toMatch(/7 booted, 0 failed/);
    expect(run.code).toBe(1);
  });

  it('keeps the failed variant\'s log and reason, and publishes no directory for it', () => {
    expect(existsSync(join(out, 'x64-broken-debug'))).toBe(false);
    expect(readFileSync(join(out, 'failed', 'x64-broken-debug', 'error.txt'), 'utf8')).toMatch(/edk2 build exited with status/);
    expect(readFileSync(join(out, 'failed', 'x64-broken-debug', 'build.log'), 'utf8')).toMatch(/PcdEdk2MatrixDoesNotExist/);
  });

  it('writes SHA256SUMS that sha256sum -c verifies inside the artifacts dir', () => {
    const check = execFileSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: out }).toString();
    expect(check).toMatch(/aarch64-debug\/QEMU_EFI-pflash.raw: OK/);
    expect(check).toMatch(/x64-secureboot-smm-debug\/OVMF_CODE.fd: OK/);
    expect(check).toMatch(/ia32-debug\/boot.json: OK/);
    const listed = readFileSync(join(out, 'SHA256SUMS'), 'utf8').trim().split('\n').length;
    // Every file but the fingerprint each directory keeps for reruns (.fingerprint.json).
    const onDisk = BUILT.flatMap((id) => readdirSync(join(out, id)).filter((n) => !n.startsWith('.'))).length;
    expect(listed).toBe(onDisk);
  });

  it('pads AARCH64 and ARM code and vars, enrolled stores included, to exactly 64 MiB', () => {
    for (const id of ['aarch64-debug', 'arm-debug']) {
      expect(statSync(join(out, id, 'QEMU_EFI-pflash.raw')).size).toBe(67108864);
      expect(statSync(join(out, id, 'QEMU_VARS-pflash.raw')).size).toBe(67108864);
    }
    for (const set of KEY_SETS) expect(statSync(join(out, 'aarch64-secureboot-tpm2-debug', `QEMU_VARS-pflash.${set}.raw`)).size).toBe(67108864);
  });

  it('pads RISCV64 code and vars to exactly 32 MiB and LOONGARCH64\'s to 16 MiB, as Debian does', () => {
    for (const name of ['RISCV_VIRT_CODE-pflash.raw', 'RISCV_VIRT_VARS-pflash.raw']) expect(statSync(join(out, 'riscv64-debug', name)).size).toBe(33554432);
    for (const name of ['QEMU_EFI-pflash.raw', 'QEMU_VARS-pflash.raw']) expect(statSync(join(out, 'loongarch64-debug', name)).size).toBe(16777216);
  });

  it('leaves the UEFI Shell out of the secure-boot images (BUILD_SHELL=FALSE, as Debian\'s), exports it beside them, and boots them with it from a disk', async () => {
    const SHELL_GUID = '7c04a583-9e3e-4f1c-ad65-e05268d0b4d1'; // ShellPkg/Application/Shell/Shell.inf's FILE_GUID
    const modules = async (id: string) => firmwareModules(readFileSync(join(out, id, manifestOf(id).qemu.code)));
    for (const id of SECURE) {
      expect(manifestOf(id).defines.BUILD_SHELL, id).toBe('FALSE');
      const inside = await modules(id);
      expect(inside.length, id).toBeGreaterThan(50);
      expect(inside.some((m) => m.guid === SHELL_GUID), id).toBe(false);
      expect(statSync(join(out, id, 'Shell.efi')).size, id).toBeGreaterThan(100_000);
      const boot = JSON.parse(readFileSync(join(out, id, 'boot.json'), 'utf8')) as BootRecord;
      expect([boot.ok, boot.shellDisk], id).toEqual([true, true]);
    }
    // The same platform with its Shell: the check above can tell.
    expect((await modules('aarch64-debug')).some((m) => m.guid === SHELL_GUID)).toBe(true);
  });

  it('boots RISCV64 and LOONGARCH64 with a QEMU at least as new as they want: the host\'s, or the QEMU image\'s', () => {
    for (const id of ['riscv64-debug', 'loongarch64-debug']) {
      const boot = JSON.parse(readFileSync(join(out, id, 'boot.json'), 'utf8')) as BootRecord;
      expect(boot.ok, id).toBe(true);
      const [major, minor] = boot.qemu!.version.split('.').map(Number) as [number, number];
      const [wantMajor, wantMinor] = archFacts(manifestOf(id).arch).qemuMinVersion;
      expect(major * 1000 + minor, `${id}: QEMU ${boot.qemu!.version} (${boot.qemu!.where})`).toBeGreaterThanOrEqual(wantMajor * 1000 + wantMinor);
    }
  });

  it('publishes each enrolled store with its own descriptor (enrolled-keys, priority 40) and launch script', () => {
    for (const id of SECURE) {
      const m = manifestOf(id);
      expect(m.enrolled.map((s) => s.keySet), id).toEqual(KEY_SETS);
      for (const store of m.enrolled) {
        const empty = readFileSync(join(out, id, m.qemu.varsTemplate));
        const vars = readFileSync(join(out, id, store.varsTemplate));
        expect(vars.length).toBe(empty.length);
        expect(vars.equals(empty), `${id} ${store.keySet}`).toBe(false);
        expect(store.descriptor).toBe(`${40 + KEY_SETS.indexOf(store.keySet)}-edk2-${id}-${store.keySet}.json`);
        const d = firmwareDescriptorSchema.parse(JSON.parse(readFileSync(join(out, id, store.descriptor), 'utf8')));
        expect(d.features).toEqual(expect.arrayContaining(['enrolled-keys', 'secure-boot']));
        expect(d.features.includes('requires-smm')).toBe(m.defines.SMM_REQUIRE === 'TRUE');
        const template = d.mapping.device === 'flash' ? d.mapping['nvram-template']?.filename : undefined;
        expect(template).toMatch(new RegExp(`/${store.varsTemplate.replaceAll('.', '\\.')}$`));
        expect(statSync(join(out, id, store.launch)).mode & 0o111).not.toBe(0);
      }
      expect(m.enrolled.find((s) => s.keySet === 'lab')!.certificates.map((c) => c.variable)).toEqual(['PK', 'KEK', 'db']);
    }
  });

  it('indexes every published variant with files, digests, manifest, descriptor and boot result', () => {
    const entries = index().variants;
    expect(entries.map((v) => v.id).sort()).toEqual(BUILT);
    const smm = entries.find((v) => v.id === 'x64-secureboot-smm-debug')!;
    expect(smm).toMatchObject({
      arch: 'X64', target: 'DEBUG', defines: { SECURE_BOOT_ENABLE: 'TRUE', SMM_REQUIRE: 'TRUE' },
      manifest: 'x64-secureboot-smm-debug/manifest.json', descriptor: 'x64-secureboot-smm-debug/50-edk2-x64-secureboot-smm-debug.json',
    });
    expect(smm.files.map((f) => f.path)).toEqual(expect.arrayContaining(['x64-secureboot-smm-debug/OVMF_CODE.fd', 'x64-secureboot-smm-debug/OVMF_VARS.fd']));
    for (const f of smm.files) expect(statSync(join(out, f.path)).size).toBe(f.size);
    for (const v of entries) {
      expect(v.boot, v.id).toMatchObject({ ok: true, accel: expect.stringMatching(/tcg|kvm/) });
      expect(v.boot!.secondsToShell, v.id).toBeGreaterThan(0);
    }
  });

  it('publishes a firmware descriptor per variant that the schema accepts and that matches the build', () => {
    for (const id of BUILT) {
      const m = manifestOf(id);
      const d = firmwareDescriptorSchema.parse(JSON.parse(readFileSync(join(out, id, m.descriptor), 'utf8')));
      expect(d.mapping).toMatchObject({ device: 'flash', mode: 'split' });
      expect(d.features.includes('secure-boot')).toBe(m.defines.SECURE_BOOT_ENABLE === 'TRUE');
      expect(d.features.includes('requires-smm')).toBe(m.defines.SMM_REQUIRE === 'TRUE');
    }
    const arm = firmwareDescriptorSchema.parse(JSON.parse(readFileSync(join(out, 'arm-debug', '60-edk2-arm-debug.json'), 'utf8')));
    expect(arm.mapping).toMatchObject({ executable: { filename: '/usr/share/edk2/arm/QEMU_EFI-pflash.raw' } });
  });

  it('leaves nothing temporary in the artifacts dir', () => {
    expect(readdirSync(out).sort()).toEqual([...BUILT, 'SHA256SUMS', 'failed', 'index.json', 'timeline.json', 'timeline.svg'].sort());
  });

  it('records the builder and its package versions in each manifest, the local image in the build record', () => {
    const m = manifestOf('ia32-debug');
    const record = JSON.parse(readFileSync(join(out, 'ia32-debug', 'build-record.json'), 'utf8')) as BuildRecord;
    expect(record.image).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(record.reproducible).toBeUndefined();
    expect(JSON.stringify(m)).not.toContain(record.image);
    expect(m.builder.packages).toEqual(expect.arrayContaining([expect.stringMatching(/^nasm=/), expect.stringMatching(/^gcc-aarch64-linux-gnu=/)]));
    expect(m.source.digests.map((d) => d.name)).toContain('edk2_2025.02.orig.tar.xz');
  });

  it('fails verification of a truncated CODE image and keeps its serial log', async () => {
    const broken = join(work, 'broken');
    mkdirSync(broken);
    cpSync(join(out, 'x64-secureboot-smm-debug'), join(broken, 'x64-secureboot-smm-debug'), { recursive: true });
    truncateSync(join(broken, 'x64-secureboot-smm-debug', 'OVMF_CODE.fd'), 1024 * 1024);
    const verify = await npm('verify', ['--out', broken, '--timeout', '30s']);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toMatch(/x64-secureboot-smm-debug\s+FAILED/);
    const record = JSON.parse(readFileSync(join(broken, 'x64-secureboot-smm-debug', 'boot.json'), 'utf8')) as BootRecord;
    expect(record.ok).toBe(false);
    expect(existsSync(join(broken, 'x64-secureboot-smm-debug', 'boot-serial.log'))).toBe(true);
  }, 180_000);
});

/** Runs `command` in a pseudo-terminal (util-linux `script`), typing `input` into it. */
function inTerminal(command: string, input: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile('script', ['-qec', command, '/dev/null'], { cwd: REPO, timeout: 120_000, env: { ...process.env, GITHUB_ACTIONS: '' } },
      (err: ExecFileException | null, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }));
    child.stdin!.end(input);
  });
}

const keptVolumes = (variant: string) => execFileSync('docker', ['volume', 'ls', '-q', '--filter', 'label=edk2-matrix.kept=1',
  '--filter', `label=edk2-matrix.variant=${variant}`]).toString().split('\n').filter(Boolean);

describe('the failed variant\'s workspace, kept with --keep-failed', () => {
  it('is kept in one volume labelled with its build command, and the failure says how to enter it', () => {
    expect(run.stderr).toContain('workspace kept, enter it with `npm run matrix -- --shell x64-broken-debug`');
    const volumes = keptVolumes('x64-broken-debug');
    expect(volumes).toHaveLength(1);
    const labels = JSON.parse(execFileSync('docker', ['volume', 'inspect', '--format', '{{json .Labels}}', volumes[0]!]).toString()) as Record<string, string>;
    expect(labels['edk2-matrix.role']).toBe('kept');
    expect(labels['edk2-matrix.command']).toContain('PcdEdk2MatrixDoesNotExist=1');
  });

  it('refuses --shell in one line without a terminal', async () => {
    const r = await npm('matrix', ['--shell', 'x64-broken-debug']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('edk2-matrix: --shell needs a terminal\n');
  });

  it('opens a shell in it with a terminal: the build command first, edksetup.sh sourced, in /work', async () => {
    const r = await inTerminal('npm run -s matrix -- --shell x64-broken-debug',
      'echo SHELL_OK $PWD; build --help >/dev/null && echo BUILD_OK; exit\n');
    expect(r.stdout).toMatch(/^ {2}SOURCE_DATE_EPOCH=\d+ .*build -a X64 -t GCC5 -b DEBUG -p OvmfPkg\/OvmfPkgX64\.dsc .*PcdEdk2MatrixDoesNotExist=1 -n \d+\r?$/m);
    expect(r.stdout).toMatch(/^SHELL_OK \/work\r?$/m);
    expect(r.stdout).toMatch(/^BUILD_OK\r?$/m);
    expect(r.code).toBe(0);
    expect(execFileSync('docker', ['ps', '-aq', '--filter', 'label=edk2-matrix.role=shell']).toString().trim()).toBe('');
  }, 120_000);

  it('is removed by --clean, which says so', async () => {
    const r = await npm('matrix', ['--clean']);
    expect(r.stdout).toMatch(/, and [1-9]\d* kept workspace\(s\)\n$/);
    expect(keptVolumes('x64-broken-debug')).toEqual([]);
  }, 60_000);
});
