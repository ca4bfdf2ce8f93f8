import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DataFileError } from '../../pipeline/errors.ts';
import { readCachedJson, readJsonIfPresent } from '../../pipeline/host/read-json.ts';
import { listDir } from '../../pipeline/host/list-dir.ts';
import { pruneArtifacts, writeIndex } from '../../pipeline/export/artifacts-index.ts';
import { isOursOrAbsent, markOutDir } from '../../pipeline/export/ownership.ts';
import { ArtifactCache, publishedMatches } from '../../pipeline/export/artifact-cache.ts';
import { fingerprintMatches, recordFingerprint } from '../../pipeline/export/fingerprint.ts';
import { manifestSchema } from '../../pipeline/export/manifest-schema.ts';
import { FINGERPRINT_FILE } from '../../pipeline/layout.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { fakeVariants, writeFakeVariant } from '../helpers/fake-artifacts.ts';

const kind = { what: 'test record', hint: 'write it again' };
const schema = z.object({ name: z.string(), sizes: z.array(z.number()) });

function collect(): { warn: (m: string) => void; info: (m: string) => void; warnings: string[] } {
  const warnings: string[] = [];
  return { warn: (m) => warnings.push(m), info: () => {}, warnings };
}

describe('the JSON reader for files we read back', () => {
  it('gives undefined for a file that is not there, nor its directory', async () => {
    const dir = tempDir('json-');
    writeFileSync(join(dir, 'plain'), 'x');
    expect(await readJsonIfPresent(join(dir, 'none.json'), schema, kind)).toBeUndefined();
    expect(await readJsonIfPresent(join(dir, 'plain', 'below.json'), schema, kind)).toBeUndefined();
  });

  it('names the file and the JSON error when it is not JSON', async () => {
    const file = join(tempDir('json-'), 'r.json');
    writeFileSync(file, '{"name": "a", "si');
    const err = await readJsonIfPresent(file, schema, kind).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataFileError);
    expect(err).toMatchObject({ file, problem: 'not-json', exitCode: 1 });
    expect((err as DataFileError).oneLine).toMatch(new RegExp(`^${file}: this test record is not JSON: .+ \\(write it again\\)$`));
  });

  it('names the first field that is wrong, and counts the others, on one line', async () => {
    const file = join(tempDir('json-'), 'r.json');
    writeFileSync(file, JSON.stringify({ name: 3, sizes: [1, 'two', 'three'] }));
    const err = (await readJsonIfPresent(file, schema, kind).catch((e: unknown) => e)) as DataFileError;
    expect(err.problem).toBe('invalid');
    expect(err.message).toBe(`${file}: not a valid test record: name: Invalid input: expected string, received number (and 2 more problems)`);
    expect(err.oneLine).not.toMatch(/\n/);
  });

  it('warns about a damaged cache file and gives undefined so that it is made again', async () => {
    const file = join(tempDir('json-'), 'r.json');
    writeFileSync(file, '[]');
    const log = collect();
    expect(await readCachedJson(file, schema, { what: 'cache', hint: 'making it again' }, log)).toBeUndefined();
    expect(log.warnings).toEqual([`${file}: not a valid cache: Invalid input: expected object, received array; making it again`]);
    writeFileSync(file, JSON.stringify({ name: 'a', sizes: [1] }));
    expect(await readCachedJson(file, schema, kind, log)).toEqual({ name: 'a', sizes: [1] });
  });

  it('lists a missing directory as empty, but does not hide one it cannot list', async () => {
    const dir = tempDir('ls-');
    writeFileSync(join(dir, 'file'), 'x');
    expect(await listDir(join(dir, 'none'))).toEqual([]);
    await expect(listDir(join(dir, 'file'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});

describe('a published manifest read back', () => {
  async function published(): Promise<{ out: string; index: string }> {
    const out = tempDir('manifest-');
    for (const v of fakeVariants()) await writeFakeVariant(out, v);
    return { out, index: readFileSync(join(out, 'index.json'), 'utf8') };
  }

  it('matches its schema as written by the export code', async () => {
    const { out } = await published();
    for (const id of ['x64-debug', 'aarch64-debug']) {
      expect(manifestSchema.safeParse(JSON.parse(readFileSync(join(out, id, 'manifest.json'), 'utf8'))).success).toBe(true);
    }
  });

  it('reads back the manifest of a git source, whose digest is the pinned commit, and refuses a commit cut short', async () => {
    const { out } = await published();
    const manifest = JSON.parse(readFileSync(join(out, 'x64-debug', 'manifest.json'), 'utf8')) as { source: { digests: { name: string; sha256: string }[] } };
    const withCommit = (sha256: string) => ({ ...manifest, source: { ...manifest.source, digests: [{ name: 'https://example.invalid/edk2.git@commit', sha256 }] } });
    expect(manifestSchema.safeParse(withCommit('0123456789abcdef0123456789abcdef01234567')).success).toBe(true);
    expect(manifestSchema.safeParse(withCommit('0123456789abcdef')).success).toBe(false);
  });

  it('stops index writing with one line naming a truncated manifest, instead of dropping the variant', async () => {
    const { out, index } = await published();
    const file = join(out, 'aarch64-debug', 'manifest.json');
    writeFileSync(file, readFileSync(file, 'utf8').slice(0, 200));
    const err = (await writeIndex(out).catch((e: unknown) => e)) as DataFileError;
    expect(err).toBeInstanceOf(DataFileError);
    expect(err.oneLine).toMatch(new RegExp(`^${file}: this variant manifest is not JSON: .*\\(remove that variant directory`));
    expect(readFileSync(join(out, 'index.json'), 'utf8')).toBe(index);
  });

  it('stops index writing on a manifest of ours with a field of the wrong type, naming the field', async () => {
    const { out } = await published();
    const file = join(out, 'x64-debug', 'manifest.json');
    const m = JSON.parse(readFileSync(file, 'utf8')) as { files: { size: unknown }[] };
    m.files[0]!.size = '65536';
    writeFileSync(file, JSON.stringify(m));
    await expect(writeIndex(out)).rejects.toThrow(/x64-debug\/manifest\.json: not a valid variant manifest: files\[0\]\.size: .*expected number/);
    await expect(publishedMatches(join(out, 'x64-debug'), 'any key')).rejects.toBeInstanceOf(DataFileError);
  });

  it('leaves out a directory whose manifest is not ours, or of another format', async () => {
    const { out } = await published();
    mkdirSync(join(out, 'mine'));
    writeFileSync(join(out, 'mine', 'manifest.json'), '{"generator": "someone else"}');
    const file = join(out, 'x64-debug', 'manifest.json');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), formatVersion: 99 }));
    const index = await writeIndex(out);
    expect(index.variants.map((v) => v.id)).toEqual(['aarch64-debug']);
  });
});

describe('damaged cache records', () => {
  it('removes an artifact cache entry whose entry.json is damaged, with a warning naming what is wrong', async () => {
    const cache = new ArtifactCache(tempDir('cache-'));
    const key = 'a'.repeat(64);
    await cache.store(key, [{ name: 'OVMF_CODE.fd', data: 'code' }]);
    const entryDir = join(cache.dir, 'aa', key);
    writeFileSync(join(entryDir, 'entry.json'), JSON.stringify({ key, files: [{ path: 'OVMF_CODE.fd', sha256: 'short', size: 4 }] }));
    const log = collect();
    expect(await cache.lookup(key, 'x64-debug', log)).toBeUndefined();
    expect(log.warnings).toHaveLength(1);
    expect(log.warnings[0]).toMatch(/^x64-debug: cache entry aaaaaaaaaaaa is damaged \(.*entry\.json: not a valid artifact cache entry: files\[0\]\.sha256: expected a sha256 in hex\); removing it and building again$/);
    expect(existsSync(entryDir)).toBe(false);
  });

  it('uses an intact cache entry', async () => {
    const cache = new ArtifactCache(tempDir('cache-'));
    const key = 'b'.repeat(64);
    await cache.store(key, [{ name: 'OVMF_CODE.fd', data: 'code' }]);
    const files = await cache.lookup(key, 'x64-debug', collect());
    expect(files?.map((f) => [f.name, Buffer.from(f.data).toString()])).toEqual([['OVMF_CODE.fd', 'code']]);
  });

  it('takes a damaged fingerprint as "hash again", and a good one as a match', async () => {
    const dir = tempDir('fp-');
    writeFileSync(join(dir, 'a'), 'x');
    await recordFingerprint(dir, 'k', ['a']);
    expect(await fingerprintMatches(dir, 'k', ['a'])).toBe(true);
    writeFileSync(join(dir, FINGERPRINT_FILE), '{"key": "k", "files": {"a": [1, 2]}}');
    expect(await fingerprintMatches(dir, 'k', ['a'])).toBe(false);
    expect(readdirSync(dir).sort()).toEqual([FINGERPRINT_FILE, 'a'].sort());
  });
});

describe('what a run may remove', () => {
  it('keeps a user\'s file in failed/ and refuses to publish over a user\'s file where a variant directory goes', async () => {
    const out = tempDir('own-');
    await markOutDir(out);
    mkdirSync(join(out, 'failed'));
    writeFileSync(join(out, 'failed', 'notes'), 'mine');
    await pruneArtifacts(out, new Set(['x64-debug']), collect());
    expect(readFileSync(join(out, 'failed', 'notes'), 'utf8')).toBe('mine');
    writeFileSync(join(out, 'x64-debug'), 'also mine');
    expect(await isOursOrAbsent(join(out, 'x64-debug'))).toBe(false);
    expect(await isOursOrAbsent(join(out, 'aarch64-debug'))).toBe(true);
  });
});
