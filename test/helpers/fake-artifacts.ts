/**
 * Artifacts directories in the real format, with small stand-in firmware files: what
 * `npm run matrix` publishes, made by the same export code (manifest, descriptor, launch.sh,
 * index, SHA256SUMS) without a build. For tests of what consumes them (release, pull);
 * the integration tests do the same with real builds.
 */
import { createHash } from 'node:crypto';
import type { BootRecord, BuilderImage, EnrolledStore, PreparedSource, Variant } from '../../pipeline/domain.ts';
import { writeIndex } from '../../pipeline/export/artifacts-index.ts';
import { publishVariant } from '../../pipeline/export/export-variant.ts';
import { describeFile, makeBuildRecord, makeManifest } from '../../pipeline/export/manifest.ts';
import { BOOT_RECORD, BUILD_LOG, BUILD_RECORD, fileMode, MANIFEST_FILE } from '../../pipeline/layout.ts';
import { makeRecipe } from '../../pipeline/plan/recipe.ts';
import type { SourceNotices } from '../../pipeline/source/source-notices.ts';
import { parse, withMatrix } from './config.ts';

export const FAKE_SOURCE: PreparedSource = {
  key: 'f'.repeat(64),
  volume: 'unused',
  description: 'debian edk2 2025.02-8+deb13u1',
  origin: { kind: 'debian', package: 'edk2', version: '2025.02-8+deb13u1' },
  digests: [{ name: 'edk2_2025.02.orig.tar.xz', sha256: 'b63b6053d6d89c74d9291f9e96fde1584be99e6fb9c169ba9511505129d6b049' }],
  components: [{ name: 'openssl', path: 'CryptoPkg/Library/OpensslLib/openssl', url: 'https://example.org/openssl', version: '3.4.0' }],
};
/** The licence texts and patches of FAKE_SOURCE, as source-notices.ts reads them from a source. */
export const FAKE_NOTICES: SourceNotices = {
  digests: FAKE_SOURCE.digests,
  licenceFiles: {
    'License.txt': 'SPDX-License-Identifier: BSD-2-Clause-Patent\n',
    'OvmfPkg/License.txt': 'OvmfPkg: BSD-2-Clause-Patent\n',
    'CryptoPkg/Library/OpensslLib/openssl/LICENSE.txt': 'Apache License, Version 2.0\n',
  },
  patches: ['debian/patches/no-stack-protector-all-archs.diff'],
};
export const FAKE_IMAGE: BuilderImage = { id: `sha256:${'1'.repeat(64)}`, tag: 'edk2-matrix/builder:test', digest: '2'.repeat(64), lock: '3'.repeat(64), snapshot: undefined, packages: ['gcc-14=14.2.0-19', 'nasm=2.16.03-1', 'make=4.4.1-2'] };

/** The variants of the default matrix.yaml with `matrix:` replaced (ids like x64-debug, aarch64-debug). */
export function fakeVariants(matrix = '  arch: [X64, AARCH64]\n  target: [DEBUG]\n'): Variant[] {
  return [...parse(withMatrix(matrix)).variants];
}

const bytes = (seed: string, size: number) => {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let i = 0; i < size; i += 32) {
    block.copy(out, i);
    block = createHash('sha256').update(block).digest();
  }
  return out;
};

export interface FakeOptions {
  readonly source?: PreparedSource;
  readonly image?: BuilderImage;
  readonly boot?: Partial<BootRecord> | undefined;
  readonly installPrefix?: string;
  /** Enrolled stores to publish (their vars files are made up too); none by default. */
  readonly enrolled?: readonly EnrolledStore[];
}

/** Publishes `variant` into `outDir` as a build would, with made-up firmware bytes. */
export async function writeFakeVariant(outDir: string, variant: Variant, o: FakeOptions = {}): Promise<void> {
  const epoch = 1735689600;
  const prefix = o.installPrefix ?? '/usr/share/edk2-matrix/{id}';
  const recipe = makeRecipe(variant, { sourceDateEpoch: epoch, installPrefix: prefix });
  const plan = { variant, recipe, key: createHash('sha256').update(`key ${variant.id}`).digest('hex'), threads: 2 };
  const image = o.image ?? FAKE_IMAGE;
  const enrolled = o.enrolled ?? [];
  const inputs = { plan, source: o.source ?? FAKE_SOURCE, image, enrolled };
  const p = variant.platform;
  const files = [
    { name: p.code.published, data: bytes(`code ${variant.id}`, p.code.padTo ? 256 * 1024 : 64 * 1024) },
    { name: p.vars.published, data: bytes(`vars ${variant.id}`, 16 * 1024) },
    ...enrolled.map((s) => ({ name: s.varsTemplate, data: bytes(`vars ${variant.id} ${s.keySet}`, 16 * 1024) })),
    ...recipe.rendered.map((r) => ({ name: r.name, data: Buffer.from(r.text) })),
  ].sort((a, b) => a.name.localeCompare(b.name));
  const manifest = makeManifest({ ...inputs, files: files.map(describeFile) });
  const boot = o.boot === undefined ? [] : [{
    name: BOOT_RECORD,
    data: `${JSON.stringify({ ok: true, secondsToShell: 7.5, accel: 'tcg', shellDisk: false, reason: undefined, at: '2026-01-01T00:00:00.000Z', ...o.boot })}\n`,
  }];
  const record = makeBuildRecord({ plan, seconds: 12.3, image, reproducible: undefined });
  await publishVariant(outDir, variant.id, plan.key, [
    ...files.map((f) => ({ ...f, mode: fileMode(f.name) })),
    { name: BUILD_LOG, data: Buffer.from(`build of ${variant.id}\n`) },
    { name: BUILD_RECORD, data: `${JSON.stringify(record, null, 2)}\n` },
    { name: MANIFEST_FILE, data: `${JSON.stringify(manifest, null, 2)}\n` },
    ...boot,
  ], { info: () => {}, warn: (m) => { throw new Error(m); } });
  await writeIndex(outDir);
}
