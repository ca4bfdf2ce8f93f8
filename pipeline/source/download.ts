/**
 * Source files land in a content-addressed cache only after their sha256 matched: a file
 * whose digest differs is deleted and never unpacked.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { SourceError } from '../errors.ts';
import type { Log } from '../domain.ts';
import { exists } from '../host/exists.ts';

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}


async function openSource(location: string, signal: AbortSignal): Promise<Readable> {
  if (/^https?:\/\//.test(location)) {
    let res: Response;
    try {
      res = await fetch(location, { signal });
    } catch (err) {
      if (signal.aborted) throw err;
      throw new SourceError(`cannot download ${location}: ${(err as Error).cause ?? (err as Error).message}`,
        'check the network and the mirror (EDK2_MATRIX_DEBIAN_MIRROR or source.*.mirror)', { cause: err });
    }
    if (!res.ok || !res.body) {
      throw new SourceError(`cannot download ${location}: HTTP ${res.status} ${res.statusText}`,
        'the file is not (or no longer) on this server: check the name and version pinned in matrix.yaml');
    }
    return Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  }
  const path = location.startsWith('file://') ? fileURLToPath(location) : location;
  if (!(await exists(path))) throw new SourceError(`source file ${path} does not exist`, 'check source.archive.url in matrix.yaml');
  return createReadStream(path);
}

/**
 * The cached, verified copy of `location`, fetched if needed. `name` is for people;
 * the cache is keyed by the expected digest.
 */
export async function fetchVerified(
  location: string,
  expected: string,
  name: string,
  cacheDir: string,
  log: Log,
  signal: AbortSignal,
): Promise<string> {
  const dir = join(cacheDir, 'downloads');
  const target = join(dir, `${expected}-${name.replace(/[^A-Za-z0-9._+-]/g, '_')}`);
  if (await exists(target)) {
    if ((await sha256File(target)) === expected) return target;
    log.warn(`cached ${name} does not match its sha256 any more; fetching it again`);
    await rm(target, { force: true });
  }
  await mkdir(dir, { recursive: true });
  log.info(`fetching ${name} from ${location}`);
  const part = `${target}.part-${randomBytes(4).toString('hex')}`;
  const hash = createHash('sha256');
  const tee = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(await openSource(location, signal), tee, createWriteStream(part), { signal });
    const actual = hash.digest('hex');
    if (actual !== expected) {
      throw new SourceError(`sha256 mismatch for ${name}: expected ${expected}, got ${actual}; nothing was unpacked`,
        'the file changed where it is served, or the pin in matrix.yaml is wrong');
    }
    await rename(part, target);
    return target;
  } finally {
    await rm(part, { force: true });
  }
}
