/**
 * What the compiler cannot check in the platform tables: every architecture has a DSC that
 * builds it and a matrix line that names one, pads fit the machines QEMU has, every DSC row is
 * for known architectures, and the facts a descriptor names are QEMU's own.
 */
import { describe, expect, it } from 'vitest';
import { ARCHES } from '../../pipeline/domain.ts';
import { ARCH_TABLE, DSC_TABLE, dscsFor, platformFor, VIRT_PFLASH_BYTES } from '../../pipeline/platforms.ts';
import { SYS_EMU_TARGETS } from '../../pipeline/plan/qemu-firmware-schema.ts';
import { parse, defaultText } from '../helpers/config.ts';

describe('platform tables', () => {
  it('has a DSC for every architecture, and the default matrix builds every architecture', () => {
    for (const arch of ARCHES) expect(dscsFor(arch), arch).not.toEqual([]);
    expect(new Set(parse(defaultText).variants.map((v) => v.arch))).toEqual(new Set(ARCHES));
  });

  it('lists only known architectures in DSC rows, and describes every pair it accepts', () => {
    for (const [dsc, row] of Object.entries(DSC_TABLE)) {
      for (const arch of row.arches) {
        expect(ARCHES, dsc).toContain(arch);
        const p = platformFor(dsc, arch)!;
        expect(p.buildArches.at(-1), dsc).toBe(arch);
        expect(p.code.published).not.toBe(p.vars.published);
        expect(p.buildDir).toMatch(/^[\w-]+$/);
      }
    }
  });

  it('pads images exactly for machines with fixed pflash sizes, and only those', () => {
    for (const arch of ARCHES) {
      for (const dsc of dscsFor(arch)) {
        const p = platformFor(dsc, arch)!;
        const fixed = ARCH_TABLE[arch].machine === 'virt';
        expect([p.code.padTo, p.vars.padTo], `${dsc} ${arch}`).toEqual(fixed ? [VIRT_PFLASH_BYTES, VIRT_PFLASH_BYTES] : [undefined, undefined]);
      }
    }
  });

  it('names QEMU targets, binaries and machines QEMU knows', () => {
    for (const arch of ARCHES) {
      const a = ARCH_TABLE[arch];
      expect(SYS_EMU_TARGETS).toContain(a.qemuTarget);
      expect(a.qemuBinary).toBe(`qemu-system-${a.qemuTarget === 'x86_64' ? 'x86_64' : a.qemuTarget}`);
      expect(a.descriptorMachines.length).toBeGreaterThan(0);
      for (const m of a.descriptorMachines) expect(m).toMatch(a.machine === 'q35' ? /^pc-(q35|i440fx)-\*$/ : new RegExp(`^${a.machine}-\\*$`));
      expect(a.removableBootFile).toMatch(/^BOOT\w+\.EFI$/);
      expect(a.crossPrefix === undefined).toBe(a.x86);
    }
  });
});
