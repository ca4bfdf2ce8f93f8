/**
 * Which licence texts a variant's archive must carry, and the SPDX ids and suppliers its SBOM
 * names: edk2's own (BSD-2-Clause-Patent, always; OvmfPkg's notice for OVMF builds) and each
 * library edk2 bundles that the variant links. Pure.
 *
 * "Links" is decided from the platform and the variant's defines, not from the build's map
 * files: an approximation that errs on the side of carrying a text. OpenSSL is linked wherever
 * BaseCryptLib is: on OvmfPkg's platforms (x86, RISC-V, LoongArch) with Secure Boot, TPM 2.0,
 * TLS or iSCSI (which x86 OVMF enables by default, with networking); on ArmVirtQemu (AArch64)
 * with Secure Boot, TPM 2.0, TLS or iSCSI. libfdt is in every platform that reads QEMU's device
 * tree (ArmVirtQemu, RISC-V's and LoongArch's virt: platforms.ts's `libfdt`). Brotli, MbedTLS
 * (32-bit ARM only), MIPI SyS-T and libspdm are referenced by no platform DSC we build
 * (edk2-stable2025xx), so no variant carries them.
 */
import type { Manifest } from '../domain.ts';
import { ReleaseError } from '../errors.ts';
import { dscLinksLibfdt } from '../platforms.ts';

export interface BundledLicence {
  /** Component name as the source scan names it (last part of its submodule path), or `edk2`. */
  readonly name: string;
  /** SPDX licence expression. */
  readonly spdx: string;
  readonly supplier: { readonly name: string; readonly url: string };
}

type Defines = Readonly<Record<string, string>>;

interface Rule extends BundledLicence {
  /** Licence files, relative to the component's directory, the first present one wins. */
  readonly files: readonly string[];
  readonly linked: (m: Pick<Manifest, 'dsc' | 'arch' | 'defines'>) => boolean;
}

const on = (defines: Defines, name: string, dflt: boolean) => (defines[name] ?? (dflt ? 'TRUE' : 'FALSE')).toUpperCase() === 'TRUE';
const isOvmf = (dsc: string) => dsc.startsWith('OvmfPkg/');
const isArmVirt = (dsc: string) => dsc.startsWith('ArmVirtPkg/');

/** Does the build link BaseCryptLib? Defaults as the platform DSCs set them. */
function usesCrypto(m: Pick<Manifest, 'dsc' | 'defines'>): boolean {
  const d = m.defines;
  const ovmf = isOvmf(m.dsc);
  const iscsi = on(d, 'NETWORK_ENABLE', true) && on(d, 'NETWORK_ISCSI_ENABLE', ovmf);
  return on(d, 'SECURE_BOOT_ENABLE', false) || on(d, 'TPM2_ENABLE', false) || on(d, 'NETWORK_TLS_ENABLE', false) || iscsi;
}

const TIANOCORE = { name: 'TianoCore (edk2 project)', url: 'https://www.tianocore.org' };

export const EDK2_LICENCE: BundledLicence = { name: 'edk2', spdx: 'BSD-2-Clause-Patent', supplier: TIANOCORE };

const RULES: readonly Rule[] = [
  { ...EDK2_LICENCE, files: ['License.txt'], linked: () => true },
  { name: 'ovmf', spdx: 'BSD-2-Clause-Patent', supplier: TIANOCORE, files: ['OvmfPkg/License.txt'], linked: (m) => isOvmf(m.dsc) },
  {
    name: 'openssl', spdx: 'Apache-2.0', supplier: { name: 'OpenSSL Software Foundation', url: 'https://www.openssl.org' },
    files: ['LICENSE.txt', 'LICENSE'], linked: (m) => (isOvmf(m.dsc) || (isArmVirt(m.dsc) && m.arch !== 'ARM')) && usesCrypto(m),
  },
  {
    name: 'mbedtls', spdx: 'Apache-2.0 OR GPL-2.0-or-later', supplier: { name: 'Mbed TLS (Trusted Firmware project)', url: 'https://www.trustedfirmware.org/projects/mbed-tls/' },
    files: ['LICENSE'], linked: (m) => isArmVirt(m.dsc) && m.arch === 'ARM' && usesCrypto(m),
  },
  {
    name: 'libfdt', spdx: 'BSD-2-Clause OR GPL-2.0-or-later', supplier: { name: 'devicetree.org (dtc project)', url: 'https://www.devicetree.org' },
    files: ['BSD-2-Clause', 'GPL'], linked: (m) => dscLinksLibfdt(m.dsc),
  },
  { name: 'brotli', spdx: 'MIT', supplier: { name: 'Google LLC', url: 'https://github.com/google/brotli' }, files: ['LICENSE'], linked: () => false },
  { name: 'mipisyst', spdx: 'BSD-3-Clause', supplier: { name: 'MIPI Alliance', url: 'https://www.mipi.org' }, files: ['LICENSE'], linked: () => false },
  { name: 'libspdm', spdx: 'BSD-3-Clause', supplier: { name: 'DMTF', url: 'https://www.dmtf.org' }, files: ['LICENSE.md'], linked: () => false },
];

/** SPDX id and supplier of a bundled library the source scan found, when we know it. */
export function licenceOf(name: string): BundledLicence | undefined {
  const r = RULES.find((x) => x.name === name);
  return r && { name: r.name, spdx: r.spdx, supplier: r.supplier };
}

export interface LicenceText extends BundledLicence {
  /** Name inside the archive: `LICENSE-edk2.txt`, `LICENSE-openssl-GPL.txt`, ... */
  readonly file: string;
  /** Where it was read from in the source tree. */
  readonly sourcePath: string;
  readonly data: Buffer;
}

/**
 * The licence texts `m`'s archive carries, in a fixed order. Refuses when a linked library's
 * text is not in the source (a source without it cannot be redistributed as built).
 */
export function variantLicences(m: Pick<Manifest, 'id' | 'dsc' | 'arch' | 'defines' | 'source'>, licenceFiles: Readonly<Record<string, string>>): LicenceText[] {
  const out: LicenceText[] = [];
  for (const rule of RULES) {
    if (!rule.linked(m)) continue;
    const dir = rule.name === 'edk2' || rule.name === 'ovmf' ? '' : m.source.components.find((c) => c.name === rule.name)?.path;
    // A library the source does not bundle is not linked from it either.
    if (dir === undefined) continue;
    const paths = rule.files.map((f) => (dir ? `${dir}/${f}` : f)).filter((p) => licenceFiles[p] !== undefined);
    if (!paths.length) {
      throw new ReleaseError(`variant ${m.id}`, `links ${rule.name} (${rule.spdx}) but the source has no ${rule.files.join(' or ')} for it`,
        'a release must carry the licence of everything it links: check the source');
    }
    // Dual-licensed libraries ship each of their texts (libfdt: BSD-2-Clause and GPL).
    const all = rule.name === 'libfdt' ? paths : paths.slice(0, 1);
    for (const p of all) {
      const suffix = all.length > 1 ? `-${p.split('/').pop()!.replace(/\.(txt|md)$/i, '')}` : '';
      out.push({ name: rule.name, spdx: rule.spdx, supplier: rule.supplier, file: `LICENSE-${rule.name}${suffix}.txt`, sourcePath: p, data: Buffer.from(licenceFiles[p]!) });
    }
  }
  return out;
}
