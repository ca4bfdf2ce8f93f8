import { describe, expect, it } from 'vitest';
import { parse, defaultText, withMatrix } from '../helpers/config.ts';
import { variantId } from '../../pipeline/config/expand.ts';

describe('matrix expansion', () => {
  it('expands the default matrix into all six architectures with the packager\'s feature axes', () => {
    const config = parse(defaultText);
    expect(config.variants.map((v) => v.id)).toEqual([
      'x64-debug', 'ia32-debug', 'ia32-release', 'aarch64-debug', 'aarch64-release', 'arm-debug', 'arm-release',
      'riscv64-debug', 'riscv64-release', 'loongarch64-debug', 'loongarch64-release',
      'x64-fd2mb-release', 'x64-fd4mb-release',
      'x64-secureboot-smm-tpm2-network-debug', 'x64-secureboot-smm-tpm2-network-release',
      'aarch64-secureboot-tpm2-network-release',
    ]);
    expect(new Set(config.variants.map((v) => v.platform.buildDir))).toEqual(new Set(['OvmfX64', 'Ovmf3264', 'OvmfIa32', 'ArmVirtQemu-AARCH64', 'ArmVirtQemu-ARM',
      'RiscVVirtQemu', 'LoongArchVirtQemu']));
  });

  it('names variants by arch, feature sets and target in lower case', () => {
    expect(variantId('X64', ['secureboot'], 'RELEASE')).toBe('x64-secureboot-release');
    expect(variantId('AARCH64', [], 'DEBUG')).toBe('aarch64-debug');
  });

  it('takes the product of arch, feature combinations and target', () => {
    const config = parse(withMatrix('  arch: [X64, AARCH64]\n  features: [none, secureboot, secureboot+network]\n  target: [DEBUG, RELEASE]\n'));
    expect(config.variants).toHaveLength(12);
    const v = config.variants.find((x) => x.id === 'aarch64-secureboot-network-release')!;
    expect(v.defines).toEqual({ SECURE_BOOT_ENABLE: 'TRUE', NETWORK_HTTP_BOOT_ENABLE: 'TRUE', NETWORK_IP6_ENABLE: 'TRUE', NETWORK_TLS_ENABLE: 'TRUE' });
    expect(v.features).toEqual(['secureboot', 'network']);
  });

  it('excludes variants that contain every named feature set of an exclude entry', () => {
    const config = parse(withMatrix(
      '  arch: [X64, ARM]\n  features: [none, secureboot, secureboot+network]\n  target: [DEBUG]\n  exclude:\n    - { arch: ARM, features: secureboot }\n',
    ));
    expect(config.variants.map((v) => v.id)).toEqual(['x64-debug', 'x64-secureboot-debug', 'x64-secureboot-network-debug', 'arm-debug']);
  });

  it('excludes only the plain variant with features: none', () => {
    const config = parse(withMatrix('  arch: [X64]\n  features: [none, secureboot]\n  target: [DEBUG]\n  exclude: [{ features: none }]\n'));
    expect(config.variants.map((v) => v.id)).toEqual(['x64-secureboot-debug']);
  });

  it('adds include entries, taking missing axes from the matrix', () => {
    const config = parse(withMatrix('  arch: [X64]\n  target: [DEBUG]\n  include:\n    - { arch: AARCH64, features: network, target: [DEBUG, RELEASE] }\n'));
    expect(config.variants.map((v) => v.id)).toEqual(['x64-debug', 'aarch64-network-debug', 'aarch64-network-release']);
  });

  it('lets a feature set choose the DSC it needs, and builds SMM for IA32 and X64', () => {
    const features = [
      '  smm:',
      '    defines: { SMM_REQUIRE: true, SECURE_BOOT_ENABLE: true }',
      '    dsc: { X64: OvmfPkg/OvmfPkgIa32X64.dsc }',
    ].join('\n');
    const config = parse(withMatrix('  arch: [X64]\n  features: [smm]\n  target: [RELEASE]\n', features));
    const v = config.variants[0]!;
    expect(v.platform.dsc).toBe('OvmfPkg/OvmfPkgIa32X64.dsc');
    expect(v.platform.buildArches).toEqual(['IA32', 'X64']);
    expect(v.platform.buildDir).toBe('Ovmf3264');
  });

  it('layers defines: global, then architecture, then feature sets', () => {
    const text = withMatrix('  arch: [X64]\n  features: [secureboot]\n  target: [DEBUG]\n')
      .replace('defines: {}', 'defines: { SECURE_BOOT_ENABLE: false, NETWORK_IP6_ENABLE: false }')
      .replace('X64:     { dsc: OvmfPkg/OvmfPkgX64.dsc }', 'X64:     { dsc: OvmfPkg/OvmfPkgX64.dsc, defines: { FD_SIZE_4MB: true } }');
    expect(parse(text).variants[0]!.defines).toEqual({ SECURE_BOOT_ENABLE: 'TRUE', NETWORK_IP6_ENABLE: 'FALSE', FD_SIZE_4MB: 'TRUE' });
  });

  it('writes PCD values as given and numbers as decimal text', () => {
    const text = defaultText.replace('pcds: {}', 'pcds: { gEfiMdePkgTokenSpaceGuid.PcdDebugPrintErrorLevel: "0x8000004F", gUefiOvmfPkgTokenSpaceGuid.PcdOvmfFlashNvStorageEventLogSize: 4096 }');
    expect(parse(text).variants[0]!.pcds).toEqual({
      'gEfiMdePkgTokenSpaceGuid.PcdDebugPrintErrorLevel': '0x8000004F',
      'gUefiOvmfPkgTokenSpaceGuid.PcdOvmfFlashNvStorageEventLogSize': '4096',
    });
  });
});
