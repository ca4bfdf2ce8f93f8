/**
 * What the compiler cannot check in the platform tables: every architecture has a DSC that
 * builds it and a matrix line that names one, pads fit the machines QEMU has, every DSC row is
 * for known architectures, and the facts a descriptor names are QEMU's own.
 */
import { describe, expect, it } from 'vitest';
import { ARCHES, type Arch } from '../../pipeline/domain.ts';
import { ARCH_TABLE, DSC_TABLE, dscLinksLibfdt, dscsFor, platformFor } from '../../pipeline/platforms.ts';
import { SYS_EMU_TARGETS } from '../../pipeline/plan/qemu-firmware-schema.ts';
import { parse, defaultText } from '../helpers/config.ts';

const MiB = 1024 * 1024;

interface Expected {
  /** The DSC Debian's debian/rules builds it with (`build -a <arch> -p <dsc>`). */
  readonly dsc: string;
  /** Its Build/ directory and the two FV files debian/rules copies out of it. */
  readonly buildDir: string;
  readonly built: readonly [string, string];
  /** debian/rules' `truncate -s` size of both images; undefined where it does not truncate. */
  readonly pad: number | undefined;
  /** GCC5_<ARCH>_PREFIX as debian/rules exports it. */
  readonly crossPrefix: string | undefined;
  /** QEMU's machine (debian/python/UEFI/Qemu.py boots the same one), and the descriptor's globs. */
  readonly machine: string;
  readonly descriptorMachines: readonly string[];
  /** The UEFI specification's removable-media boot file for the architecture. */
  readonly removableBootFile: string;
}

/**
 * Each architecture as Debian's packaging of the same source (edk2 2025.02-8+deb13u1) has it,
 * written out by hand: a table row that drifts from it fails here. Versioned machines (`virt-9.2`,
 * `pc-q35-9.2`) take `-*` globs; RISC-V's and LoongArch's `virt` is unversioned and takes
 * `virt*`, as QEMU's and Debian's descriptors (60-edk2-riscv64.json, 60-edk2-loongarch64.json) do.
 */
const EXPECTED: Readonly<Record<Arch, Expected>> = {
  X64: {
    dsc: 'OvmfPkg/OvmfPkgX64.dsc', buildDir: 'OvmfX64', built: ['OVMF_CODE.fd', 'OVMF_VARS.fd'], pad: undefined,
    crossPrefix: undefined, machine: 'q35', descriptorMachines: ['pc-i440fx-*', 'pc-q35-*'], removableBootFile: 'BOOTX64.EFI',
  },
  IA32: {
    dsc: 'OvmfPkg/OvmfPkgIa32.dsc', buildDir: 'OvmfIa32', built: ['OVMF_CODE.fd', 'OVMF_VARS.fd'], pad: undefined,
    crossPrefix: undefined, machine: 'q35', descriptorMachines: ['pc-i440fx-*', 'pc-q35-*'], removableBootFile: 'BOOTIA32.EFI',
  },
  AARCH64: {
    dsc: 'ArmVirtPkg/ArmVirtQemu.dsc', buildDir: 'ArmVirtQemu-AARCH64', built: ['QEMU_EFI.fd', 'QEMU_VARS.fd'], pad: 64 * MiB,
    crossPrefix: 'aarch64-linux-gnu-', machine: 'virt', descriptorMachines: ['virt-*'], removableBootFile: 'BOOTAA64.EFI',
  },
  ARM: {
    dsc: 'ArmVirtPkg/ArmVirtQemu.dsc', buildDir: 'ArmVirtQemu-ARM', built: ['QEMU_EFI.fd', 'QEMU_VARS.fd'], pad: 64 * MiB,
    crossPrefix: 'arm-linux-gnueabi-', machine: 'virt', descriptorMachines: ['virt-*'], removableBootFile: 'BOOTARM.EFI',
  },
  RISCV64: {
    dsc: 'OvmfPkg/RiscVVirt/RiscVVirtQemu.dsc', buildDir: 'RiscVVirtQemu', built: ['RISCV_VIRT_CODE.fd', 'RISCV_VIRT_VARS.fd'], pad: 32 * MiB,
    crossPrefix: 'riscv64-linux-gnu-', machine: 'virt', descriptorMachines: ['virt*'], removableBootFile: 'BOOTRISCV64.EFI',
  },
  LOONGARCH64: {
    dsc: 'OvmfPkg/LoongArchVirt/LoongArchVirtQemu.dsc', buildDir: 'LoongArchVirtQemu', built: ['QEMU_EFI.fd', 'QEMU_VARS.fd'], pad: 16 * MiB,
    crossPrefix: 'loongarch64-linux-gnu-', machine: 'virt', descriptorMachines: ['virt*'], removableBootFile: 'BOOTLOONGARCH64.EFI',
  },
};

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

  it('builds each architecture with the DSC, directory and files Debian builds it with', () => {
    const defaults = parse(defaultText).variants;
    for (const arch of ARCHES) {
      const e = EXPECTED[arch];
      expect(dscsFor(arch), arch).toContain(e.dsc);
      const p = platformFor(e.dsc, arch)!;
      expect([p.buildDir, p.code.built, p.vars.built], arch).toEqual([e.buildDir, ...e.built]);
      expect(ARCH_TABLE[arch].crossPrefix, arch).toBe(e.crossPrefix);
      // The default matrix builds it with that DSC.
      expect(defaults.filter((v) => v.arch === arch).map((v) => v.platform.dsc), arch).toContain(e.dsc);
    }
  });

  it('pads code and vars to exactly the size Debian truncates them to, and only those', () => {
    for (const arch of ARCHES) {
      for (const dsc of dscsFor(arch)) {
        const p = platformFor(dsc, arch)!;
        expect([p.code.padTo, p.vars.padTo], `${dsc} ${arch}`).toEqual([EXPECTED[arch].pad, EXPECTED[arch].pad]);
        // A padded image is published as <edk2's name>-pflash.raw; an unpadded one as built.
        for (const f of [p.code, p.vars]) expect(f.published).toBe(f.padTo ? f.built.replace(/\.fd$/, '-pflash.raw') : f.built);
      }
    }
  });

  it('names QEMU targets, binaries and machines QEMU knows', () => {
    for (const arch of ARCHES) {
      const a = ARCH_TABLE[arch];
      expect(SYS_EMU_TARGETS).toContain(a.qemuTarget);
      expect(a.qemuBinary).toBe(`qemu-system-${a.qemuTarget}`);
      expect([a.machine, a.descriptorMachines, a.removableBootFile], arch)
        .toEqual([EXPECTED[arch].machine, EXPECTED[arch].descriptorMachines, EXPECTED[arch].removableBootFile]);
      expect(a.crossPrefix === undefined).toBe(a.x86);
    }
  });

  it('says libfdt is linked by the platforms that read QEMU\'s device tree, not by x86 OVMF', () => {
    expect(Object.keys(DSC_TABLE).filter(dscLinksLibfdt))
      .toEqual(['ArmVirtPkg/ArmVirtQemu.dsc', 'OvmfPkg/RiscVVirt/RiscVVirtQemu.dsc', 'OvmfPkg/LoongArchVirt/LoongArchVirtQemu.dsc']);
    expect(dscLinksLibfdt('SomePkg/Unknown.dsc')).toBe(false);
  });
});
