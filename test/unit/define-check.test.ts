import { describe, expect, it } from 'vitest';
import { checkDefines } from '../../pipeline/plan/check-defines.ts';
import { defineCatalog } from '../../pipeline/source/dsc-scan.ts';
import { declaredNames, namesAddedByPatch, namesIn } from '../../pipeline/source/dsc-scan.ts';
import { defaultText, errorOf, parse, withMatrix } from '../helpers/config.ts';

const files = new Map(Object.entries({
  'OvmfPkg/OvmfPkgX64.dsc': [
    '[Defines]',
    '  FLASH_DEFINITION = OvmfPkg/OvmfPkgX64.fdf',
    '  DEFINE SECURE_BOOT_ENABLE = FALSE',
    '#  DEFINE COMMENTED_OUT = TRUE',
    '!include NetworkPkg/NetworkDefines.dsc.inc',
    '!ifdef $(FD_SIZE_4MB)',
    '  DEFINE FD_SIZE_IN_KB = 4096',
    '!endif',
    '!if $(SMM_REQUIRE) == TRUE',
    '!endif',
  ].join('\n'),
  'NetworkPkg/NetworkDefines.dsc.inc': '  DEFINE NETWORK_TLS_ENABLE = TRUE\n!if $(NETWORK_HTTP_BOOT_ENABLE) == TRUE\n!endif\n',
  'OvmfPkg/OvmfPkgX64.fdf': '!if $(TPM2_ENABLE) == TRUE\n!endif\n',
  'ArmVirtPkg/ArmVirtQemu.dsc': '  DEFINE SECURE_BOOT_ENABLE = FALSE\n',
  'debian/patches/add-define.patch': '--- a/OvmfPkg/OvmfPkgX64.dsc\n+++ b/OvmfPkg/OvmfPkgX64.dsc\n@@ -1 +1,2 @@\n+  DEFINE DEBIAN_EXTRA = FALSE\n-  DEFINE REMOVED = FALSE\n',
}));

describe('DSC define scan', () => {
  it('finds DEFINEs, $(NAME) reads and !ifdef names, but not comments', () => {
    expect([...namesIn(files.get('OvmfPkg/OvmfPkgX64.dsc')!)].sort()).toEqual(['FD_SIZE_4MB', 'FD_SIZE_IN_KB', 'SECURE_BOOT_ENABLE', 'SMM_REQUIRE']);
  });

  it('follows !include and FLASH_DEFINITION', () => {
    expect([...declaredNames('OvmfPkg/OvmfPkgX64.dsc', (p) => files.get(p))!].sort()).toEqual([
      'FD_SIZE_4MB', 'FD_SIZE_IN_KB', 'NETWORK_HTTP_BOOT_ENABLE', 'NETWORK_TLS_ENABLE', 'SECURE_BOOT_ENABLE', 'SMM_REQUIRE', 'TPM2_ENABLE',
    ]);
  });

  it('counts names that a patch adds, not ones it removes', () => {
    expect([...namesAddedByPatch(files.get('debian/patches/add-define.patch')!)]).toEqual(['DEBIAN_EXTRA']);
  });
});

describe('define check', () => {
  const catalog = defineCatalog(['OvmfPkg/OvmfPkgX64.dsc', 'ArmVirtPkg/ArmVirtQemu.dsc'], files);

  it('accepts defines the DSC declares', () => {
    const config = parse(withMatrix('  arch: [X64]\n  features: [secureboot]\n  target: [DEBUG]\n'));
    expect(() => checkDefines(config, config.variants, catalog)).not.toThrow();
  });

  it('rejects a define the DSC does not declare, at the line that sets it', () => {
    const features = '  typo:\n    defines: { SECURE_BOOT_ENABLED: true }';
    const text = withMatrix('  arch: [X64]\n  features: [typo]\n  target: [DEBUG]\n', features);
    const config = parse(text);
    const line = text.slice(0, text.indexOf('SECURE_BOOT_ENABLED')).split('\n').length;
    expect(errorOf(() => checkDefines(config, config.variants, catalog))).toBe(
      `matrix.yaml:${line}:16: features.typo.defines.SECURE_BOOT_ENABLED: x64-typo-debug: OvmfPkg/OvmfPkgX64.dsc does not declare the define SECURE_BOOT_ENABLED (did you mean one of SECURE_BOOT_ENABLE?)`);
  });

  it('rejects a define another platform has but this one does not', () => {
    const features = '  tls:\n    defines: { NETWORK_TLS_ENABLE: true }';
    const config = parse(withMatrix('  arch: [AARCH64]\n  features: [tls]\n  target: [DEBUG]\n', features));
    expect(errorOf(() => checkDefines(config, config.variants, catalog))).toMatch(/aarch64-tls-debug: ArmVirtPkg\/ArmVirtQemu.dsc does not declare the define NETWORK_TLS_ENABLE/);
  });

  it('rejects a platform the source does not ship', () => {
    const config = parse(defaultText);
    expect(errorOf(() => checkDefines(config, config.variants, catalog))).toMatch(/architectures\.IA32\.dsc: ia32-debug: the source has no OvmfPkg\/OvmfPkgIa32\.dsc/);
  });

  it('points at the feature set that chose a DSC the source does not ship', () => {
    const text = withMatrix('  arch: [X64]\n  features: [smm]\n  target: [DEBUG]\n');
    const config = parse(text);
    expect(errorOf(() => checkDefines(config, config.variants, catalog))).toMatch(/^matrix\.yaml:\d+:\d+: features\.smm\.dsc\.X64: x64-smm-debug: the source has no OvmfPkg\/OvmfPkgIa32X64\.dsc/);
  });
});
