/**
 * The content-addressed artifact cache: a variant's published files stored under its key.
 * An entry is used only after every file matched its recorded sha256; a damaged entry is
 * removed (with a warning) and the variant rebuilt.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { ArtifactFile } from '../domain.ts';
import { DataFileError } from '../errors.ts';
import { listDir } from '../host/list-dir.ts';
import { readJsonIfPresent, type JsonFileKind } from '../host/read-json.ts';
import { readPublishedManifest } from './artifacts-index.ts';
import { artifactFileSchema } from './manifest-schema.ts';
import type { Log } from '../domain.ts';
import { fileMode, MANIFEST_FILE } from '../layout.ts';
import { publishDirectory, type PublishFile } from '../host/atomic-publish.ts';
import { fingerprintMatches, recordFingerprint } from './fingerprint.ts';
import { sha256Hex } from '../checksums.ts';
import { exists } from '../host/exists.ts';

const ENTRY_FILE = 'entry.json';

const entrySchema = z.object({
  key: z.string().min(1),
  files: z.array(artifactFileSchema).readonly(),
});
type Entry = z.output<typeof entrySchema>;
const ENTRY_KIND: JsonFileKind = { what: 'artifact cache entry', hint: 'the entry is removed and the variant built again' };

const sha256 = sha256Hex;

/** Reads `files` from `dir` and checks each against its digest; the first mismatch, or undefined. */
export async function checkFiles(dir: string, files: readonly ArtifactFile[]): Promise<{ data: Map<string, Buffer>; problem: string | undefined }> {
  const data = new Map<string, Buffer>();
  for (const f of files) {
    let bytes: Buffer;
    try {
      bytes = await readFile(join(dir, f.path));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { data, problem: code === 'ENOENT' ? `${f.path} is missing` : `${f.path} cannot be read (${code ?? (err as Error).message})` };
    }
    if (bytes.length !== f.size || sha256(bytes) !== f.sha256) return { data, problem: `${f.path} does not match its sha256` };
    data.set(f.path, bytes);
  }
  return { data, problem: undefined };
}

/**
 * Whether a published variant directory already holds exactly what `key` describes: its
 * manifest carries the key and every file matches the manifest's digests — known from the
 * files' fingerprint when nothing about them changed since, hashed otherwise (or `rehash`).
 */
export async function publishedMatches(variantDir: string, key: string, rehash = false): Promise<boolean> {
  // No manifest, another's, or an older format: not what `key` describes. A damaged one of ours
  // is a DataFileError: the run stops and says which, as writing the index would.
  const manifest = (await readPublishedManifest(variantDir))?.manifest;
  if (manifest?.key !== key) return false;
  const names = [MANIFEST_FILE, ...manifest.files.map((f) => f.path)];
  if (!rehash && (await fingerprintMatches(variantDir, key, names))) return true;
  const { problem } = await checkFiles(variantDir, manifest.files);
  // The fingerprint only spares the next run the hashing: failing to record it loses nothing.
  if (problem === undefined) await recordFingerprint(variantDir, key, names).catch(() => {});
  return problem === undefined;
}

export class ArtifactCache {
  constructor(readonly dir: string) {}

  #entryDir(key: string): string {
    return join(this.dir, key.slice(0, 2), key);
  }

  /** The verified files of an entry, or undefined when there is none (or it was damaged). */
  async lookup(key: string, id: string, log: Log): Promise<PublishFile[] | undefined> {
    const dir = this.#entryDir(key);
    let entry: Entry | undefined;
    try {
      entry = await readJsonIfPresent(join(dir, ENTRY_FILE), entrySchema, ENTRY_KIND);
    } catch (err) {
      if (!(err instanceof DataFileError)) throw err;
      log.warn(`${id}: cache entry ${key.slice(0, 12)} is damaged (${err.message}); removing it and building again`);
      await rm(dir, { recursive: true, force: true });
      return undefined;
    }
    if (!entry) {
      if (await exists(dir)) {
        log.warn(`${id}: cache entry ${key.slice(0, 12)} has no ${ENTRY_FILE}; removing it and building again`);
        await rm(dir, { recursive: true, force: true });
      }
      return undefined;
    }
    const { data, problem } = await checkFiles(dir, entry.files);
    if (problem || entry.key !== key) {
      log.warn(`${id}: cache entry ${key.slice(0, 12)} is damaged (${problem ?? 'wrong key'}); removing it and building again`);
      await rm(dir, { recursive: true, force: true });
      return undefined;
    }
    return entry.files.map((f) => ({ name: f.path, data: data.get(f.path)!, mode: fileMode(f.path) }));
  }

  async store(key: string, files: readonly PublishFile[]): Promise<void> {
    const entry: Entry = {
      key,
      files: files.map((f) => {
        const data = Buffer.from(f.data);
        return { path: f.name, sha256: sha256(data), size: data.length };
      }),
    };
    await publishDirectory(join(this.dir, key.slice(0, 2)), key, [...files, { name: ENTRY_FILE, data: `${JSON.stringify(entry, null, 1)}\n` }]);
  }

  /** Removes every entry whose key is not in `keep`; returns how many went. */
  async prune(keep: ReadonlySet<string>): Promise<number> {
    let removed = 0;
    for (const prefix of await listDir(this.dir)) {
      for (const key of await listDir(join(this.dir, prefix))) {
        if (keep.has(key)) continue;
        await rm(join(this.dir, prefix, key), { recursive: true, force: true });
        removed += 1;
      }
    }
    return removed;
  }
}
