import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { descriptorFileName, firmwareDescriptor, installDir } from '../../pipeline/plan/firmware-descriptor.ts';
import { firmwareDescriptorSchema } from '../../pipeline/plan/qemu-firmware-schema.ts';
import { parse, withMatrix } from '../helpers/config.ts';

const features = [
  '  secureboot:\n    defines: { SECURE_BOOT_ENABLE: true }',
  '  smm:\n    defines: { SMM_REQUIRE: true }\n    dsc: { X64: OvmfPkg/OvmfPkgIa32X64.dsc }',
  '  serial:\n    defines: { DEBUG_ON_SERIAL_PORT: true }',
].join('\n');
const variants = parse(withMatrix(
  '  arch: [X64, IA32, AARCH64, ARM, RISCV64, LOONGARCH64]\n  features: [none, secureboot]\n  target: [DEBUG, RELEASE]\n  include:\n    - { arch: X64, features: [secureboot+smm, serial] }\n',
  features,
)).variants;
const byId = (id: string) => variants.find((v) => v.id === id)!;
const PREFIX = '/usr/share/edk2/{arch}/{id}';

describe('QEMU firmware descriptor', () => {
  it('maps split flash, raw, at the install prefix', () => {
    expect(firmwareDescriptor(byId('aarch64-release'), PREFIX).mapping).toEqual({
      device: 'flash',
      mode: 'split',
      executable: { filename: '/usr/share/edk2/aarch64/aarch64-release/QEMU_EFI-pflash.raw', format: 'raw' },
      'nvram-template': { filename: '/usr/share/edk2/aarch64/aarch64-release/QEMU_VARS-pflash.raw', format: 'raw' },
    });
    expect(installDir('/opt/fw/', byId('x64-debug'))).toBe('/opt/fw');
  });

  it('claims secure boot and SMM only when built with them, on q35 only for SMM', () => {
    const smm = firmwareDescriptor(byId('x64-secureboot-smm-debug'), PREFIX);
    expect(smm.features).toEqual(['acpi-s3', 'requires-smm', 'secure-boot', 'verbose-dynamic']);
    expect(smm.targets).toEqual([{ architecture: 'x86_64', machines: ['pc-q35-*'] }]);
    expect(firmwareDescriptor(byId('x64-secureboot-release'), PREFIX).features).toEqual(['acpi-s3', 'secure-boot']);
    expect(firmwareDescriptor(byId('x64-release'), PREFIX).targets[0]!.machines).toEqual(['pc-i440fx-*', 'pc-q35-*']);
  });

  it('marks DEBUG builds verbose: dynamic on x86, static on ARM and with serial debug output', () => {
    expect(firmwareDescriptor(byId('ia32-debug'), PREFIX).features).toEqual(['acpi-s3', 'verbose-dynamic']);
    expect(firmwareDescriptor(byId('x64-serial-debug'), PREFIX).features).toContain('verbose-static');
    expect(firmwareDescriptor(byId('arm-debug'), PREFIX).features).toEqual(['verbose-static']);
    expect(firmwareDescriptor(byId('arm-release'), PREFIX).features).toEqual([]);
  });

  it('never claims enrolled keys: the vars templates are built empty', () => {
    for (const v of variants) expect(firmwareDescriptor(v, PREFIX).features).not.toContain('enrolled-keys');
  });

  it('tags the -D flags and names the emulator', () => {
    const d = firmwareDescriptor(byId('arm-secureboot-debug'), PREFIX);
    expect(d.tags).toEqual(['edk2-matrix:arm-secureboot-debug', '-D SECURE_BOOT_ENABLE=TRUE']);
    expect(d.targets).toEqual([{ architecture: 'arm', machines: ['virt-*'] }]);
    expect(firmwareDescriptor(byId('ia32-debug'), PREFIX).targets[0]!.architecture).toBe('i386');
  });

  it('describes RISC-V and LoongArch firmware for their unversioned virt machines', () => {
    const riscv = firmwareDescriptor(byId('riscv64-debug'), PREFIX);
    expect(riscv.targets).toEqual([{ architecture: 'riscv64', machines: ['virt*'] }]);
    expect(riscv.features).toEqual(['verbose-static']);
    expect(riscv.mapping).toMatchObject({
      executable: { filename: '/usr/share/edk2/riscv64/riscv64-debug/RISCV_VIRT_CODE-pflash.raw' },
      'nvram-template': { filename: '/usr/share/edk2/riscv64/riscv64-debug/RISCV_VIRT_VARS-pflash.raw' },
    });
    const loong = firmwareDescriptor(byId('loongarch64-secureboot-release'), PREFIX);
    expect(loong.targets).toEqual([{ architecture: 'loongarch64', machines: ['virt*'] }]);
    expect(loong.features).toEqual(['secure-boot']);
    expect(loong.mapping).toMatchObject({ executable: { filename: '/usr/share/edk2/loongarch64/loongarch64-secureboot-release/QEMU_EFI-pflash.raw' } });
    expect(descriptorFileName(byId('loongarch64-debug'))).toBe('60-edk2-loongarch64-debug.json');
  });

  it('takes the usual two-digit priority prefix: 50 for secure boot, 60 for the rest', () => {
    expect(descriptorFileName(byId('x64-secureboot-smm-debug'))).toBe('50-edk2-x64-secureboot-smm-debug.json');
    expect(descriptorFileName(byId('aarch64-debug'))).toBe('60-edk2-aarch64-debug.json');
  });

  it('rejects what the schema does not allow', () => {
    const good = firmwareDescriptor(byId('x64-debug'), PREFIX);
    expect(firmwareDescriptorSchema.safeParse({ ...good, features: ['fast'] }).success).toBe(false);
    expect(firmwareDescriptorSchema.safeParse({ ...good, extra: 1 }).success).toBe(false);
    expect(firmwareDescriptorSchema.safeParse({ ...good, 'interface-types': [] }).success).toBe(false);
    const { 'nvram-template': _, ...noVars } = good.mapping as { 'nvram-template': unknown };
    expect(firmwareDescriptorSchema.safeParse({ ...good, mapping: noVars }).success).toBe(false);
  });

  // The distribution's own descriptors, where installed, check the transcription of the schema.
  const dir = '/usr/share/qemu/firmware';
  it.skipIf(!existsSync(dir))('accepts the descriptors Debian ships in /usr/share/qemu/firmware', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const parsed = firmwareDescriptorSchema.safeParse(JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')));
      expect(parsed.success, `${f}: ${parsed.error?.message}`).toBe(true);
    }
  });
});
