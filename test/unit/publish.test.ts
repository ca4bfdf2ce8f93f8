import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp-dir.ts';
import { MANIFEST_FORMAT } from '../../pipeline/domain.ts';
import { artifactSums, IndexWriter, makeIndex, pruneArtifacts, writeIndex, type VariantDir } from '../../pipeline/export/artifacts-index.ts';
import { publishDirectory } from '../../pipeline/host/atomic-publish.ts';
import { checkOutDir, markOutDir } from '../../pipeline/export/ownership.ts';
import { publishVariant } from '../../pipeline/export/export-variant.ts';
import { publishedMatches } from '../../pipeline/export/artifact-cache.ts';
import { recordFingerprint } from '../../pipeline/export/fingerprint.ts';
import { fakeVariants, writeFakeVariant } from '../helpers/fake-artifacts.ts';
import type { Manifest } from '../../pipeline/domain.ts';

const log = { info: () => {}, warn: () => {} };
const isRoot = process.getuid?.() === 0;

describe('atomic publication', () => {
  it('replaces a variant directory with exactly the new files', async () => {
    const out = tempDir('pub-');
    await publishDirectory(out, 'x64-debug', [{ name: 'a', data: '1' }, { name: 'stale', data: 'old' }]);
    await publishDirectory(out, 'x64-debug', [{ name: 'a', data: '2' }]);
    expect(readdirSync(join(out, 'x64-debug'))).toEqual(['a']);
    expect(readFileSync(join(out, 'x64-debug', 'a'), 'utf8')).toBe('2');
    expect(readdirSync(out)).toEqual(['x64-debug']);
  });

  it('leaves the previous directory untouched and no temporary one when a write fails', async () => {
    const out = tempDir('pub-');
    await publishDirectory(out, 'x64-debug', [{ name: 'a', data: 'good' }]);
    // A file name that cannot be created fails the write half-way through the new directory.
    await expect(publishDirectory(out, 'x64-debug', [{ name: 'b', data: 'new' }, { name: 'no/such/dir', data: 'x' }])).rejects.toThrow(/ENOENT/);
    expect(readdirSync(out)).toEqual(['x64-debug']);
    expect(readFileSync(join(out, 'x64-debug', 'a'), 'utf8')).toBe('good');
  });

  it.skipIf(isRoot)('fails cleanly when the output directory is not writable', async () => {
    const out = tempDir('pub-');
    chmodSync(out, 0o500);
    await expect(publishDirectory(out, 'x64-debug', [{ name: 'a', data: '1' }])).rejects.toThrow(/EACCES/);
  });
});

const manifest = (id: string, files: { path: string; sha256: string; size: number }[]): Manifest => ({
  generator: 'edk2-matrix', formatVersion: MANIFEST_FORMAT, id, key: 'k'.repeat(64), arch: 'X64', target: 'DEBUG', toolchain: 'GCC5', features: [], dsc: 'd', defines: {}, pcds: {},
  build: { args: [], env: {} },
  source: { description: '', origin: { kind: 'archive', location: 'edk2.tar.xz' }, key: '', digests: [], components: [] },
  builder: { digest: '', lock: '', snapshot: undefined, packages: [] },
  files, qemu: { binary: 'q', code: 'c', varsTemplate: 'v', argv: [], removableBootFile: 'BOOTX64.EFI', kvmHostArch: 'x64' }, descriptor: '60-edk2-x.json', enrolled: [],
});

describe('index and checksums', () => {
  const dirs: VariantDir[] = [
    { manifest: manifest('b', [{ path: 'OVMF_CODE.fd', sha256: 'c0de', size: 4 }]) as never, extras: [{ path: 'manifest.json', sha256: 'aa', size: 2 }], boot: undefined, record: undefined },
    { manifest: manifest('a', [{ path: 'QEMU_EFI-pflash.raw', sha256: 'ef1', size: 67108864 }]) as never, extras: [{ path: 'manifest.json', sha256: 'bb', size: 2 }], boot: undefined, record: undefined },
  ];

  it('writes sha256sum -c lines with paths relative to the artifacts dir, sorted', () => {
    expect(artifactSums(dirs)).toBe('ef1  a/QEMU_EFI-pflash.raw\nbb  a/manifest.json\nc0de  b/OVMF_CODE.fd\naa  b/manifest.json\n');
  });

  it('lists each variant\'s files relative to the artifacts dir', () => {
    expect(makeIndex(dirs).variants[0]).toMatchObject({ id: 'b', files: [{ path: 'b/OVMF_CODE.fd' }], manifest: 'b/manifest.json', descriptor: 'b/60-edk2-x.json' });
  });

  it('removes variants the matrix no longer declares and temporary leftovers of dead runs', async () => {
    const out = tempDir('prune-');
    for (const id of ['kept', 'dropped']) {
      mkdirSync(join(out, id));
      writeFileSync(join(out, id, 'manifest.json'), JSON.stringify(manifest(id, [])));
    }
    mkdirSync(join(out, 'not-ours'));
    mkdirSync(join(out, '.tmp-999999999-x64-debug-abc'));
    mkdirSync(join(out, `.tmp-${process.pid}-mine-abc`));
    await pruneArtifacts(out, new Set(['kept']), log);
    expect(readdirSync(out).sort()).toEqual([`.tmp-${process.pid}-mine-abc`, 'kept', 'not-ours']);
    expect(existsSync(join(out, 'dropped'))).toBe(false);
  });

  it('describes only files in a variant dir, and treats a damaged boot record as no record', async () => {
    const out = tempDir('index-');
    mkdirSync(join(out, 'a', 'notes'), { recursive: true });
    writeFileSync(join(out, 'a', 'manifest.json'), JSON.stringify(manifest('a', [])));
    writeFileSync(join(out, 'a', 'boot.json'), '{"ok": tru');
    const index = await writeIndex(out);
    expect(index.variants.map((v) => [v.id, v.boot])).toEqual([['a', undefined]]);
    expect(readFileSync(join(out, 'SHA256SUMS'), 'utf8')).not.toMatch(/notes/);
  });
});

describe('a run removes or replaces only what carries its mark', () => {
  it('refuses an --out directory that holds files it did not write, in one line', async () => {
    const out = tempDir('own-');
    mkdirSync(join(out, 'failed', 'mythesis'), { recursive: true });
    writeFileSync(join(out, 'failed', 'mythesis', 'chapter1.tex'), '\\chapter{}');
    mkdirSync(join(out, 'photos'));
    writeFileSync(join(out, 'notes.txt'), 'mine');
    await expect(checkOutDir(out)).rejects.toThrow(/^--out .* holds files edk2-matrix did not write \(failed, notes.txt, photos\)$/);
    await expect(checkOutDir(out)).rejects.toMatchObject({ exitCode: 2 });
  });

  it('accepts a new directory, an empty one, and an artifacts directory of its own, and marks a new one', async () => {
    const root = tempDir('own-');
    await checkOutDir(join(root, 'new'));
    mkdirSync(join(root, 'empty'));
    await checkOutDir(join(root, 'empty'));
    await markOutDir(join(root, 'new'));
    expect(JSON.parse(readFileSync(join(root, 'new', 'index.json'), 'utf8'))).toMatchObject({ generator: 'edk2-matrix', variants: [] });
    writeFileSync(join(root, 'new', 'notes.txt'), 'a user file beside ours is fine');
    await checkOutDir(join(root, 'new'));
  });

  it('keeps a user\'s directory inside failed/ and refuses to replace a variant directory it did not publish', async () => {
    const out = tempDir('own-');
    await markOutDir(out);
    mkdirSync(join(out, 'failed', 'mythesis'), { recursive: true });
    writeFileSync(join(out, 'failed', 'mythesis', 'chapter1.tex'), 'x');
    mkdirSync(join(out, 'failed', 'old-variant'), { recursive: true });
    writeFileSync(join(out, 'failed', 'old-variant', 'error.txt'), 'it failed');
    writeFileSync(join(out, 'failed', 'old-variant', 'build.log'), 'log');
    await pruneArtifacts(out, new Set(['x64-debug']), log);
    expect(readdirSync(join(out, 'failed'))).toEqual(['mythesis']);
    mkdirSync(join(out, 'x64-debug'));
    writeFileSync(join(out, 'x64-debug', 'mine.txt'), 'x');
    await expect(publishVariant(out, 'x64-debug', 'k', [{ name: 'OVMF_CODE.fd', data: 'new' }], log)).rejects.toThrow(/x64-debug: .*x64-debug exists and was not written by edk2-matrix/);
    expect(readdirSync(join(out, 'x64-debug'))).toEqual(['mine.txt']);
  });
});

describe('index.json during a run', () => {
  it('lists each variant as soon as it is published, also when updates overlap', async () => {
    const out = tempDir('idx-');
    await markOutDir(out);
    const index = new IndexWriter(out);
    const publish = async (id: string) => {
      await publishDirectory(out, id, [{ name: 'manifest.json', data: JSON.stringify(manifest(id, [])) }]);
      await index.update();
    };
    await publish('a');
    expect(JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')).variants.map((v: { id: string }) => v.id)).toEqual(['a']);
    await Promise.all([publish('b'), publish('c')]);
    expect(JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')).variants.map((v: { id: string }) => v.id)).toEqual(['a', 'b', 'c']);
    expect(readFileSync(join(out, 'SHA256SUMS'), 'utf8').trim().split('\n')).toHaveLength(3);
  });
});

describe('a rerun trusts unchanged file fingerprints instead of hashing again', () => {
  it('hashes only when a file\'s size, times or inode changed, or when asked to', async () => {
    const out = tempDir('fp-');
    const [x64] = fakeVariants();
    await writeFakeVariant(out, x64!);
    const dir = join(out, 'x64-debug');
    const key = (JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { key: string }).key;
    expect(existsSync(join(dir, '.fingerprint.json'))).toBe(true);
    expect(await publishedMatches(dir, key)).toBe(true);
    // Changed bytes: the stamp changes too, so the rerun hashes and sees it.
    writeFileSync(join(dir, 'OVMF_VARS.fd'), 'altered');
    expect(await publishedMatches(dir, key)).toBe(false);
    // A fingerprint that claims the altered file is the published one is trusted...
    await recordFingerprint(dir, key, readdirSync(dir).filter((n) => !n.startsWith('.')));
    expect(await publishedMatches(dir, key)).toBe(true);
    // ...until --rehash, which checks every digest.
    expect(await publishedMatches(dir, key, true)).toBe(false);
  });
});
