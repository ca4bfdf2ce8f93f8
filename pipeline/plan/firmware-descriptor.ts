/**
 * The QEMU firmware interop descriptor of a variant (QEMU docs/interop/firmware.json): what
 * libvirt reads from /usr/share/qemu/firmware/ to pick firmware by itself. Paths are where a
 * packager installs the files (the configured install prefix); features say exactly how the
 * variant was built.
 */
import type { Variant } from '../domain.ts';
import { archFacts } from '../platforms.ts';
import { descriptorName, ENROLLED_PRIORITY, enrolledVarsName } from '../layout.ts';
import { firmwareDescriptorSchema, type FirmwareDescriptor, type FirmwareFeature } from './qemu-firmware-schema.ts';
import { isSmm, isTrue, isX86 } from '../config/variant-facts.ts';

/** `{id}` and `{arch}` in the configured prefix become the variant's id and lower-case arch. */
export function installDir(prefix: string, variant: Variant): string {
  return prefix.replaceAll('{id}', variant.id).replaceAll('{arch}', variant.arch.toLowerCase()).replace(/\/+$/, '');
}

export function descriptorFeatures(v: Variant): FirmwareFeature[] {
  const features: FirmwareFeature[] = [];
  // OVMF implements S3 on q35 and i440fx (with SMM too, through its lockbox).
  if (isX86(v)) features.push('acpi-s3');
  if (isSmm(v)) features.push('requires-smm');
  if (isTrue(v, 'SECURE_BOOT_ENABLE')) features.push('secure-boot');
  // Our vars templates are built, not enrolled: `enrolled-keys` is never claimed.
  if (v.target !== 'RELEASE') {
    // OVMF logs to the debug console port (captured only on request) unless sent to serial;
    // ArmVirtQemu always logs to the PL011 UART.
    features.push(isX86(v) && !isTrue(v, 'DEBUG_ON_SERIAL_PORT') ? 'verbose-dynamic' : 'verbose-static');
  }
  return features.sort();
}

/** The usual priorities: 40 for enrolled keys, 50 for secure boot, 60 for the rest. */
export function descriptorFileName(v: Variant): string {
  const features = descriptorFeatures(v);
  const priority = features.includes('enrolled-keys') ? 40 : features.includes('secure-boot') ? 50 : 60;
  return descriptorName(priority, v.id);
}

/** The descriptor of a key set's store: its own vars template, `enrolled-keys`, priority 40 and up. */
export function enrolledDescriptor(v: Variant, prefix: string, keySet: string): FirmwareDescriptor {
  const d = firmwareDescriptor(v, prefix);
  if (d.mapping.device !== 'flash' || !d.mapping['nvram-template']) throw new Error('a flash descriptor has a vars template');
  return firmwareDescriptorSchema.parse({
    ...d,
    description: `${d.description}, ${keySet} keys enrolled`,
    mapping: { ...d.mapping, 'nvram-template': { ...d.mapping['nvram-template'], filename: `${installDir(prefix, v)}/${enrolledVarsName(v.platform.vars.published, keySet)}` } },
    features: [...d.features, 'enrolled-keys'].sort(),
    tags: [...d.tags, `edk2-matrix:keys=${keySet}`],
  });
}

/**
 * 40 for the first key set the matrix lists, 41 for the next...: a program picking firmware by
 * its features (libvirt asked for `enrolled-keys`) takes the one listed first.
 */
export function enrolledDescriptorFileName(v: Variant, keySet: string): string {
  const index = v.keySets.findIndex((k) => k.name === keySet);
  if (index === -1) throw new Error(`${v.id} enrolls no key set ${keySet}`);
  return descriptorName(ENROLLED_PRIORITY + index, `${v.id}-${keySet}`);
}

export function firmwareDescriptor(v: Variant, prefix: string): FirmwareDescriptor {
  const dir = installDir(prefix, v);
  const flags = [
    ...Object.entries(v.defines).map(([k, val]) => `-D ${k}=${val}`),
    ...Object.entries(v.pcds).map(([k, val]) => `--pcd ${k}=${val}`),
  ].sort();
  const descriptor: FirmwareDescriptor = {
    description: `UEFI firmware for ${archFacts(v.arch).qemuTarget} (edk2-matrix ${v.id}: ${v.platform.dsc}, ${v.target}${v.features.length ? `, ${v.features.join(' + ')}` : ''})`,
    'interface-types': ['uefi'],
    mapping: {
      device: 'flash',
      mode: 'split',
      executable: { filename: `${dir}/${v.platform.code.published}`, format: 'raw' },
      'nvram-template': { filename: `${dir}/${v.platform.vars.published}`, format: 'raw' },
    },
    targets: [{
      architecture: archFacts(v.arch).qemuTarget,
      // SMM exists only on q35; without it OVMF also runs on i440fx.
      machines: isSmm(v) ? ['pc-q35-*'] : [...archFacts(v.arch).descriptorMachines],
    }],
    features: descriptorFeatures(v),
    tags: [`edk2-matrix:${v.id}`, ...flags],
  };
  // Never publish what QEMU's schema would refuse.
  return firmwareDescriptorSchema.parse(descriptor);
}
