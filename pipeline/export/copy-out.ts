/**
 * Copies one file out of a stopped container with `getArchive`, read through tar-stream.
 * The archive must hold exactly that regular file; its entry name is checked, never used as
 * a path on the host.
 */
import { posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';
import type { Container } from '../engine/engine.ts';

export class CopyOutError extends Error {}

/** The file's bytes; undefined when the container has no such path. */
export async function readContainerFile(container: Container, path: string, maxBytes = 256 * 1024 * 1024): Promise<Buffer | undefined> {
  const archive = await container.getArchive(path);
  if (!archive) return undefined;
  const entries = extract();
  // An engine that fails mid-copy destroys `entries` with its error, which ends the loop below.
  const feeding = pipeline(archive, entries as unknown as NodeJS.WritableStream);
  // Its failure surfaces through the loop below (or the await after it); until then it is not unhandled.
  feeding.catch(() => {});
  let data: Buffer | undefined;
  try {
    for await (const entry of entries) {
      const { name, type, size } = entry.header;
      if (data !== undefined || name !== posix.basename(path) || type !== 'file') {
        throw new CopyOutError(`unexpected entry "${name}" (${type}) in the copy of ${path}`);
      }
      if (size > maxBytes) throw new CopyOutError(`${path} is ${size} bytes, more than the ${maxBytes} allowed`);
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      data = Buffer.concat(chunks);
    }
    await feeding;
  } finally {
    archive.destroy();
    await feeding.catch(() => {}); // its error, if any, is the one the loop threw
  }
  if (data === undefined) throw new CopyOutError(`the copy of ${path} is empty`);
  return data;
}
