/**
 * Where rebuild attestations are read from: each `--rebuilds` source is a file, a directory
 * (every `*.intoto.json` in it) or the http(s) URL of one file, read with the release reader's
 * size cap and idle timeout; without sources, the release itself holds one
 * `rebuild-<key id>.intoto.json` per rebuilder. Nothing read here is trusted yet: a source that
 * cannot be read is recorded with why, for the check to say (require-rebuilds.ts).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReleaseError } from '../errors.ts';
import type { PublicKey } from './minisign.ts';
import { rebuildAttestationName } from './rebuild-attestation.ts';
import { HttpReader, type HttpOptions, type ReleaseReader } from './release-reader.ts';

/** An envelope is a few subjects and differences: far below this. */
export const ATTESTATION_MAX_BYTES = 4 * 1024 * 1024;
export const DEFAULT_HTTP: HttpOptions = { cacheDir: tmpdir(), idleMs: 30_000 };

export interface ReadAttestation {
  /** Where it came from (path, URL, or name in the release), for messages. */
  readonly source: string;
  readonly data?: Buffer | undefined;
  /** Why it could not be read, when `data` is undefined. */
  readonly problem?: string | undefined;
}

const failed = (source: string, err: unknown): ReadAttestation => {
  if (err instanceof ReleaseError) return { source, problem: err.detail };
  if ((err as NodeJS.ErrnoException).code) return { source, problem: `cannot be read (${(err as NodeJS.ErrnoException).code})` };
  throw err;
};

async function readLocal(path: string): Promise<ReadAttestation> {
  try {
    const st = await stat(path);
    if (st.size > ATTESTATION_MAX_BYTES) return { source: path, problem: `is ${st.size} bytes, more than the ${ATTESTATION_MAX_BYTES} allowed` };
    return { source: path, data: await readFile(path) };
  } catch (err) {
    return failed(path, err);
  }
}

async function readUrl(url: string, http: HttpOptions, signal?: AbortSignal): Promise<ReadAttestation> {
  const cut = url.lastIndexOf('/') + 1;
  const name = decodeURIComponent(url.slice(cut));
  if (!name) return { source: url, problem: 'names no file (a URL of one attestation is needed)' };
  try {
    return { source: url, data: await new HttpReader(url.slice(0, cut), http).bytes(name, { maxBytes: ATTESTATION_MAX_BYTES }, signal) };
  } catch (err) {
    if (signal?.aborted) throw err;
    return failed(url, err);
  }
}

async function readSource(source: string, http: HttpOptions, signal?: AbortSignal): Promise<ReadAttestation[]> {
  if (/^https?:\/\//.test(source)) return [await readUrl(source, http, signal)];
  const st = await stat(source).catch((err: unknown) => err as NodeJS.ErrnoException);
  if (st instanceof Error) return [{ source, problem: `cannot be read (${st.code ?? st.message})` }];
  if (!st.isDirectory()) return [await readLocal(source)];
  const names = (await readdir(source, { withFileTypes: true })).filter((e) => e.isFile() && e.name.endsWith('.intoto.json')).map((e) => e.name).sort();
  return Promise.all(names.map((n) => readLocal(join(source, n))));
}

/**
 * Every attestation the sources hold, or (no sources) each rebuilder's file in the release;
 * one missing from the release is left out: it counts as none.
 */
export async function readAttestations(sources: readonly string[], release: ReleaseReader, keys: readonly PublicKey[],
  http: HttpOptions = DEFAULT_HTTP, signal?: AbortSignal): Promise<ReadAttestation[]> {
  if (sources.length) return (await Promise.all(sources.map((s) => readSource(s, http, signal)))).flat();
  const out: ReadAttestation[] = [];
  for (const name of new Set(keys.map((k) => rebuildAttestationName(k.keyId)))) {
    try {
      out.push({ source: name, data: await release.bytes(name, { maxBytes: ATTESTATION_MAX_BYTES }, signal) });
    } catch (err) {
      if (signal?.aborted) throw err;
      if (err instanceof ReleaseError && /^is missing\b/.test(err.detail)) continue;
      out.push(failed(name, err));
    }
  }
  return out;
}
