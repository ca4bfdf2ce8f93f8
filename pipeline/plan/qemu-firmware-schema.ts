/**
 * QEMU's firmware descriptor schema (QEMU docs/interop/firmware.json, the `Firmware` QAPI
 * struct and what it uses) transcribed to zod, so that every descriptor we publish is checked
 * against it. QAPI structs reject members they do not define, hence strict objects.
 */
import { z } from 'zod';

/** QAPI `SysEmuTarget` (the qemu-system-* emulators). */
export const SYS_EMU_TARGETS = [
  'aarch64', 'alpha', 'arm', 'avr', 'hppa', 'i386', 'loongarch64', 'm68k', 'microblaze', 'microblazeel',
  'mips', 'mips64', 'mips64el', 'mipsel', 'or1k', 'ppc', 'ppc64', 'riscv32', 'riscv64', 'rx', 's390x',
  'sh4', 'sh4eb', 'sparc', 'sparc64', 'tricore', 'x86_64', 'xtensa', 'xtensaeb',
] as const;

/** QAPI `FirmwareFeature`. */
export const FIRMWARE_FEATURES = [
  'acpi-s3', 'acpi-s4', 'amd-sev', 'amd-sev-es', 'amd-sev-snp', 'intel-tdx', 'enrolled-keys',
  'requires-smm', 'secure-boot', 'host-uefi-vars', 'verbose-dynamic', 'verbose-static',
] as const;
export type FirmwareFeature = (typeof FIRMWARE_FEATURES)[number];

/** The image formats of QAPI `BlockdevDriver` a firmware file can have. */
const BLOCK_FORMATS = ['raw', 'qcow2', 'qed', 'vmdk', 'vdi', 'vpc', 'vhdx', 'luks', 'parallels', 'bochs', 'cloop', 'dmg'] as const;

const flashFile = z.strictObject({
  filename: z.string(),
  format: z.enum(BLOCK_FORMATS),
});

const mappingFlash = z
  .strictObject({
    device: z.literal('flash'),
    mode: z.enum(['split', 'combined', 'stateless']).optional(),
    executable: flashFile,
    'nvram-template': flashFile.optional(),
  })
  .refine((m) => (m.mode ?? 'split') !== 'split' || m['nvram-template'] !== undefined, {
    message: 'split mode (the default) needs nvram-template',
  });

const mappingFile = (device: 'kernel' | 'memory') => z.strictObject({ device: z.literal(device), filename: z.string() });

export const firmwareDescriptorSchema = z.strictObject({
  description: z.string(),
  'interface-types': z.array(z.enum(['bios', 'openfirmware', 'uboot', 'uefi'])).min(1),
  mapping: z.union([mappingFlash, mappingFile('kernel'), mappingFile('memory')]),
  targets: z.array(z.strictObject({ architecture: z.enum(SYS_EMU_TARGETS), machines: z.array(z.string()) })),
  features: z.array(z.enum(FIRMWARE_FEATURES)),
  tags: z.array(z.string()),
});

export type FirmwareDescriptor = z.output<typeof firmwareDescriptorSchema>;

/** A descriptor's file text, indented as QEMU's and Debian's are, with a final newline. */
export function descriptorJson(d: FirmwareDescriptor): string {
  return `${JSON.stringify(d, null, 4)}\n`;
}
