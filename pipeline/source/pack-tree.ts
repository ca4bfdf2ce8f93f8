/**
 * Turns verified archives (and extra files such as patches) into one tar stream for the
 * source volume. Each entry passes `checkEntry`; ownership is set to the build user.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract, pack, type Header, type Pack } from 'tar-stream';
import xz from 'xz-decompress';
import type { Container } from '../engine/engine.ts';
import { SourceError } from '../errors.ts';
import { checkEntry, UnsafeEntryError } from './tar-safety.ts';

/** uid/gid of the `builder` user in the builder image. */
export const BUILD_UID = 1000;

export interface ArchiveLayer {
  readonly path: string;
  /** For messages: the name the user knows it by. */
  readonly name: string;
  readonly strip: number;
}

export interface ExtraFile {
  readonly name: string;
  readonly data: Buffer;
}

export type DirectoryWalker = (pack: Pack) => Promise<void>;

export function decompressor(name: string): ((input: Readable) => Readable) | undefined {
  if (/\.(tar\.xz|txz)$/.test(name)) {
    const { XzReadableStream } = xz as unknown as { XzReadableStream: new (s: ReadableStream<Uint8Array>) => ReadableStream<Uint8Array> };
    return (input) => Readable.fromWeb(new XzReadableStream(Readable.toWeb(input) as ReadableStream<Uint8Array>) as import('node:stream/web').ReadableStream<Uint8Array>);
  }
  if (/\.(tar\.gz|tgz)$/.test(name)) return (input) => input.pipe(createGunzip());
  if (/\.tar$/.test(name)) return (input) => input;
  return undefined;
}

function own(header: Partial<Header> & { name: string }, name: string, linkname?: string): Partial<Header> & { name: string } {
  return { ...header, name, ...(linkname !== undefined ? { linkname } : {}), uid: BUILD_UID, gid: BUILD_UID, uname: 'builder', gname: 'builder' };
}

async function addEntry(out: Pack, header: Partial<Header> & { name: string }, body: Readable | undefined): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const sink = out.entry(header, (err) => (err ? reject(err) : resolve()));
    if (body) body.pipe(sink as unknown as NodeJS.WritableStream);
    else sink.end(undefined);
  });
}

export interface SafeEntry {
  /** Checked name, leading components stripped. */
  readonly name: string;
  readonly linkname: string | undefined;
  readonly header: Header;
  /** The entry's content; must be consumed (or resumed) before the next entry arrives. */
  readonly body: Readable;
}

/**
 * The entries of an archive layer that pass `checkEntry`, in order. An unsafe entry ends the
 * iteration with a SourceError before anything after it is read.
 */
export async function* safeEntries(layer: ArchiveLayer, onSkip: (entry: string, reason: string) => void): AsyncGenerator<SafeEntry> {
  const open = decompressor(layer.name);
  if (!open) throw new SourceError(`${layer.name}: unsupported archive format`, 'use a .tar.xz, .tar.gz or .tar archive');
  const entries = extract();
  const feeding = pipeline(open(createReadStream(layer.path)), entries);
  try {
    for await (const entry of entries) {
      let decision;
      try {
        decision = checkEntry(entry.header, layer.strip);
      } catch (err) {
        if (err instanceof UnsafeEntryError) {
          throw new SourceError(`${layer.name}: ${err.message}; refused before anything was unpacked from it`,
            'the archive is broken or hostile: do not use it');
        }
        throw err;
      }
      if (decision.action === 'skip') {
        if (decision.reason !== 'top directory') onSkip(`${layer.name}: ${entry.header.name}`, decision.reason);
        entry.resume();
        continue;
      }
      const body = entry as unknown as Readable;
      yield { name: decision.name, linkname: decision.linkname, header: entry.header, body };
      body.resume();
    }
    await feeding;
  } catch (err) {
    if (err instanceof SourceError) throw err;
    throw new SourceError(`${layer.name}: cannot read the archive: ${(err as Error).message}`, 'the file may be damaged: delete it from the cache and fetch it again', { cause: err });
  } finally {
    // Also when the consumer stopped early: close the file and the decompressor.
    entries.destroy();
    await feeding.catch(() => {});
  }
}

const isRegular = (type: string | undefined) => type === 'file' || type === 'contiguous-file';

async function addArchive(out: Pack, layer: ArchiveLayer, onSkip: (entry: string, reason: string) => void): Promise<void> {
  for await (const e of safeEntries(layer, onSkip)) {
    await addEntry(out, own(e.header, e.name, e.linkname), isRegular(e.header.type) ? e.body : undefined);
  }
}

/**
 * A tar stream of the whole tree. Any problem destroys the stream with a SourceError, so the
 * engine call consuming it fails with that error.
 */
export function packTree(
  layers: readonly ArchiveLayer[],
  extras: readonly ExtraFile[],
  walkers: readonly DirectoryWalker[],
  onSkip: (entry: string, reason: string) => void,
): { stream: Readable; done: Promise<void> } {
  const out = pack();
  const done = (async () => {
    for (const layer of layers) await addArchive(out, layer, onSkip);
    for (const walk of walkers) await walk(out);
    for (const extra of extras) {
      await addEntry(out, own({ name: extra.name, type: 'file', mode: 0o644, mtime: new Date(0), size: extra.data.length }, extra.name), Readable.from([extra.data]));
    }
    out.finalize();
  })();
  done.catch((err) => out.destroy(err as Error));
  return { stream: out as unknown as Readable, done };
}

/**
 * Streams a packed tree into the container at `dir`. A SourceError while packing (unsafe entry,
 * damaged archive) is the reason to report; the engine's complaint about the truncated stream
 * is only its consequence. When the engine fails first, packing is stopped.
 */
export async function putTree(container: Container, dir: string, tree: { stream: Readable; done: Promise<void> }): Promise<void> {
  const [put, packed] = await Promise.allSettled([
    container.putArchive(dir, tree.stream).catch((err: unknown) => {
      tree.stream.destroy();
      throw err;
    }),
    tree.done,
  ]);
  if (packed.status === 'rejected' && packed.reason instanceof SourceError) throw packed.reason;
  if (put.status === 'rejected') throw put.reason;
  if (packed.status === 'rejected') throw packed.reason;
}
