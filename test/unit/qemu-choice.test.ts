import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../pipeline/domain.ts';
import { newRunId, RunScope } from '../../pipeline/engine/run-scope.ts';
import { ARCH_TABLE } from '../../pipeline/platforms.ts';
import { bootToShell } from '../../pipeline/verify/boot.ts';
import { chooseQemu, hostQemuVersion, parseQemuVersion, versionAtLeast, whyNotHost } from '../../pipeline/verify/qemu-choice.ts';
import { launchInImage } from '../../pipeline/verify/qemu-process.ts';
import type { VerifyOutcome } from '../../pipeline/verify/verify-artifacts.ts';
import { verifyTable } from '../../pipeline/verify/verify-table.ts';
import { FakeEngine } from '../helpers/fake-engine.ts';
import { tempDir } from '../helpers/temp-dir.ts';

describe('which QEMU boots a variant', () => {
  it('reads the version QEMU prints, Debian\'s and upstream\'s alike', () => {
    expect(parseQemuVersion('QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022')).toBe('7.2.22');
    expect(parseQemuVersion('QEMU emulator version 10.0.13 (Debian 1:10.0.13+ds-0+deb13u1)')).toBe('10.0.13');
    expect(parseQemuVersion('QEMU emulator version 9.1.50 (v9.1.0-1234-gdeadbeef)')).toBe('9.1.50');
    expect(parseQemuVersion('qemu-system-x86_64: command not found')).toBeUndefined();
  });

  it('compares by major, then minor: 10.0 is newer than 8.1, 8.0.5 older', () => {
    expect(versionAtLeast('10.0.13', [8, 1])).toBe(true);
    expect(versionAtLeast('8.1.0', [8, 1])).toBe(true);
    expect(versionAtLeast('8.0.5', [8, 1])).toBe(false);
    expect(versionAtLeast('7.2.22', [8, 1])).toBe(false);
    expect(versionAtLeast('7.2.22', [7, 2])).toBe(true);
  });

  it('under auto takes the host\'s QEMU when it is new enough, else the image\'s', () => {
    expect(chooseQemu('auto', '7.2.22', [7, 2])).toEqual(['host']);
    expect(chooseQemu('auto', '7.2.22', [8, 1])).toEqual(['image']);
    expect(chooseQemu('auto', undefined, [7, 2])).toEqual(['image']);
    // Debian 12's QEMU boots the four older architectures itself, RISC-V and LoongArch in the image.
    for (const arch of ['X64', 'IA32', 'AARCH64', 'ARM'] as const) expect(chooseQemu('auto', '7.2.22', ARCH_TABLE[arch].qemuMinVersion), arch).toEqual(['host']);
    for (const arch of ['RISCV64', 'LOONGARCH64'] as const) expect(chooseQemu('auto', '7.2.22', ARCH_TABLE[arch].qemuMinVersion), arch).toEqual(['image']);
  });

  it('takes what --qemu host, image or both say, whatever the versions', () => {
    expect(chooseQemu('host', '7.2.22', [8, 1])).toEqual(['host']);
    expect(chooseQemu('host', undefined, [7, 2])).toEqual(['host']);
    expect(chooseQemu('image', '10.0.0', [7, 2])).toEqual(['image']);
    expect(chooseQemu('both', '7.2.22', [8, 1])).toEqual(['host', 'image']);
  });

  it('says why auto passed the host\'s QEMU by', () => {
    expect(whyNotHost('qemu-system-riscv64', '7.2.22', [8, 1])).toBe('the host\'s qemu-system-riscv64 is 7.2.22, older than 8.1');
    expect(whyNotHost('qemu-system-riscv64', undefined, [8, 1])).toBe('this host has no qemu-system-riscv64');
    expect(whyNotHost('qemu-system-x86_64', '7.2.22', [7, 2])).toBeUndefined();
  });

  it('finds no version for a binary the host does not have', async () => {
    expect(await hostQemuVersion('qemu-system-edk2-matrix-none')).toBeUndefined();
  });

  it('has a minimum QEMU for every architecture', () => {
    for (const [arch, facts] of Object.entries(ARCH_TABLE)) {
      expect(facts.qemuMinVersion, arch).toHaveLength(2);
      expect(facts.qemuMinVersion.every((n) => Number.isInteger(n) && n >= 0), arch).toBe(true);
    }
  });

  it('shows in the table which QEMU booted each row', () => {
    const row = (qemu: VerifyOutcome['qemu']): VerifyOutcome => ({ id: 'x64-debug', ok: true, secondsToShell: 7.1, accel: 'tcg', shellDisk: false, reason: undefined, qemu, serialLog: undefined });
    const table = verifyTable([row({ version: '7.2.22', where: 'host' }), row({ version: '10.0.13', where: 'image' })]);
    expect(table).toMatch(/^variant\s+boot\s+to shell\s+accel\s+qemu\s+note$/m);
    expect(table).toMatch(/^x64-debug\s+ok\s+7\.1s\s+tcg\s+7\.2\.22 host\s*$/m);
    expect(table).toMatch(/^x64-debug\s+ok\s+7\.1s\s+tcg\s+10\.0\.13 image\s*$/m);
  });
});

describe('QEMU in the image', () => {
  const manifest = { id: 'x64-debug', qemu: { code: 'CODE.fd', varsTemplate: 'VARS.fd', argv: ['qemu-system-x86_64', '-drive', '${CODE}', '-drive', '${VARS}', '-serial', 'stdio'] } } as unknown as Manifest;

  function variantDir(): string {
    const dir = join(tempDir('qemu-image-boot-'), 'x64-debug');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'CODE.fd'), 'code');
    writeFileSync(join(dir, 'VARS.fd'), 'vars');
    return dir;
  }

  it('runs the manifest argv unchanged in a locked-down, labelled container that sees the variant read-only, types reset -s, and is removed', async () => {
    const engine = new FakeEngine(() => ({ output: ['BdsDxe: starting', 'Shell> '], ms: 20 }));
    const scope = new RunScope(engine, newRunId());
    const dir = variantDir();
    const result = await bootToShell(manifest, dir, { timeoutMs: 5000, launch: launchInImage(scope, 'sha256:qemu', 5000) });
    expect(result.ok).toBe(true);
    const [c] = [...engine.containers.values()];
    expect(c!.spec.cmd.slice(0, 3)).toEqual(['timeout', '--signal=KILL', '65']);
    expect(c!.spec.cmd.slice(3, 5)).toEqual(['qemu-system-x86_64', '-drive']);
    expect(c!.spec.cmd[5]).toBe(join(dir, 'CODE.fd'));
    const vars = c!.spec.cmd[7]!;
    expect(c!.spec).toMatchObject({ image: 'sha256:qemu', network: 'none', hardened: true, interactive: true });
    expect(c!.spec.binds).toEqual([
      { source: dir, target: dir, readOnly: true },
      { source: join(vars, '..'), target: join(vars, '..'), readOnly: false },
    ]);
    expect(c!.spec.labels['edk2-matrix.role']).toBe('boot');
    expect(c!.stdin).toBe('reset -s\r');
    expect(c!.removed).toBe(true);
  });

  it('fails the boot, and removes the container, when the prompt never comes', async () => {
    const engine = new FakeEngine(() => ({ output: ['BdsDxe: No bootable option or device was found.'], ms: 5000 }));
    const scope = new RunScope(engine, newRunId());
    const result = await bootToShell(manifest, variantDir(), { timeoutMs: 100, launch: launchInImage(scope, 'sha256:qemu', 100) });
    expect(result).toMatchObject({ ok: false, reason: 'no UEFI Shell prompt within 0.1s' });
    const [c] = [...engine.containers.values()];
    expect(c!.killed).toBe(true);
    expect(c!.removed).toBe(true);
    expect(c!.stdin).toBe('');
  });
});
