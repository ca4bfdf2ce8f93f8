/**
 * Reads a release's assets from a directory or from any static HTTP server (a GitHub release
 * is one), never trusting it: every read has a size cap, every download is hashed as it
 * arrives and checked against the digest the caller expects, a server that stops sending for
 * `idleMs` is given up on. Downloads land in a content-addressed cache (`<sha256>-<name>`),
 * so a second pull of the same release downloads nothing; a cached file is re-hashed before use.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { hashFile } from '../checksums.ts';
import { ReleaseError } from '../errors.ts';
import { TEMP_PREFIX } from '../layout.ts';
import { sha256Hex } from '../checksums.ts';

export interface Expected {
  readonly maxBytes: number;
  /** When known (from the signed SHA256SUMS): the asset must have exactly this digest. */
  readonly sha256?: string | undefined;
}

export interface ReleaseReader {
  /** The directory or URL, for messages. */
  readonly location: string;
  bytes(name: string, expected: Expected, signal?: AbortSignal): Promise<Buffer>;
  /** A local file with the asset's verified bytes (`expected.sha256` is required). */
  file(name: string, expected: Required<Expected>, signal?: AbortSignal): Promise<string>;
  /** Every file name of a directory release (to find extra assets); undefined over HTTP. */
  names(): Promise<string[] | undefined>;
}

const assetLink = (name: string) => `asset ${name}`;

function checkDigest(name: string, expected: Expected, got: { sha256: string; size: number }): void {
  if (got.size > expected.maxBytes) throw new ReleaseError(assetLink(name), `is ${got.size} bytes, more than the ${expected.maxBytes} the signed index allows`);
  if (expected.sha256 && got.sha256 !== expected.sha256) {
    throw new ReleaseError(assetLink(name), `does not match SHA256SUMS (sha256 ${got.sha256.slice(0, 16)}…, expected ${expected.sha256.slice(0, 16)}…)`,
      'the file was altered or damaged in transit: fetch the release again from its publisher');
  }
}

export class DirectoryReader implements ReleaseReader {
  constructor(readonly location: string) {}

  async #existing(name: string, maxBytes: number): Promise<string> {
    const path = join(this.location, name);
    const st = await stat(path).catch(() => undefined);
    if (!st?.isFile()) throw new ReleaseError(assetLink(name), `is missing from ${this.location}`);
    if (st.size > maxBytes) throw new ReleaseError(assetLink(name), `is ${st.size} bytes, more than the ${maxBytes} allowed`);
    return path;
  }

  async bytes(name: string, expected: Expected): Promise<Buffer> {
    const data = await readFile(await this.#existing(name, expected.maxBytes));
    checkDigest(name, expected, { sha256: sha256Hex(data), size: data.length });
    return data;
  }

  async file(name: string, expected: Required<Expected>): Promise<string> {
    const path = await this.#existing(name, expected.maxBytes);
    checkDigest(name, expected, await hashFile(path));
    return path;
  }

  async names(): Promise<string[]> {
    return (await readdir(this.location, { withFileTypes: true })).filter((e) => !e.isDirectory()).map((e) => e.name).sort();
  }
}

export interface HttpOptions {
  /** Where verified downloads are kept (`<sha256>-<name>`). */
  readonly cacheDir: string;
  /** Give up when the server sends nothing for this long (connecting included). */
  readonly idleMs: number;
}

export class HttpReader implements ReleaseReader {
  readonly location: string;

  constructor(url: string, readonly opts: HttpOptions) {
    this.location = url.endsWith('/') ? url : `${url}/`;
  }

  /** Streams one asset to `sink` chunk by chunk, with the size cap and the idle timeout. */
  async #fetch(name: string, maxBytes: number, onChunk: (chunk: Buffer) => void, signal?: AbortSignal): Promise<number> {
    const url = new URL(encodeURIComponent(name), this.location).href;
    const controller = new AbortController();
    const stop = () => controller.abort();
    signal?.addEventListener('abort', stop, { once: true });
    let idle = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        idle = true;
        controller.abort();
      }, this.opts.idleMs);
    };
    arm();
    let received = 0;
    let declared: number | undefined;
    try {
      const res = await fetch(url, { signal: controller.signal, redirect: 'follow' });
      if (res.status === 404) throw new ReleaseError(assetLink(name), `is missing (404 from ${url})`);
      if (!res.ok || !res.body) throw new ReleaseError(assetLink(name), `${url} answered ${res.status} ${res.statusText}`);
      const length = res.headers.get('content-length');
      declared = length === null ? undefined : Number(length);
      if (declared !== undefined && declared > maxBytes) {
        throw new ReleaseError(assetLink(name), `the server announces ${declared} bytes, more than the ${maxBytes} the signed index allows`);
      }
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        arm();
        received += chunk.length;
        if (received > maxBytes) throw new ReleaseError(assetLink(name), `the server sent more than the ${maxBytes} bytes the signed index allows`);
        onChunk(Buffer.from(chunk));
      }
      if (declared !== undefined && received < declared) throw new ReleaseError(assetLink(name), `truncated: got ${received} of ${declared} bytes`);
      return received;
    } catch (err) {
      // Ours, or the disk's (a full cache): not the server's.
      if (err instanceof ReleaseError || (err as NodeJS.ErrnoException).syscall !== undefined) throw err;
      if (signal?.aborted) throw err;
      if (idle) {
        throw new ReleaseError(assetLink(name), `the server at ${this.location} sent nothing for ${this.opts.idleMs / 1000} s (after ${received} bytes)`,
          'try again later, or pass a longer --timeout (e.g. 2m)');
      }
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const detail = cause?.code ?? cause?.message ?? (err as Error).message;
      if (received > 0 || declared !== undefined) {
        throw new ReleaseError(assetLink(name), `truncated: the connection broke after ${received}${declared !== undefined ? ` of ${declared}` : ''} bytes (${detail})`, undefined, { cause: err });
      }
      throw new ReleaseError(assetLink(name), `cannot fetch ${url} (${detail})`, 'check the release URL and the network', { cause: err });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
    }
  }

  async bytes(name: string, expected: Expected, signal?: AbortSignal): Promise<Buffer> {
    const chunks: Buffer[] = [];
    const h = createHash('sha256');
    const size = await this.#fetch(name, expected.maxBytes, (c) => {
      chunks.push(c);
      h.update(c);
    }, signal);
    checkDigest(name, expected, { sha256: h.digest('hex'), size });
    return Buffer.concat(chunks);
  }

  async file(name: string, expected: Required<Expected>, signal?: AbortSignal): Promise<string> {
    await mkdir(this.opts.cacheDir, { recursive: true });
    const cached = join(this.opts.cacheDir, `${expected.sha256}-${name}`);
    if (await stat(cached).then((s) => s.isFile(), () => false)) {
      const got = await hashFile(cached);
      if (got.sha256 === expected.sha256) return cached;
      await rm(cached, { force: true });
    }
    const temp = join(this.opts.cacheDir, `${TEMP_PREFIX}${process.pid}-${name}`);
    const out = createWriteStream(temp, { mode: 0o644 });
    // A write error (a full cache disk) is thrown below; after a failed download, writes still
    // queued fail against the destroyed stream, which is expected.
    let writeError: Error | undefined;
    out.on('error', (err) => (writeError ??= err));
    const h = createHash('sha256');
    try {
      const size = await this.#fetch(name, expected.maxBytes, (c) => {
        if (writeError) throw writeError;
        h.update(c);
        out.write(c);
      }, signal);
      await new Promise<void>((resolve, reject) => out.end(() => (writeError ? reject(writeError) : resolve())));
      checkDigest(name, expected, { sha256: h.digest('hex'), size });
      await rename(temp, cached);
      return cached;
    } catch (err) {
      out.destroy();
      await rm(temp, { force: true });
      throw err;
    }
  }

  async names(): Promise<undefined> {
    return undefined;
  }
}

/** A reader for a URL (http, https) or a directory path. */
export function releaseReader(location: string, http: HttpOptions): ReleaseReader {
  if (/^https?:\/\//.test(location)) return new HttpReader(location, http);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) throw new ReleaseError('release', `${location}: only http, https and directories are supported`);
  return new DirectoryReader(location);
}
