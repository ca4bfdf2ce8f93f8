import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp-dir.ts';
import { artifactSums, makeIndex, pruneArtifacts, writeIndex, type VariantDir } from '../../pipeline/export/artifacts-index.ts';
import { publishDirectory } from '../../pipeline/export/publish.ts';

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

const manifest = (id: string, files: { path: string; sha256: string; size: number }[]) => ({
  generator: 'edk2-matrix', formatVersion: 1, id, arch: 'X64', target: 'DEBUG', toolchain: 'GCC5', features: [], dsc: 'd', defines: {}, pcds: {},
  build: { argv: [], seconds: 1 }, source: { description: '', key: '', digests: [] }, builder: { image: '', packages: [] },
  files, qemu: { binary: 'q', code: 'c', varsTemplate: 'v', argv: [] }, descriptor: '60-edk2-x.json',
});

describe('index and checksums', () => {
  const dirs: VariantDir[] = [
    { manifest: manifest('b', [{ path: 'OVMF_CODE.fd', sha256: 'c0de', size: 4 }]) as never, extras: [{ path: 'manifest.json', sha256: 'aa', size: 2 }], boot: undefined },
    { manifest: manifest('a', [{ path: 'QEMU_EFI-pflash.raw', sha256: 'ef1', size: 67108864 }]) as never, extras: [{ path: 'manifest.json', sha256: 'bb', size: 2 }], boot: undefined },
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
