/**
 * edk2 facts the matrix needs for each (DSC, architecture) pair: what `build` is told, where
 * it writes, what is exported, and how QEMU starts it. See DESIGN.md's platform table.
 */
import type { Arch, FirmwareOutput, Platform, QemuTarget } from '../domain.ts';

/** QEMU's `virt` machine wants both pflash images exactly this size. */
export const VIRT_PFLASH_BYTES = 64 * 1024 * 1024;

const ovmfFiles = {
  code: { built: 'OVMF_CODE.fd', published: 'OVMF_CODE.fd', padTo: undefined },
  vars: { built: 'OVMF_VARS.fd', published: 'OVMF_VARS.fd', padTo: undefined },
} satisfies Record<string, FirmwareOutput>;

const armVirtFiles = {
  code: { built: 'QEMU_EFI.fd', published: 'QEMU_EFI-pflash.raw', padTo: VIRT_PFLASH_BYTES },
  vars: { built: 'QEMU_VARS.fd', published: 'QEMU_VARS-pflash.raw', padTo: VIRT_PFLASH_BYTES },
} satisfies Record<string, FirmwareOutput>;

const qemuFor: Record<Arch, QemuTarget> = {
  X64: { binary: 'qemu-system-x86_64', machine: 'q35', cpu: undefined, memoryMiB: 1024 },
  IA32: { binary: 'qemu-system-i386', machine: 'q35', cpu: undefined, memoryMiB: 1024 },
  AARCH64: { binary: 'qemu-system-aarch64', machine: 'virt', cpu: 'max', memoryMiB: 1024 },
  ARM: { binary: 'qemu-system-arm', machine: 'virt', cpu: 'cortex-a15', memoryMiB: 1024 },
};

interface PlatformFamily {
  readonly arches: readonly Arch[];
  readonly describe: (arch: Arch) => Omit<Platform, 'dsc' | 'qemu'>;
}

const families: Readonly<Record<string, PlatformFamily>> = {
  'OvmfPkg/OvmfPkgX64.dsc': {
    arches: ['X64'],
    describe: () => ({ buildArches: ['X64'], buildDir: 'OvmfX64', ...ovmfFiles }),
  },
  'OvmfPkg/OvmfPkgIa32X64.dsc': {
    // PEI in 32-bit, DXE in 64-bit: the platform SMM and secure boot builds use.
    arches: ['X64'],
    describe: () => ({ buildArches: ['IA32', 'X64'], buildDir: 'Ovmf3264', ...ovmfFiles }),
  },
  'OvmfPkg/OvmfPkgIa32.dsc': {
    arches: ['IA32'],
    describe: () => ({ buildArches: ['IA32'], buildDir: 'OvmfIa32', ...ovmfFiles }),
  },
  'ArmVirtPkg/ArmVirtQemu.dsc': {
    arches: ['AARCH64', 'ARM'],
    describe: (arch) => ({ buildArches: [arch], buildDir: `ArmVirtQemu-${arch}`, ...armVirtFiles }),
  },
};

export const KNOWN_DSCS: readonly string[] = Object.keys(families);

/** The DSCs that can build firmware for `arch`. */
export function dscsFor(arch: Arch): string[] {
  return Object.entries(families)
    .filter(([, f]) => f.arches.includes(arch))
    .map(([dsc]) => dsc);
}

/** The platform for a DSC and architecture, or undefined when the pair is not supported. */
export function platformFor(dsc: string, arch: Arch): Platform | undefined {
  const family = families[dsc];
  if (!family || !family.arches.includes(arch)) return undefined;
  return { dsc, qemu: qemuFor[arch], ...family.describe(arch) };
}
