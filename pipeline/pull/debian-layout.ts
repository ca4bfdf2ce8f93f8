/**
 * Debian's firmware file set, as data: every file of the binary packages ovmf, ovmf-ia32,
 * qemu-efi-aarch64, qemu-efi-arm, qemu-efi-riscv64 and qemu-efi-loongarch64 of edk2 2025.02-8+deb13u1 (its debian/*.install and
 * debian/*.links), and which file of which distro.yaml variant stands for it. `pull --layout
 * debian` installs a release by this table; docs/downstream.md shows it, and
 * test/unit/key-sets.test.ts keeps the two, distro.yaml and Debian's file list
 * (test/fixtures/debian-file-list.txt) in step.
 */

export type DebianPackage = 'ovmf' | 'ovmf-ia32' | 'qemu-efi-aarch64' | 'qemu-efi-arm' | 'qemu-efi-riscv64' | 'qemu-efi-loongarch64';

/** Where one Debian file comes from. */
export type DebianSource =
  /** A file of a variant's directory in the release, copied under Debian's name. */
  | { readonly kind: 'file'; readonly variant: string; readonly file: string }
  /** A symbolic link, as Debian's *.links makes it (target relative to the link's directory). */
  | { readonly kind: 'link'; readonly target: string }
  /**
   * A variant's QEMU firmware descriptor (its own, or an enrolled store's), with its file names
   * rewritten to Debian's paths of its code and vars.
   */
  | { readonly kind: 'descriptor'; readonly variant: string; readonly keySet: string | undefined; readonly code: string; readonly vars: string }
  /** This repository's snakeoil key pair, checked against the release's snakeoil store. */
  | { readonly kind: 'snakeoil'; readonly part: 'pem' | 'key' }
  /** Not provided: why. */
  | { readonly kind: 'none'; readonly why: string };

export interface DebianFile {
  readonly package: DebianPackage;
  /** Absolute path as Debian installs it. */
  readonly path: string;
  readonly source: DebianSource;
}

const X64 = 'x64-tpm2-network-release';
const X64_SB = 'x64-secureboot-enrolled-smm-tpm2-network-release';
const X64_NX = 'x64-secureboot-smm-tpm2-network-strictnx-release';
const IA32 = 'ia32-tpm2-network-release';
const IA32_SB = 'ia32-secureboot-smm-tpm2-network-release';
const IA32_NX = 'ia32-secureboot-smm-tpm2-network-strictnx-release';
const AA = 'aarch64-tpm2-network-release';
const AA_SB = 'aarch64-secureboot-enrolled-tpm2-network-release';
const AA_NX = 'aarch64-secureboot-tpm2-network-strictnx-release';
const ARM = 'arm-release';
const RV = 'riscv64-network-release';
const LA = 'loongarch64-network-release';

const OVMF = '/usr/share/OVMF';
const AAVMF = '/usr/share/AAVMF';
const FW = '/usr/share/qemu/firmware';

const file = (pkg: DebianPackage, path: string, variant: string, name: string): DebianFile =>
  ({ package: pkg, path, source: { kind: 'file', variant, file: name } });
const link = (pkg: DebianPackage, path: string, target: string): DebianFile => ({ package: pkg, path, source: { kind: 'link', target } });
const descriptor = (pkg: DebianPackage, name: string, variant: string, keySet: string | undefined, code: string, vars: string): DebianFile =>
  ({ package: pkg, path: `${FW}/${name}`, source: { kind: 'descriptor', variant, keySet, code, vars } });
const none = (pkg: DebianPackage, path: string, why: string): DebianFile => ({ package: pkg, path, source: { kind: 'none', why } });

const UNIFIED = 'the unified image (code and vars in one file, for -bios) is not exported: use the split CODE/VARS pair, which every current QEMU and libvirt take';
const BIOS = 'the unpadded image for -bios is not exported: QEMU_EFI-pflash.raw is the same code padded to 64 MiB for pflash';
const DOC = 'Debian\'s own documentation of its packaging, not firmware';

export const DEBIAN_FILES: readonly DebianFile[] = [
  // ovmf
  file('ovmf', `${OVMF}/OVMF_CODE_4M.fd`, X64, 'OVMF_CODE.fd'),
  file('ovmf', `${OVMF}/OVMF_VARS_4M.fd`, X64, 'OVMF_VARS.fd'),
  file('ovmf', `${OVMF}/OVMF_CODE_4M.secboot.fd`, X64_SB, 'OVMF_CODE.fd'),
  file('ovmf', `${OVMF}/OVMF_CODE_4M.secboot.strictnx.fd`, X64_NX, 'OVMF_CODE.fd'),
  file('ovmf', `${OVMF}/OVMF_VARS_4M.ms.fd`, X64_SB, 'OVMF_VARS.microsoft.fd'),
  file('ovmf', `${OVMF}/OVMF_VARS_4M.snakeoil.fd`, X64_SB, 'OVMF_VARS.snakeoil.fd'),
  link('ovmf', `${OVMF}/OVMF_CODE_4M.ms.fd`, 'OVMF_CODE_4M.secboot.fd'),
  link('ovmf', `${OVMF}/OVMF_CODE_4M.snakeoil.fd`, 'OVMF_CODE_4M.secboot.fd'),
  descriptor('ovmf', '60-edk2-x86_64.json', X64, undefined, `${OVMF}/OVMF_CODE_4M.fd`, `${OVMF}/OVMF_VARS_4M.fd`),
  descriptor('ovmf', '50-edk2-x86_64-secure.json', X64_SB, undefined, `${OVMF}/OVMF_CODE_4M.secboot.fd`, `${OVMF}/OVMF_VARS_4M.fd`),
  descriptor('ovmf', '40-edk2-x86_64-secure-enrolled.json', X64_SB, 'microsoft', `${OVMF}/OVMF_CODE_4M.ms.fd`, `${OVMF}/OVMF_VARS_4M.ms.fd`),
  { package: 'ovmf', path: '/usr/share/ovmf/PkKek-1-snakeoil.pem', source: { kind: 'snakeoil', part: 'pem' } },
  { package: 'ovmf', path: '/usr/share/ovmf/PkKek-1-snakeoil.key', source: { kind: 'snakeoil', part: 'key' } },
  none('ovmf', '/usr/share/ovmf/OVMF.fd', UNIFIED),
  none('ovmf', '/usr/share/qemu/OVMF.fd', `link to /usr/share/ovmf/OVMF.fd: ${UNIFIED}`),
  none('ovmf', '/usr/share/doc/ovmf/2M_VARS-to-4M_VARS.sh', DOC),
  none('ovmf', '/usr/share/doc/ovmf/howto-2M-to-4M-migration.md', DOC),
  none('ovmf', '/usr/share/doc/ovmf/README.Debian', DOC),
  none('ovmf', '/usr/share/doc/ovmf/NEWS.Debian.gz', DOC),
  // ovmf-ia32
  file('ovmf-ia32', `${OVMF}/OVMF32_CODE_4M.fd`, IA32, 'OVMF_CODE.fd'),
  file('ovmf-ia32', `${OVMF}/OVMF32_VARS_4M.fd`, IA32, 'OVMF_VARS.fd'),
  file('ovmf-ia32', `${OVMF}/OVMF32_CODE_4M.secboot.fd`, IA32_SB, 'OVMF_CODE.fd'),
  file('ovmf-ia32', `${OVMF}/OVMF32_CODE_4M.secboot.strictnx.fd`, IA32_NX, 'OVMF_CODE.fd'),
  descriptor('ovmf-ia32', '60-edk2-i386.json', IA32, undefined, `${OVMF}/OVMF32_CODE_4M.fd`, `${OVMF}/OVMF32_VARS_4M.fd`),
  descriptor('ovmf-ia32', '50-edk2-i386-secure.json', IA32_SB, undefined, `${OVMF}/OVMF32_CODE_4M.secboot.fd`, `${OVMF}/OVMF32_VARS_4M.fd`),
  none('ovmf-ia32', '/usr/share/doc/ovmf-ia32/README.Debian', DOC),
  // qemu-efi-aarch64
  file('qemu-efi-aarch64', `${AAVMF}/AAVMF_CODE.no-secboot.fd`, AA, 'QEMU_EFI-pflash.raw'),
  file('qemu-efi-aarch64', `${AAVMF}/AAVMF_VARS.fd`, AA, 'QEMU_VARS-pflash.raw'),
  file('qemu-efi-aarch64', `${AAVMF}/AAVMF_CODE.secboot.fd`, AA_SB, 'QEMU_EFI-pflash.raw'),
  file('qemu-efi-aarch64', `${AAVMF}/AAVMF_CODE.secboot.strictnx.fd`, AA_NX, 'QEMU_EFI-pflash.raw'),
  file('qemu-efi-aarch64', `${AAVMF}/AAVMF_VARS.ms.fd`, AA_SB, 'QEMU_VARS-pflash.microsoft.raw'),
  file('qemu-efi-aarch64', `${AAVMF}/AAVMF_VARS.snakeoil.fd`, AA_SB, 'QEMU_VARS-pflash.snakeoil.raw'),
  link('qemu-efi-aarch64', `${AAVMF}/AAVMF_CODE.fd`, 'AAVMF_CODE.no-secboot.fd'),
  link('qemu-efi-aarch64', `${AAVMF}/AAVMF_CODE.ms.fd`, 'AAVMF_CODE.secboot.fd'),
  link('qemu-efi-aarch64', `${AAVMF}/AAVMF_CODE.snakeoil.fd`, 'AAVMF_CODE.secboot.fd'),
  descriptor('qemu-efi-aarch64', '60-edk2-aarch64.json', AA, undefined, `${AAVMF}/AAVMF_CODE.fd`, `${AAVMF}/AAVMF_VARS.fd`),
  descriptor('qemu-efi-aarch64', '50-edk2-aarch64-secure.json', AA_SB, undefined, `${AAVMF}/AAVMF_CODE.secboot.fd`, `${AAVMF}/AAVMF_VARS.fd`),
  descriptor('qemu-efi-aarch64', '40-edk2-aarch64-secure-enrolled.json', AA_SB, 'microsoft', `${AAVMF}/AAVMF_CODE.ms.fd`, `${AAVMF}/AAVMF_VARS.ms.fd`),
  { package: 'qemu-efi-aarch64', path: '/usr/share/qemu-efi-aarch64/PkKek-1-snakeoil.pem', source: { kind: 'snakeoil', part: 'pem' } },
  { package: 'qemu-efi-aarch64', path: '/usr/share/qemu-efi-aarch64/PkKek-1-snakeoil.key', source: { kind: 'snakeoil', part: 'key' } },
  none('qemu-efi-aarch64', '/usr/share/qemu-efi-aarch64/QEMU_EFI.fd', BIOS),
  none('qemu-efi-aarch64', '/usr/share/doc/qemu-efi-aarch64/README.Debian', DOC),
  none('qemu-efi-aarch64', '/usr/share/doc/qemu-efi-aarch64/NEWS.Debian.gz', DOC),
  // qemu-efi-arm
  file('qemu-efi-arm', `${AAVMF}/AAVMF32_CODE.fd`, ARM, 'QEMU_EFI-pflash.raw'),
  file('qemu-efi-arm', `${AAVMF}/AAVMF32_VARS.fd`, ARM, 'QEMU_VARS-pflash.raw'),
  descriptor('qemu-efi-arm', '60-edk2-arm.json', ARM, undefined, `${AAVMF}/AAVMF32_CODE.fd`, `${AAVMF}/AAVMF32_VARS.fd`),
  none('qemu-efi-arm', '/usr/share/doc/qemu-efi-arm/README.Debian', DOC),
  // qemu-efi-riscv64, qemu-efi-loongarch64
  file('qemu-efi-riscv64', '/usr/share/qemu-efi-riscv64/RISCV_VIRT_CODE.fd', RV, 'RISCV_VIRT_CODE-pflash.raw'),
  file('qemu-efi-riscv64', '/usr/share/qemu-efi-riscv64/RISCV_VIRT_VARS.fd', RV, 'RISCV_VIRT_VARS-pflash.raw'),
  descriptor('qemu-efi-riscv64', '60-edk2-riscv64.json', RV, undefined, '/usr/share/qemu-efi-riscv64/RISCV_VIRT_CODE.fd', '/usr/share/qemu-efi-riscv64/RISCV_VIRT_VARS.fd'),
  none('qemu-efi-riscv64', '/usr/share/doc/qemu-efi-riscv64/README.Debian', DOC),
  file('qemu-efi-loongarch64', '/usr/share/qemu-efi-loongarch64/QEMU_EFI.fd', LA, 'QEMU_EFI-pflash.raw'),
  file('qemu-efi-loongarch64', '/usr/share/qemu-efi-loongarch64/QEMU_VARS.fd', LA, 'QEMU_VARS-pflash.raw'),
  descriptor('qemu-efi-loongarch64', '60-edk2-loongarch64.json', LA, undefined, '/usr/share/qemu-efi-loongarch64/QEMU_EFI.fd', '/usr/share/qemu-efi-loongarch64/QEMU_VARS.fd'),
];

/** The variant a Debian file needs from the release, if any (links need their target's). */
export function variantOf(f: DebianFile): string | undefined {
  const s = f.source;
  if (s.kind === 'file' || s.kind === 'descriptor') return s.variant;
  if (s.kind === 'link') {
    const dir = f.path.slice(0, f.path.lastIndexOf('/'));
    const target = DEBIAN_FILES.find((t) => t.path === `${dir}/${s.target}`);
    return target && variantOf(target);
  }
  if (s.kind === 'snakeoil') return f.package === 'ovmf' ? X64_SB : AA_SB;
  return undefined;
}

/** Every variant the complete Debian layout takes files from. */
export const DEBIAN_VARIANTS: readonly string[] = [...new Set(DEBIAN_FILES.map(variantOf).filter((v): v is string => v !== undefined))];

function ours(f: DebianFile): string {
  const s = f.source;
  switch (s.kind) {
    case 'file': return `\`${s.variant}/${s.file}\``;
    case 'link': return `link to \`${s.target}\`, as Debian's`;
    case 'descriptor': return `\`${s.variant}/\`'s ${s.keySet ? `${s.keySet} store's ` : ''}descriptor, naming \`${s.code.split('/').pop()!}\` and \`${s.vars.split('/').pop()!}\``;
    case 'snakeoil': return `\`keys/secureboot/snakeoil.${s.part}\` (the key the snakeoil stores are enrolled with)`;
    case 'none': return `not provided: ${s.why}`;
  }
}

/** The table docs/downstream.md shows: one row per Debian file, ours beside it. */
export function debianTable(): string {
  return ['| package | Debian installs | `pull --layout debian` installs |', '|---|---|---|',
    ...DEBIAN_FILES.map((f) => `| ${f.package} | \`${f.path}\` | ${ours(f)} |`)].join('\n');
}
