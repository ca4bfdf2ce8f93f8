import { createHash } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { pack } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp-dir.ts';
import { SourceError } from '../../pipeline/errors.ts';
import { fetchVerified } from '../../pipeline/source/download.ts';
import { packTree } from '../../pipeline/source/pack-tree.ts';

const log = { info: () => {}, warn: () => {} };
const signal = new AbortController().signal;
const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

async function tarFile(dir: string, name: string, entries: { name: string; type?: 'file' | 'symlink' | 'directory'; linkname?: string; body?: string }[]): Promise<string> {
  const p = pack();
  for (const e of entries) p.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname }, e.body ?? '');
  p.finalize();
  const path = join(dir, name);
  writeFileSync(path, await buffer(p as unknown as NodeJS.ReadableStream));
  return path;
}

describe('source downloads', () => {
  it('caches a file whose sha256 matches', async () => {
    const dir = tempDir('dl-');
    const src = join(dir, 'edk2.tar');
    writeFileSync(src, 'edk2 source');
    const cached = await fetchVerified(src, sha('edk2 source'), 'edk2.tar', join(dir, 'cache'), log, signal);
    expect(cached).toContain(sha('edk2 source'));
  });

  it('refuses a file whose sha256 differs and keeps nothing of it', async () => {
    const dir = tempDir('dl-');
    const src = join(dir, 'edk2.tar');
    writeFileSync(src, 'tampered');
    const pinned = sha('edk2 source');
    await expect(fetchVerified(src, pinned, 'edk2.tar', join(dir, 'cache'), log, signal)).rejects.toThrow(
      new RegExp(`sha256 mismatch for edk2.tar: expected ${pinned}, got ${sha('tampered')}; nothing was unpacked`));
    expect(readdirSync(join(dir, 'cache', 'downloads'))).toEqual([]);
  });

  it('says what to do when a source file is missing', async () => {
    await expect(fetchVerified('/nonexistent/edk2.tar.xz', sha('x'), 'edk2.tar.xz', tempDir('dl-'), log, signal))
      .rejects.toThrow(/source file \/nonexistent\/edk2\.tar\.xz does not exist/);
  });
});

describe('unpacking', () => {
  it('streams safe entries with the top directory stripped, owned by the build user', async () => {
    const dir = tempDir('tar-');
    const path = await tarFile(dir, 'a.tar', [{ name: 'edk2/', type: 'directory' }, { name: 'edk2/OvmfPkg/a.dsc', body: 'x' }]);
    const { stream, done } = packTree([{ path, name: 'a.tar', strip: 1 }], [], [], () => {});
    const names: string[] = [];
    const { extract } = await import('tar-stream');
    const ex = extract();
    stream.pipe(ex as unknown as NodeJS.WritableStream);
    for await (const e of ex) {
      names.push(`${e.header.name}:${e.header.uid}`);
      e.resume();
    }
    await done;
    expect(names).toEqual(['OvmfPkg/a.dsc:1000']);
  });

  it('refuses an archive with a .. entry before passing anything after it on', async () => {
    const dir = tempDir('tar-');
    const path = await tarFile(dir, 'evil.tar', [{ name: 'edk2/ok', body: 'x' }, { name: 'edk2/../../etc/cron.d/evil', body: 'y' }, { name: 'edk2/after', body: 'z' }]);
    const { stream, done } = packTree([{ path, name: 'evil.tar', strip: 1 }], [], [], () => {});
    stream.on('error', () => {});
    stream.resume();
    await expect(done).rejects.toThrow(SourceError);
    await expect(done).rejects.toThrow(/evil\.tar: unsafe archive entry "edk2\/\.\.\/\.\.\/etc\/cron\.d\/evil": contains \.\.; refused/);
  });

  it('refuses an absolute entry name', async () => {
    const dir = tempDir('tar-');
    const path = await tarFile(dir, 'abs.tar', [{ name: '/etc/passwd', body: 'x' }]);
    const { stream, done } = packTree([{ path, name: 'abs.tar', strip: 0 }], [], [], () => {});
    stream.on('error', () => {});
    stream.resume();
    await expect(done).rejects.toThrow(/absolute path/);
  });

  it('leaves out a link leading outside the tree and says so', async () => {
    const dir = tempDir('tar-');
    const path = await tarFile(dir, 'l.tar', [{ name: 'edk2/x', type: 'symlink', linkname: '/opt/X11/include' }, { name: 'edk2/y', body: 'ok' }]);
    const skipped: string[] = [];
    const { stream, done } = packTree([{ path, name: 'l.tar', strip: 1 }], [], [], (entry, reason) => skipped.push(`${entry} (${reason})`));
    stream.resume();
    await done;
    expect(skipped).toEqual(['l.tar: edk2/x (symbolic link to absolute path /opt/X11/include)']);
  });

  it('refuses an archive format it cannot read', async () => {
    const { stream, done } = packTree([{ path: '/dev/null', name: 'a.zip', strip: 0 }], [], [], () => {});
    stream.on('error', () => {});
    await expect(done).rejects.toThrow(/a\.zip: unsupported archive format/);
  });
});
