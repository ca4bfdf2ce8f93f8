/**
 * The builder image's build context: the dockerfile directory packed with tar-stream in a
 * fixed order with fixed metadata, and the digest of exactly those bytes.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';

export interface ContextFile {
  readonly path: string;
  readonly data: Buffer;
  readonly executable: boolean;
}

export function readContext(dir: string): ContextFile[] {
  const files: ContextFile[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const full = join(d, name);
      const st = statSync(full);
      if (st.isDirectory()) walk(full);
      else if (st.isFile()) files.push({ path: relative(dir, full), data: readFileSync(full), executable: (st.mode & 0o111) !== 0 });
    }
  };
  walk(dir);
  return files;
}

/** sha256 over every file's path, mode and content: the image is rebuilt when this changes. */
export function contextDigest(files: readonly ContextFile[]): string {
  const h = createHash('sha256');
  for (const f of files) {
    h.update(`${f.path}\0${f.executable ? 755 : 644}\0${f.data.length}\0`);
    h.update(f.data);
  }
  return h.digest('hex');
}

export function packContext(files: readonly ContextFile[]): Readable {
  const tar = pack();
  for (const f of files) {
    tar.entry({ name: f.path, mode: f.executable ? 0o755 : 0o644, mtime: new Date(0), uid: 0, gid: 0 }, f.data);
  }
  tar.finalize();
  return tar as unknown as Readable;
}
