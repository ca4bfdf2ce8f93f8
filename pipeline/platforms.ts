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

const MiB = 1024 * 1024;

/**
 * The size QEMU's `virt` machines want each of their two pflash images to be, exactly (QEMU
 * refuses a smaller image): ARM's (hw/arm/virt.c, two 64 MiB banks), RISC-V's (hw/riscv/virt.c,
 * one 64 MiB region in two 32 MiB banks) and LoongArch's (hw/loongarch, two 16 MiB banks).
 * Debian truncates its images to the same sizes (debian/rules).
 */
export const VIRT_PFLASH_BYTES = 64 * MiB;
export const RISCV_VIRT_PFLASH_BYTES = 32 * MiB;
export const LOONGARCH_VIRT_PFLASH_BYTES = 16 * MiB;

/** A QEMU release as `[major, minor]`. */
export type QemuVersion = readonly [number, number];

export interface ArchFacts {
  /** `qemu-system-*` binary that runs it. */
  readonly qemuBinary: string;
  /** QEMU's name for the target (QAPI `SysEmuTarget`), as firmware descriptors spell it. */
  readonly qemuTarget: 'x86_64' | 'i386' | 'aarch64' | 'arm' | 'riscv64' | 'loongarch64';
  readonly machine: string;
  readonly cpu: string | undefined;
  readonly memoryMiB: number;
  /**
   * Machine-type globs a firmware descriptor lists (SMM builds are q35-only: see descriptor).
   * Versioned machines (`virt-9.2`) take `virt-*`; unversioned ones (RISC-V's and LoongArch's
   * `virt`) take `virt*`, as QEMU's own descriptors for them do.
   */
  readonly descriptorMachines: readonly string[];
  /** x86 (System Management Mode, ACPI S3, OVMF's debug port) or not. */
  readonly x86: boolean;
  /** `GCC5_<ARCH>_PREFIX` for the cross compiler; undefined for the host compiler (x86). */
  readonly crossPrefix: string | undefined;
  /** UEFI's default boot file on removable media. */
  readonly removableBootFile: string;
  /** Node's `os.arch()` of a host whose KVM runs this guest; undefined when none does. */
  readonly kvmHostArch: 'x64' | 'arm64' | undefined;
  /**
   * The oldest QEMU verification boots it with on the host; older hosts boot it in the QEMU image
   * (pipeline/verify/qemu-choice.ts). The oldest release proven to boot it, not a guess below
   * that. Not in the recipe: no content key depends on it.
   */
  readonly qemuMinVersion: QemuVersion;
}

export const ARCH_TABLE: Readonly<Record<Arch, ArchFacts>> = {
  X64: {
    qemuBinary: 'qemu-system-x86_64', qemuTarget: 'x86_64', machine: 'q35', cpu: undefined, memoryMiB: 1024,
    descriptorMachines: ['pc-i440fx-*', 'pc-q35-*'], x86: true, crossPrefix: undefined,
    removableBootFile: 'BOOTX64.EFI', kvmHostArch: 'x64', qemuMinVersion: [7, 2],
  },
  IA32: {
    qemuBinary: 'qemu-system-i386', qemuTarget: 'i386', machine: 'q35', cpu: undefined, memoryMiB: 1024,
    descriptorMachines: ['pc-i440fx-*', 'pc-q35-*'], x86: true, crossPrefix: undefined,
    removableBootFile: 'BOOTIA32.EFI', kvmHostArch: 'x64', qemuMinVersion: [7, 2],
  },
  AARCH64: {
    qemuBinary: 'qemu-system-aarch64', qemuTarget: 'aarch64', machine: 'virt', cpu: 'max', memoryMiB: 1024,
    descriptorMachines: ['virt-*'], x86: false, crossPrefix: 'aarch64-linux-gnu-',
    removableBootFile: 'BOOTAA64.EFI', kvmHostArch: 'arm64', qemuMinVersion: [7, 2],
  },
  ARM: {
    qemuBinary: 'qemu-system-arm', qemuTarget: 'arm', machine: 'virt', cpu: 'cortex-a15', memoryMiB: 1024,
    descriptorMachines: ['virt-*'], x86: false, crossPrefix: 'arm-linux-gnueabi-',
    // A 32-bit ARM guest runs under KVM only on a 32-bit ARM host, which Node does not target here.
    removableBootFile: 'BOOTARM.EFI', kvmHostArch: undefined, qemuMinVersion: [7, 2],
  },
  // The CPU is QEMU's default for the machine (rv64), as Debian's own boot test leaves it.
  // KVM: a riscv64 host's KVM could run it, but no host has proven it here; TCG only.
  RISCV64: {
    qemuBinary: 'qemu-system-riscv64', qemuTarget: 'riscv64', machine: 'virt', cpu: undefined, memoryMiB: 1024,
    descriptorMachines: ['virt*'], x86: false, crossPrefix: 'riscv64-linux-gnu-',
    removableBootFile: 'BOOTRISCV64.EFI', kvmHostArch: undefined,
    // Its `virt` takes the two pflash drives from QEMU 8.1 on: older hosts boot it in the QEMU image.
    qemuMinVersion: [8, 1],
  },
  // la464: the machine's default CPU, and the only LoongArch64 model of every QEMU that has the
  // two-pflash `virt` machine; named so that a later default cannot change what boots.
  LOONGARCH64: {
    qemuBinary: 'qemu-system-loongarch64', qemuTarget: 'loongarch64', machine: 'virt', cpu: 'la464', memoryMiB: 1024,
    descriptorMachines: ['virt*'], x86: false, crossPrefix: 'loongarch64-linux-gnu-',
    removableBootFile: 'BOOTLOONGARCH64.EFI', kvmHostArch: undefined,
    // Its `virt` takes the two pflash drives from QEMU 8.1 on: older hosts boot it in the QEMU image.
    qemuMinVersion: [8, 1],
  },
};


export function archFacts(arch: Arch): ArchFacts {
  return ARCH_TABLE[arch];
}

const ovmfFiles = {
  code: { built: 'OVMF_CODE.fd', published: 'OVMF_CODE.fd', padTo: undefined },
  vars: { built: 'OVMF_VARS.fd', published: 'OVMF_VARS.fd', padTo: undefined },
} satisfies Record<string, FirmwareOutput>;

/*
 * Published names: an image padded for pflash is published as `<edk2's name>-pflash.raw`, the
 * scheme ARM's already follows (and Debian's and Ubuntu's historical QEMU_EFI-pflash.raw): the
 * suffix says "sized for the machine, not edk2's FV", and edk2's own name says which
 * platform built it. Debian publishes the same padded bytes under edk2's `.fd` names.
 */
function pflashFiles(code: string, vars: string, padTo: number): Record<'code' | 'vars', FirmwareOutput> {
  const output = (built: string): FirmwareOutput => ({ built, published: built.replace(/\.fd$/, '-pflash.raw'), padTo });
  return { code: output(code), vars: output(vars) };
}

const armVirtFiles = pflashFiles('QEMU_EFI.fd', 'QEMU_VARS.fd', VIRT_PFLASH_BYTES);
const riscVVirtFiles = pflashFiles('RISCV_VIRT_CODE.fd', 'RISCV_VIRT_VARS.fd', RISCV_VIRT_PFLASH_BYTES);
const loongArchVirtFiles = pflashFiles('QEMU_EFI.fd', 'QEMU_VARS.fd', LOONGARCH_VIRT_PFLASH_BYTES);

interface DscFacts {
  readonly arches: readonly Arch[];
  readonly describe: (arch: Arch) => Omit<Platform, 'dsc' | 'qemu'>;
  /** Links EmbeddedPkg's FdtLib (libfdt): a release carries libfdt's licence texts with it. */
  readonly libfdt: boolean;
}

/** The platform DSCs we know how to build, export and boot. */
export const DSC_TABLE: Readonly<Record<string, DscFacts>> = {
  'OvmfPkg/OvmfPkgX64.dsc': {
    arches: ['X64'],
    describe: () => ({ family: 'ovmf', buildArches: ['X64'], buildDir: 'OvmfX64', ...ovmfFiles }),
    libfdt: false,
  },
  'OvmfPkg/OvmfPkgIa32X64.dsc': {
    // PEI in 32-bit, DXE in 64-bit: the platform SMM and secure boot builds use.
    arches: ['X64'],
    describe: () => ({ family: 'ovmf', buildArches: ['IA32', 'X64'], buildDir: 'Ovmf3264', ...ovmfFiles }),
    libfdt: false,
  },
  'OvmfPkg/OvmfPkgIa32.dsc': {
    arches: ['IA32'],
    describe: () => ({ family: 'ovmf', buildArches: ['IA32'], buildDir: 'OvmfIa32', ...ovmfFiles }),
    libfdt: false,
  },
  'ArmVirtPkg/ArmVirtQemu.dsc': {
    arches: ['AARCH64', 'ARM'],
    describe: (arch) => ({ family: 'armvirt', buildArches: [arch], buildDir: `ArmVirtQemu-${arch}`, ...armVirtFiles }),
    libfdt: true,
  },
  'OvmfPkg/RiscVVirt/RiscVVirtQemu.dsc': {
    arches: ['RISCV64'],
    describe: () => ({ family: 'riscvvirt', buildArches: ['RISCV64'], buildDir: 'RiscVVirtQemu', ...riscVVirtFiles }),
    libfdt: true,
  },
  'OvmfPkg/LoongArchVirt/LoongArchVirtQemu.dsc': {
    arches: ['LOONGARCH64'],
    describe: () => ({ family: 'loongarchvirt', buildArches: ['LOONGARCH64'], buildDir: 'LoongArchVirtQemu', ...loongArchVirtFiles }),
    libfdt: true,
  },
};

export const KNOWN_DSCS: readonly string[] = Object.keys(DSC_TABLE);

/** The DSCs that can build firmware for `arch`. */
export function dscsFor(arch: Arch): string[] {
  return Object.entries(DSC_TABLE)
    .filter(([, f]) => f.arches.includes(arch))
    .map(([dsc]) => dsc);
}

/** Does the DSC link libfdt? False for a DSC this table does not know. */
export function dscLinksLibfdt(dsc: string): boolean {
  return DSC_TABLE[dsc]?.libfdt ?? false;
}

/** The platform for a DSC and architecture, or undefined when the pair is not supported. */
export function platformFor(dsc: string, arch: Arch): Platform | undefined {
  const family = DSC_TABLE[dsc];
  if (!family || !family.arches.includes(arch)) return undefined;
  const a = ARCH_TABLE[arch];
  return { dsc, qemu: { binary: a.qemuBinary, machine: a.machine, cpu: a.cpu, memoryMiB: a.memoryMiB }, ...family.describe(arch) };
}
