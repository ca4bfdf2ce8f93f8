/**
 * A variant's CycloneDX 1.6 SBOM: the firmware (metadata.component, with its defines and
 * PCDs as properties), every output file with its sha256, the edk2 source it was built from
 * (package URL, source files with their digests) and the libraries that source bundles, and
 * the toolchain of the builder image as the formulation. Everything comes from the variant's
 * manifest and the release info; pure and deterministic (the timestamp is SOURCE_DATE_EPOCH).
 */
import { createHash } from 'node:crypto';
import type { ArtifactFile, Manifest, ReleaseInfo, SourceOrigin } from '../domain.ts';

/** Builder packages that make the firmware (the rest of the image only runs them). */
const TOOLCHAIN = /^(gcc|gcc-\d+|cpp-\d+|g\+\+|binutils|binutils-[a-z0-9_-]+|gcc-\d+-[a-z0-9_-]+|gcc-[a-z0-9_-]+-linux-gnu[a-z]*|nasm|acpica-tools|python3|python3\.\d+|make|uuid-dev|ccache|libc6-dev|linux-libc-dev)=/;

type Json = Record<string, unknown>;

/** `pkg:deb/debian/name@version`, the version percent-encoded as the purl spec asks. */
export function debianPurl(name: string, version: string, arch?: string): string {
  return `pkg:deb/debian/${name}@${encodeURIComponent(version)}${arch ? `?arch=${arch}` : ''}`;
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
      return debianPurl(origin.package, origin.version, 'source');
    case 'git':
      return `pkg:generic/edk2@${origin.commit}?vcs_url=${encodeURIComponent(`git+${origin.url}@${origin.commit}`)}`;
    case 'archive':
      return `pkg:generic/edk2?download_url=${encodeURIComponent(origin.location)}`;
  }
}

const sha256Hash = (hex: string) => [{ alg: 'SHA-256', content: hex }];
const prop = (name: string, value: string) => ({ name: `edk2-matrix:${name}`, value });

/** `files`: every file of the variant's archive (manifest.json included), names relative to it. */
export function variantSbom(m: Manifest, files: readonly ArtifactFile[], release: ReleaseInfo): Json {
  const variantRef = `variant:${m.id}`;
  const sourceRef = 'source:edk2';
  const fileRef = (f: ArtifactFile) => `file:${m.id}/${f.path}`;
  const origin = m.source.origin;
  const edk2 = {
    type: 'library',
    'bom-ref': sourceRef,
    name: 'edk2',
    ...(origin.kind === 'debian' ? { version: origin.version } : origin.kind === 'git' ? { version: origin.commit } : {}),
    description: m.source.description,
    purl: sourcePurl(origin),
    externalReferences: m.source.digests.map((d) => ({ type: 'source-distribution', url: d.name, hashes: sha256Hash(d.sha256) })),
    components: m.source.components.map((c) => ({
      type: 'library',
      'bom-ref': `source:edk2/${c.path}`,
      name: c.name,
      ...(c.version ? { version: c.version } : {}),
      purl: `pkg:generic/${c.name}${c.version ? `@${encodeURIComponent(c.version)}` : ''}`,
      ...(c.url ? { externalReferences: [{ type: 'vcs', url: c.url }] } : {}),
      properties: [prop('path', c.path)],
    })),
  };
  const toolchain = m.builder.packages.filter((p) => TOOLCHAIN.test(p)).map((p) => {
    const [name, version] = p.split('=') as [string, string];
    return { type: 'application', 'bom-ref': `builder:${name}`, name, version, purl: debianPurl(name, version) };
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
      ...files.map((f) => ({
        type: 'file',
        'bom-ref': fileRef(f),
        name: f.path,
        hashes: sha256Hash(f.sha256),
        properties: [prop('size', String(f.size))],
      })),
      edk2,
    ],
    dependencies: [
      { ref: variantRef, dependsOn: [...files.map(fileRef), sourceRef] },
      { ref: sourceRef, dependsOn: edk2.components.map((c) => c['bom-ref']) },
    ],
    formulation: [{
      'bom-ref': 'formulation:builder',
      components: [
        {
          type: 'container', 'bom-ref': 'builder:image', name: 'edk2-matrix-builder', version: m.builder.digest,
          properties: [prop('packages-lock', m.builder.lock), ...(m.builder.snapshot ? [prop('archive-snapshot', m.builder.snapshot)] : [])],
        },
        ...toolchain,
      ],
    }],
  };
}
