/**
 * A variant's CycloneDX 1.6 SBOM: the firmware (metadata.component, with its defines and
 * PCDs as properties), every file of its archive with its sha256 (licence texts included), the
 * edk2 source it was built from (package URL, the files it was fetched as, the patches applied
 * as its pedigree, licence and supplier) and the libraries that source bundles (those the
 * variant links are its dependencies, with SPDX licence and supplier), and as the formulation
 * the builder image with every package its lock pins (toolchain, enrolment tool and the rest),
 * each with a canonical Debian package URL. Everything comes from the variant's manifest, the
 * source's notices and the release info; pure and deterministic (the timestamp is
 * SOURCE_DATE_EPOCH, the serial number derives from the content key and tag).
 */
import { createHash } from 'node:crypto';
import type { ArtifactFile, Manifest, ReleaseInfo, SourceOrigin } from '../domain.ts';
import { EDK2_LICENCE, licenceOf, type BundledLicence, type LicenceText } from './licences.ts';

/** Builder packages that make the firmware (the rest of the image only runs them). */
const TOOLCHAIN = /^(gcc|gcc-\d+|cpp|cpp-\d+|g\+\+|binutils|binutils-[a-z0-9_-]+|gcc-\d+-[a-z0-9_-]+|gcc-[a-z0-9_-]+-linux-gnu[a-z]*|cpp-[a-z0-9_-]+-linux-gnu[a-z]*|nasm|acpica-tools|python3|python3\.\d+|make|uuid-dev|ccache|libc6-dev|linux-libc-dev)$/;
/** Builder packages that write what the archive carries besides the build's own output. */
const ENROLMENT = /^(python3-virt-firmware)$/;

type Json = Record<string, unknown>;

/** purl percent-encoding: everything but unreserved characters; `:` and `+` stay as they are in a version. */
const purlEncode = (s: string, keep = '') =>
  encodeURIComponent(s).replace(/%([0-9A-F]{2})/g, (m, hex: string) => (keep.includes(String.fromCharCode(parseInt(hex, 16))) ? String.fromCharCode(parseInt(hex, 16)) : m));

/** Canonical `pkg:deb/debian/name@version?arch=…&distro=…` (qualifiers sorted, epoch colon as is). */
export function debianPurl(name: string, version: string, qualifiers: { arch?: string | undefined; distro?: string | undefined } = {}): string {
  const q = Object.entries(qualifiers).filter(([, v]) => v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${purlEncode(v!)}`);
  return `pkg:deb/debian/${purlEncode(name)}@${purlEncode(version, ':+')}${q.length ? `?${q.join('&')}` : ''}`;
}

/** `debian-13` from the image's base-files version (Debian numbers its releases there). */
export function builderDistro(packages: readonly string[]): string | undefined {
  const v = packages.find((p) => p.startsWith('base-files='))?.slice('base-files='.length);
  const major = v && /^(\d+)[.+]/.exec(v)?.[1];
  return major ? `debian-${major}` : undefined;
}

/**
 * The builder's Debian architecture, told by which cross libraries it carries (an amd64 builder
 * has arm64's, an arm64 builder amd64's); undefined when that does not tell.
 */
export function builderArch(packages: readonly string[]): string | undefined {
  const names = new Set(packages.map((p) => p.split('=')[0]));
  if (names.has('libc6-arm64-cross') && !names.has('libc6-amd64-cross')) return 'amd64';
  if (names.has('libc6-amd64-cross') && !names.has('libc6-arm64-cross')) return 'arm64';
  return undefined;
}

/** A UUID (version 5 layout) derived from `seed`: the same release gives the same serial number. */
export function stableUuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

function sourcePurl(origin: SourceOrigin): string {
  switch (origin.kind) {
    case 'debian':
      return debianPurl(origin.package, origin.version, { arch: 'source' });
    case 'git':
      return `pkg:generic/edk2@${origin.commit}?vcs_url=${purlEncode(`git+${origin.url}@${origin.commit}`)}`;
    case 'archive':
      return /^https?:\/\//.test(origin.location) ? `pkg:generic/edk2?download_url=${purlEncode(origin.location)}` : 'pkg:generic/edk2';
    case 'tree':
      // Never released (assemble refuses a local tree); named for completeness.
      return origin.commit ? `pkg:generic/edk2@${origin.commit}` : 'pkg:generic/edk2';
  }
}

/** Where the source was fetched as: its files with their digests (a URL only where the configuration gave one: never a host path). */
function sourceDistribution(m: Manifest): Json[] {
  const origin = m.source.origin;
  const files = m.source.digests.filter((d) => !d.name.startsWith('patch '));
  switch (origin.kind) {
    case 'debian':
      return files.map((d) => ({ type: 'distribution', url: d.name, hashes: sha256Hash(d.sha256), comment: `file of Debian source package ${origin.package} ${origin.version} (pool/main of any Debian mirror)` }));
    case 'archive':
      return files.map((d) => ({ type: 'distribution', url: /^https?:\/\//.test(origin.location) ? origin.location : d.name, hashes: sha256Hash(d.sha256) }));
    case 'git':
      return [{ type: 'vcs', url: origin.url, comment: `commit ${origin.commit}` }];
    case 'tree':
      return [];
  }
}

const sha256Hash = (hex: string) => [{ alg: 'SHA-256', content: hex }];
const prop = (name: string, value: string) => ({ name: `edk2-matrix:${name}`, value });
const licences = (l: BundledLicence) => (l.spdx.includes(' ') ? [{ expression: l.spdx }] : [{ license: { id: l.spdx } }]);
const supplier = (l: BundledLicence) => ({ name: l.supplier.name, url: [l.supplier.url] });

/** edk2's build command line without `-n THREADS`, which depends on the machine, not on the firmware. */

export interface SbomNotices {
  /** The licence texts the archive carries (licences.ts). */
  readonly licences: readonly LicenceText[];
  /** The patches applied to the source, in order, by path in the tree. */
  readonly patches: readonly string[];
}

/** `files`: every file of the variant's archive (manifest.json included), names relative to it. */
export function variantSbom(m: Manifest, files: readonly ArtifactFile[], release: ReleaseInfo, notices: SbomNotices): Json {
  const variantRef = `variant:${m.id}`;
  const sourceRef = 'source:edk2';
  const fileRef = (f: ArtifactFile) => `file:${m.id}/${f.path}`;
  const origin = m.source.origin;
  const linked = new Set(notices.licences.map((l) => l.name));
  const licenceFile = new Map(notices.licences.map((l) => [l.file, l]));
  const bundled = m.source.components.map((c) => {
    const l = licenceOf(c.name);
    return {
      type: 'library',
      'bom-ref': `source:edk2/${c.path}`,
      name: c.name,
      ...(c.version ? { version: c.version } : {}),
      ...(l ? { supplier: supplier(l), licenses: licences(l) } : {}),
      purl: `pkg:generic/${purlEncode(c.name)}${c.version ? `@${purlEncode(c.version)}` : ''}`,
      ...(c.url ? { externalReferences: [{ type: 'vcs', url: c.url }] } : {}),
      properties: [prop('path', c.path), prop('linked', String(linked.has(c.name)))],
    };
  });
  const edk2 = {
    type: 'library',
    'bom-ref': sourceRef,
    supplier: supplier(EDK2_LICENCE),
    name: 'edk2',
    ...(origin.kind === 'debian' ? { version: origin.version } : origin.kind === 'git' ? { version: origin.commit } : {}),
    description: m.source.description,
    licenses: licences(EDK2_LICENCE),
    purl: sourcePurl(origin),
    externalReferences: sourceDistribution(m),
    ...(notices.patches.length ? { pedigree: { patches: notices.patches.map((p) => ({ type: 'unofficial', diff: { url: p } })) } } : {}),
    components: bundled,
  };
  const arch = builderArch(m.builder.packages);
  const distro = builderDistro(m.builder.packages);
  const builderPackages = m.builder.packages.map((p) => {
    const [name, version] = p.split('=') as [string, string];
    const role = TOOLCHAIN.test(name) ? 'toolchain' : ENROLMENT.test(name) ? 'enrolment' : 'builder-image';
    return {
      type: 'application', 'bom-ref': `builder:${name}`, supplier: { name: 'Debian' }, name, version,
      purl: debianPurl(name, version, { arch, distro }),
      properties: [prop('role', role)],
    };
  });
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: `urn:uuid:${stableUuid(`${m.key}\0${release.tag ?? ''}`)}`,
    version: 1,
    metadata: {
      timestamp: new Date(release.sourceDateEpoch * 1000).toISOString().replace(/\.000Z$/, 'Z'),
      tools: { components: [{ type: 'application', name: 'edk2-matrix', version: release.generatorVersion }] },
      component: {
        type: 'firmware',
        'bom-ref': variantRef,
        name: `edk2-matrix-${m.id}`,
        ...(release.tag ? { version: release.tag } : {}),
        description: `UEFI firmware for QEMU (${m.arch}, ${m.target}, ${m.dsc})`,
        licenses: [{ expression: [...new Set(notices.licences.map((l) => l.spdx))].map((x) => (x.includes(' ') ? `(${x})` : x)).join(' AND ') || EDK2_LICENCE.spdx }],
        properties: [
          prop('arch', m.arch),
          prop('target', m.target),
          prop('toolchain', m.toolchain),
          prop('dsc', m.dsc),
          prop('content-key', m.key),
          ...m.features.map((f) => prop('feature', f)),
          ...Object.entries(m.defines).sort().map(([k, v]) => prop(`define:${k}`, v)),
          ...Object.entries(m.pcds).sort().map(([k, v]) => prop(`pcd:${k}`, v)),
          prop('build-args', m.build.args.join(' ')),
        ],
      },
    },
    components: [
      ...files.map((f) => {
        const l = licenceFile.get(f.path);
        return {
          type: 'file',
          'bom-ref': fileRef(f),
          name: f.path,
          hashes: sha256Hash(f.sha256),
          properties: [prop('size', String(f.size)), ...(l ? [prop('licence-text-of', l.name), prop('licence-source-path', l.sourcePath)] : [])],
        };
      }),
      edk2,
    ],
    dependencies: [
      { ref: variantRef, dependsOn: [...files.map(fileRef), sourceRef] },
      { ref: sourceRef, dependsOn: bundled.filter((c) => linked.has(c.name)).map((c) => c['bom-ref']) },
    ],
    formulation: [{
      'bom-ref': 'formulation:builder',
      components: [
        {
          type: 'container', 'bom-ref': 'builder:image', name: 'edk2-matrix-builder', version: m.builder.digest,
          properties: [prop('packages-lock', m.builder.lock), ...(m.builder.snapshot ? [prop('archive-snapshot', m.builder.snapshot)] : [])],
        },
        ...builderPackages,
      ],
    }],
  };
}
