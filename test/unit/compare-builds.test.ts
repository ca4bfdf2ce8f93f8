import { describe, expect, it } from 'vitest';
import { differingFiles, differingModules } from '../../pipeline/edk2-build/compare-builds.ts';

const f = (name: string, data: string) => ({ name, data: Buffer.from(data) });

describe('comparing two builds', () => {
  it('names files that differ or exist in one build only, ignoring run-dependent ones', () => {
    const a = [f('OVMF_CODE.fd', 'x'), f('OVMF_VARS.fd', 'v'), f('build.log', 'at 10:00'), f('Shell.efi', 's')];
    const b = [f('OVMF_CODE.fd', 'y'), f('OVMF_VARS.fd', 'v'), f('build.log', 'at 10:05')];
    expect(differingFiles(a, b, ['build.log'])).toEqual(['OVMF_CODE.fd', 'Shell.efi']);
    expect(differingFiles(a, a, [])).toEqual([]);
  });

  it('names the edk2 modules whose binaries differ', () => {
    const a = new Map([['X64/PlatformPei/OUTPUT/PlatformPei.efi', '1'], ['X64/Shell/OUTPUT/Shell.efi', '2']]);
    const b = new Map([['X64/PlatformPei/OUTPUT/PlatformPei.efi', '9'], ['X64/Shell/OUTPUT/Shell.efi', '2']]);
    expect(differingModules(a, b)).toEqual(['X64/PlatformPei/OUTPUT/PlatformPei.efi']);
  });
});
