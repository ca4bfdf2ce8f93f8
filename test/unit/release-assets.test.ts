/**
 * What a release's assets hold beyond the firmware, and that they depend on nothing but what
 * was built: licence texts per variant, an SBOM a scanner can use (canonical purls checked by a
 * purl parser, the whole locked builder), and byte-identical assets from two shards that differ
 * only in their run records.
 */
import { readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { PackageURL } from 'packageurl-js';
import { describe, expect, it } from 'vitest';
import type { BuildRecord, Manifest, ReleaseIndex } from '../../pipeline/domain.ts';
import { assembleRelease } from '../../pipeline/release/assemble.ts';
import { variantLicences } from '../../pipeline/release/licences.ts';
import { builderArch, builderDistro, debianPurl } from '../../pipeline/release/sbom.ts';
import { sourceNotices } from '../../pipeline/source/source-notices.ts';
import { BOOT_RECORD, BUILD_LOG, BUILD_RECORD, MANIFEST_FILE, RUN_RECORDS } from '../../pipeline/layout.ts';
import { FAKE_IMAGE, FAKE_NOTICES, FAKE_SOURCE, fakeVariants, writeFakeVariant } from '../helpers/fake-artifacts.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const log = { info: () => {}, warn: () => {} };
const run = { builderId: 'urn:test', invocationId: undefined, repository: undefined };
const LOCK = readFileSync(join(import.meta.dirname, '../../dockerfiles/builder/packages.lock'), 'utf8')
  .split('\n').filter((l) => l && !l.startsWith('#'));

/**
 * One shard with x64 and aarch64 stand-ins in the run-independent format (the manifest lists no
 * run record), then run records written beside as a build of `seed` would leave them.
 */
async function shard(dir: string, seed: string, reverse: boolean): Promise<string> {
  const variants = fakeVariants();
  for (const v of reverse ? variants.reverse() : variants) {
    await writeFakeVariant(dir, v, { image: { ...FAKE_IMAGE, packages: LOCK } });
    const where = join(dir, v.id);
    const m = JSON.parse(readFileSync(join(where, MANIFEST_FILE), 'utf8')) as Manifest;
    const manifest = { ...m, files: m.files.filter((f) => !RUN_RECORDS.includes(f.path)) };
    writeFileSync(join(where, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    writeFileSync(join(where, BUILD_LOG), `build of ${v.id} on ${seed}, -n ${seed.length}\n`);
    const record = JSON.parse(readFileSync(join(where, BUILD_RECORD), 'utf8')) as BuildRecord;
    writeFileSync(join(where, BUILD_RECORD), JSON.stringify({ ...record, seconds: seed.length * 100, threads: seed.length, image: `sha256:${seed}` }));
    writeFileSync(join(where, BOOT_RECORD), JSON.stringify({ ok: true, secondsToShell: seed.length, accel: 'tcg', shellDisk: false, at: seed }));
    for (const f of readdirSync(where)) utimesSync(join(where, f), seed.length * 1000, seed.length * 1000);
  }
  return dir;
}

const filesOf = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))]));

describe('reproducible release assets', () => {
  it('assembles byte-identical assets and SHA256SUMS from two builds that differ only in their run records', async () => {
    const root = tempDir('rel-repro-');
    const out = [join(root, 'one'), join(root, 'two')];
    for (const [i, seed] of ['machine-a', 'the-other-machine-b'].entries()) {
      await assembleRelease({
        from: [await shard(join(root, `shard-${i}`), seed, i === 1)], out: out[i]!, config: undefined, tag: 'v2026.12.0', commit: 'c'.repeat(40),
        sourceDateEpoch: undefined, run, notices: FAKE_NOTICES, log,
      });
    }
    const [a, b] = out.map(filesOf);
    expect(Object.keys(a!)).toEqual(Object.keys(b!));
    for (const name of Object.keys(a!)) expect(a![name]!.equals(b![name]!), name).toBe(true);
    const index = JSON.parse(a!['index.json']!.toString()) as ReleaseIndex;
    for (const v of index.variants) {
      expect(v).not.toHaveProperty('buildSeconds');
      expect(v).not.toHaveProperty('boot');
      for (const record of RUN_RECORDS) expect(v.files.map((f) => f.path)).not.toContain(`${v.id}/${record}`);
    }
    // Nothing names the machine that assembled it.
    for (const [name, data] of Object.entries(a!)) expect(data.includes(Buffer.from(root)), name).toBe(false);
    rmSync(root, { recursive: true, force: true });
  });
});

describe('licence texts', () => {
  const [x64, aarch64] = fakeVariants();
  const source = {
    ...FAKE_SOURCE,
    components: [...FAKE_SOURCE.components, { name: 'libfdt', path: 'MdePkg/Library/BaseFdtLib/libfdt', url: undefined, version: undefined }],
  };
  const texts: Record<string, string> = {
    ...FAKE_NOTICES.licenceFiles,
    'MdePkg/Library/BaseFdtLib/libfdt/BSD-2-Clause': 'BSD-2-Clause text\n',
    'MdePkg/Library/BaseFdtLib/libfdt/GPL': 'GPL text\n',
  };
  const manifest = (v: typeof x64, defines: Record<string, string> = {}) =>
    ({ id: v!.id, dsc: v!.platform.dsc, arch: v!.arch, defines: { ...v!.defines, ...defines }, source });

  it('gives OVMF edk2\'s, OvmfPkg\'s and OpenSSL\'s (linked through iSCSI by default), and drops OpenSSL when nothing links crypto', () => {
    expect(variantLicences(manifest(x64), texts).map((l) => [l.file, l.spdx])).toEqual([
      ['LICENSE-edk2.txt', 'BSD-2-Clause-Patent'], ['LICENSE-ovmf.txt', 'BSD-2-Clause-Patent'], ['LICENSE-openssl.txt', 'Apache-2.0'],
    ]);
    expect(variantLicences(manifest(x64, { NETWORK_ISCSI_ENABLE: 'FALSE' }), texts).map((l) => l.name)).toEqual(['edk2', 'ovmf']);
  });

  it('gives ArmVirtQemu libfdt\'s both texts, and OpenSSL\'s only with Secure Boot, TPM, TLS or iSCSI', () => {
    expect(variantLicences(manifest(aarch64), texts).map((l) => l.file)).toEqual(['LICENSE-edk2.txt', 'LICENSE-libfdt-BSD-2-Clause.txt', 'LICENSE-libfdt-GPL.txt']);
    expect(variantLicences(manifest(aarch64, { SECURE_BOOT_ENABLE: 'TRUE' }), texts).map((l) => l.name)).toContain('openssl');
  });

  it('refuses a variant that links a library whose licence text the source lacks', () => {
    const { 'CryptoPkg/Library/OpensslLib/openssl/LICENSE.txt': _gone, ...without } = texts;
    expect(() => variantLicences(manifest(x64), without)).toThrow(/x64-debug: links openssl \(Apache-2.0\) but the source has no LICENSE.txt or LICENSE/);
  });

  it('reads the top-level licence files of the tree and its bundled libraries, and the patch series in order', () => {
    const files = new Map([
      ['.gitmodules', '[submodule "o"]\n path = CryptoPkg/Library/OpensslLib/openssl\n url = https://example.org/o\n'],
      ['License.txt', 'edk2'], ['CryptoPkg/Library/OpensslLib/openssl/LICENSE.txt', 'apache'],
      ['CryptoPkg/Library/OpensslLib/openssl/external/perl/Text-Template-1.56/LICENSE', 'perl'],
      ['debian/patches/series', 'a.patch\n# comment\nb.diff -p1\n'], ['.edk2-matrix/patches/series', '0001-x.patch\n'],
    ]);
    const n = sourceNotices(FAKE_SOURCE.digests, files, [...files.keys()]);
    expect(Object.keys(n.licenceFiles)).toEqual(['CryptoPkg/Library/OpensslLib/openssl/LICENSE.txt', 'License.txt']);
    expect(n.patches).toEqual(['debian/patches/a.patch', 'debian/patches/b.diff', '.edk2-matrix/patches/0001-x.patch']);
  });
});

describe('SBOM for scanners', () => {
  it('writes canonical Debian purls with arch and distro, the epoch colon as it is', () => {
    expect(debianPurl('cpp', '4:14.2.0-1', { distro: 'debian-13', arch: 'amd64' })).toBe('pkg:deb/debian/cpp@4:14.2.0-1?arch=amd64&distro=debian-13');
    expect(debianPurl('g++-14', '14.2.0-19')).toBe('pkg:deb/debian/g%2B%2B-14@14.2.0-19');
    expect(builderDistro(LOCK)).toBe('debian-13');
    expect(builderArch(LOCK)).toBe('amd64');
  });

  it('lists every locked builder package and the enrolment tool with purls a purl parser keeps as they are, licences, suppliers and patches', async () => {
    const root = tempDir('rel-sbom-');
    const out = join(root, 'out');
    await assembleRelease({
      from: [await shard(join(root, 'shard'), 'seed', false)], out, config: undefined, tag: 'v2026.12.0', commit: undefined,
      sourceDateEpoch: undefined, run, notices: FAKE_NOTICES, log,
    });
    const text = readFileSync(join(out, 'x64-debug.cdx.json'), 'utf8');
    expect(await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(text)).toBeNull();
    const sbom = JSON.parse(text);
    const packages = sbom.formulation[0].components.filter((c: { purl?: string }) => c.purl);
    expect(packages).toHaveLength(LOCK.length);
    for (const p of packages) {
      expect(PackageURL.fromString(p.purl).toString(), p.name).toBe(p.purl);
      expect(p.purl).toMatch(/\?arch=amd64&distro=debian-13$/);
    }
    const virt = packages.find((p: { name: string }) => p.name === 'python3-virt-firmware');
    expect(virt.properties).toContainEqual({ name: 'edk2-matrix:role', value: 'enrolment' });
    expect(packages.find((p: { name: string }) => p.name === 'cpp').purl).toBe('pkg:deb/debian/cpp@4:14.2.0-1?arch=amd64&distro=debian-13');
    const edk2 = sbom.components.find((c: { name: string }) => c.name === 'edk2');
    expect(PackageURL.fromString(edk2.purl).toString()).toBe(edk2.purl);
    expect(edk2).toMatchObject({ licenses: [{ license: { id: 'BSD-2-Clause-Patent' } }], supplier: { name: expect.stringMatching(/TianoCore/) } });
    expect(edk2.externalReferences).toContainEqual(expect.objectContaining({ type: 'distribution', url: 'edk2_2025.02.orig.tar.xz', hashes: [{ alg: 'SHA-256', content: FAKE_SOURCE.digests[0]!.sha256 }] }));
    expect(edk2.pedigree.patches).toEqual([{ type: 'unofficial', diff: { url: 'debian/patches/no-stack-protector-all-archs.diff' } }]);
    expect(edk2.components[0]).toMatchObject({ name: 'openssl', licenses: [{ license: { id: 'Apache-2.0' } }] });
    expect(sbom.components.map((c: { name: string }) => c.name)).toEqual(expect.arrayContaining(['LICENSE-edk2.txt', 'LICENSE-openssl.txt']));
    expect(sbom.metadata.component.properties).not.toContainEqual(expect.objectContaining({ value: expect.stringMatching(/ -n /) }));
    rmSync(root, { recursive: true, force: true });
  });
});
