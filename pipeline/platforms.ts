/**
 * Every per-architecture and per-platform fact, as data: what `build` is told, where it
 * writes, what is exported and how it is padded, how QEMU starts the result, what a descriptor
 * calls it. ARCH_TABLE has one row per `Arch` of domain.ts (the compiler checks that none is
 * missing), DSC_TABLE one per platform DSC; test/unit/platforms.test.ts checks what the
 * compiler cannot (every architecture has a DSC, pad sizes, machines). The recipe (plan/)
 * reads these facts, so a change here changes every affected content key by itself.
 * docs/adding-an-architecture.md lists every other file adding an architecture touches.
 */
import type { Arch, FirmwareOutput, Platform } from './domain.ts';

/** QEMU's `virt` machine wants both pflash images exactly this size. */
export const VIRT_PFLASH_BYTES = 64 * 1024 * 1024;

export interface ArchFacts {
  /** `qemu-system-*` binary that runs it. */
  readonly qemuBinary: string;
  /** QEMU's name for the target (QAPI `SysEmuTarget`), as firmware descriptors spell it. */
  readonly qemuTarget: 'x86_64' | 'i386' | 'aarch64' | 'arm';
  readonly machine: string;
  readonly cpu: string | undefined;
  readonly memoryMiB: number;
  /** Machine-type globs a firmware descriptor lists (SMM builds are q35-only: see descriptor). */
  readonly descriptorMachines: readonly string[];
  /** x86 (System Management Mode, ACPI S3, OVMF's debug port) or not. */
  readonly x86: boolean;
  /** `GCC5_<ARCH>_PREFIX` for the cross compiler; undefined for the host compiler (x86). */
  readonly crossPrefix: string | undefined;
  /** UEFI's default boot file on removable media. */
  readonly removableBootFile: string;
  /** Node's `os.arch()` of a host whose KVM runs this guest; undefined when none does. */
  readonly kvmHostArch: 'x64' | 'arm64' | undefined;
}

export const ARCH_TABLE: Readonly<Record<Arch, ArchFacts>> = {
  X64: {
    qemuBinary: 'qemu-system-x86_64', qemuTarget: 'x86_64', machine: 'q35', cpu: undefined, memoryMiB: 1024,
    descriptorMachines: ['pc-i440fx-*', 'pc-q35-*'], x86: true, crossPrefix: undefined,
    removableBootFile: 'BOOTX64.EFI', kvmHostArch: 'x64',
  },
  IA32: {
    qemuBinary: 'qemu-system-i386', qemuTarget: 'i386', machine: 'q35', cpu: undefined, memoryMiB: 1024,
    descriptorMachines: ['pc-i440fx-*', 'pc-q35-*'], x86: true, crossPrefix: undefined,
    removableBootFile: 'BOOTIA32.EFI', kvmHostArch: 'x64',
  },
  AARCH64: {
    qemuBinary: 'qemu-system-aarch64', qemuTarget: 'aarch64', machine: 'virt', cpu: 'max', memoryMiB: 1024,
    descriptorMachines: ['virt-*'], x86: false, crossPrefix: 'aarch64-linux-gnu-',
    removableBootFile: 'BOOTAA64.EFI', kvmHostArch: 'arm64',
  },
  ARM: {
    qemuBinary: 'qemu-system-arm', qemuTarget: 'arm', machine: 'virt', cpu: 'cortex-a15', memoryMiB: 1024,
    descriptorMachines: ['virt-*'], x86: false, crossPrefix: 'arm-linux-gnueabi-',
    // A 32-bit ARM guest runs under KVM only on a 32-bit ARM host, which Node does not target here.
    removableBootFile: 'BOOTARM.EFI', kvmHostArch: undefined,
  },
};


export function archFacts(arch: Arch): ArchFacts {
  return ARCH_TABLE[arch];
}

const ovmfFiles = {
  code: { built: 'OVMF_CODE.fd', published: 'OVMF_CODE.fd', padTo: undefined },
  vars: { built: 'OVMF_VARS.fd', published: 'OVMF_VARS.fd', padTo: undefined },
} satisfies Record<string, FirmwareOutput>;

const armVirtFiles = {
  code: { built: 'QEMU_EFI.fd', published: 'QEMU_EFI-pflash.raw', padTo: VIRT_PFLASH_BYTES },
  vars: { built: 'QEMU_VARS.fd', published: 'QEMU_VARS-pflash.raw', padTo: VIRT_PFLASH_BYTES },
} satisfies Record<string, FirmwareOutput>;

interface DscFacts {
  readonly arches: readonly Arch[];
  readonly describe: (arch: Arch) => Omit<Platform, 'dsc' | 'qemu'>;
}

/** The platform DSCs we know how to build, export and boot. */
export const DSC_TABLE: Readonly<Record<string, DscFacts>> = {
  'OvmfPkg/OvmfPkgX64.dsc': {
    arches: ['X64'],
    describe: () => ({ family: 'ovmf', buildArches: ['X64'], buildDir: 'OvmfX64', ...ovmfFiles }),
  },
  'OvmfPkg/OvmfPkgIa32X64.dsc': {
    // PEI in 32-bit, DXE in 64-bit: the platform SMM and secure boot builds use.
    arches: ['X64'],
    describe: () => ({ family: 'ovmf', buildArches: ['IA32', 'X64'], buildDir: 'Ovmf3264', ...ovmfFiles }),
  },
  'OvmfPkg/OvmfPkgIa32.dsc': {
    arches: ['IA32'],
    describe: () => ({ family: 'ovmf', buildArches: ['IA32'], buildDir: 'OvmfIa32', ...ovmfFiles }),
  },
  'ArmVirtPkg/ArmVirtQemu.dsc': {
    arches: ['AARCH64', 'ARM'],
    describe: (arch) => ({ family: 'armvirt', buildArches: [arch], buildDir: `ArmVirtQemu-${arch}`, ...armVirtFiles }),
  },
};

export const KNOWN_DSCS: readonly string[] = Object.keys(DSC_TABLE);

/** The DSCs that can build firmware for `arch`. */
export function dscsFor(arch: Arch): string[] {
  return Object.entries(DSC_TABLE)
    .filter(([, f]) => f.arches.includes(arch))
    .map(([dsc]) => dsc);
}

/** The platform for a DSC and architecture, or undefined when the pair is not supported. */
export function platformFor(dsc: string, arch: Arch): Platform | undefined {
  const family = DSC_TABLE[dsc];
  if (!family || !family.arches.includes(arch)) return undefined;
  const a = ARCH_TABLE[arch];
  return { dsc, qemu: { binary: a.qemuBinary, machine: a.machine, cpu: a.cpu, memoryMiB: a.memoryMiB }, ...family.describe(arch) };
}
