/**
 * One variant directory as `<id>.tar.xz`: deterministic (entries sorted by name, owner 0:0
 * without names, modes from layout.ts, every mtime SOURCE_DATE_EPOCH, single-threaded xz from
 * the pinned liblzma of lzma-native), so the same directory gives the same bytes on any
 * machine. Reading one back is strict: exactly `<id>/` and regular files directly inside it,
 * with plain names, each once; anything else refuses the archive.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import lzma from 'lzma-native';
import { extract, pack } from 'tar-stream';
import { fileMode } from '../layout.ts';

/** A file name inside a variant directory: what we publish never needs more than this. */
export const PLAIN_NAME = /^[A-Za-z0-9_][A-Za-z0-9._+-]*$/;
/** xz preset 6 (xz's default), CRC64 (xz's default check). */
const XZ_OPTIONS = { preset: 6, check: lzma.CHECK_CRC64 } as const;
/** The decoder needs ~10 MiB for preset 6; refuse archives that ask for much more. */
const XZ_MEMLIMIT = 128 * 1024 * 1024;

export interface ArchiveInput {
  readonly name: string;
  readonly data: Buffer;
}

export class ArchiveEntryError extends Error {
  constructor(
    readonly entry: string,
    readonly reason: string,
  ) {
    super(`entry "${entry}": ${reason}`);
  }
}

/** sha256 and size of what passes through. */
export function hashing(): { stream: Transform; result: () => { sha256: string; size: number } } {
  const h = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      h.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  return { stream, result: () => ({ sha256: h.digest('hex'), size }) };
}

/** The uncompressed tar: `<id>/`, then every file in name order. */
export function tarVariant(id: string, files: readonly ArchiveInput[], mtimeSeconds: number): Readable {
  const mtime = new Date(mtimeSeconds * 1000);
  const owner = { uid: 0, gid: 0, uname: '', gname: '', mtime };
  const tar = pack();
  tar.entry({ name: `${id}/`, type: 'directory', mode: 0o755, ...owner });
  for (const f of [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (!PLAIN_NAME.test(f.name)) throw new ArchiveEntryError(f.name, 'not a plain file name');
    tar.entry({ name: `${id}/${f.name}`, type: 'file', mode: fileMode(f.name), size: f.data.length, ...owner }, f.data);
  }
  tar.finalize();
  return tar as unknown as Readable;
}

/** Writes `<id>.tar.xz` to `path`; returns its sha256 and size. */
export async function writeVariantArchive(path: string, id: string, files: readonly ArchiveInput[], mtimeSeconds: number): Promise<{ sha256: string; size: number }> {
  const hash = hashing();
  await pipeline(tarVariant(id, files, mtimeSeconds), lzma.createCompressor(XZ_OPTIONS), hash.stream, createWriteStream(path, { mode: 0o644 }));
  return hash.result();
}

export interface ArchiveEntry {
  readonly name: string;
  readonly size: number;
  readonly mode: number;
  readonly body: Readable;
}

/**
 * Reads a variant archive, handing each file to `visit` (which must consume its body). Stops
 * with an ArchiveEntryError at the first entry that is not `<id>/` or a plain file in it, and
 * when the files together exceed `maxBytes` uncompressed.
 */
export async function readVariantArchive(
  input: Readable,
  id: string,
  maxBytes: number,
  visit: (entry: ArchiveEntry) => Promise<void>,
): Promise<void> {
  const entries = extract();
  const feeding = pipeline(input, lzma.createStream('streamDecoder', { memlimit: XZ_MEMLIMIT }), entries as unknown as Writable);
  // Its failure surfaces through the loop below (or the await after it); until then it is not unhandled.
  feeding.catch(() => {});
  const seen = new Set<string>();
  let total = 0;
  try {
    for await (const entry of entries) {
      const { name, type, size = 0, mode = 0 } = entry.header;
      if (name === `${id}/` && type === 'directory') {
        entry.resume();
        continue;
      }
      if (!name.startsWith(`${id}/`)) throw new ArchiveEntryError(name, `outside ${id}/`);
      const file = name.slice(id.length + 1);
      if (!PLAIN_NAME.test(file)) throw new ArchiveEntryError(name, 'not a plain file name (absolute, .., or a subdirectory)');
      if (type !== 'file') throw new ArchiveEntryError(name, `a ${type} entry, not a regular file`);
      if (seen.has(file)) throw new ArchiveEntryError(name, 'appears twice');
      seen.add(file);
      total += size;
      if (total > maxBytes) throw new ArchiveEntryError(name, `the archive unpacks to more than the ${maxBytes} bytes the index allows`);
      await visit({ name: file, size, mode, body: entry as unknown as Readable });
    }
    await feeding;
  } finally {
    input.destroy();
    await feeding.catch(() => {});
  }
}
