/**
 * A working tree into the tar stream of the source volume: exactly the files its snapshot
 * digested, each checked against its fingerprint again as it is read (a tree edited while it is
 * being packed stops the run instead of building something else than its digest names), with
 * every directory made for the build user. The tree itself is only read: builds write into
 * the volume's copy, never into it. Each file's time in the volume is its content's epoch
 * (tree-snapshot.ts), which is what edk2's make compares with a kept build's outputs.
 */
import { createReadStream, lstatSync } from 'node:fs';
import { join } from 'node:path';
import type { Pack } from 'tar-stream';
import { SourceError } from '../errors.ts';
import { BUILD_UID, type DirectoryWalker } from './pack-tree.ts';
import type { TreeSnapshot } from './tree-snapshot.ts';

/** Parent directories of `path`, outermost first (`a`, `a/b` for `a/b/c`). */
export function parentDirs(path: string): string[] {
  const parts = path.split('/').slice(0, -1);
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}

/** The snapshot's files (only those of `only`, when given: an update of an earlier volume). */
export function walkSnapshot(snap: TreeSnapshot, only?: ReadonlySet<string>): DirectoryWalker {
  return async (out: Pack) => {
    const add = (header: Parameters<Pack['entry']>[0], body?: NodeJS.ReadableStream) =>
      new Promise<void>((resolve, reject) => {
        const sink = out.entry({ ...header, uid: BUILD_UID, gid: BUILD_UID, uname: 'builder', gname: 'builder' }, (err) => (err ? reject(err) : resolve()));
        if (body) body.pipe(sink as unknown as NodeJS.WritableStream);
        else sink.end(undefined);
      });
    const made = new Set<string>();
    for (const f of snap.files) {
      if (only && !only.has(f.path)) continue;
      for (const dir of parentDirs(f.path)) {
        if (made.has(dir)) continue;
        made.add(dir);
        await add({ name: dir, type: 'directory', mode: 0o755 });
      }
      const full = join(snap.root, f.path);
      let st;
      try {
        st = lstatSync(full);
      } catch {
        st = undefined;
      }
      if (!st || st.size !== f.size || st.mtimeMs !== f.mtimeMs) {
        throw new SourceError(`source tree ${snap.root}: ${f.path} changed while the tree was being read`,
          'run again once you are done editing (the run builds the tree as it is when it starts)');
      }
      if (f.type === 'symlink') await add({ name: f.path, type: 'symlink', linkname: f.linkname ?? '' });
      else await add({ name: f.path, type: 'file', mode: f.executable ? 0o755 : 0o644, size: f.size, mtime: new Date(f.epochMs) }, createReadStream(full));
    }
  };
}
