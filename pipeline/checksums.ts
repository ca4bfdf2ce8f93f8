/**
 * sha256 of bytes, and `SHA256SUMS` files (`sha256sum -c` format: digest, two spaces, path),
 * for artifacts directories and releases alike.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 and size of a file, streamed. */
export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: h.digest('hex'), size };
}

export interface SumsEntry {
  readonly path: string;
  readonly sha256: string;
}

/** Sorted by path, so the same set always renders to the same bytes. */
export function renderSums(entries: readonly SumsEntry[]): string {
  return [...entries]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((e) => `${e.sha256}  ${e.path}\n`)
    .join('');
}

export class SumsFormatError extends Error {}

/** Strict: every line `<64 hex>  <path>` (or ` *<path>`), no path twice. */
export function parseSums(text: string): SumsEntry[] {
  const entries: SumsEntry[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((line, i) => {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!m) throw new SumsFormatError(`line ${i + 1} is not "<sha256>  <file>"`);
    if (seen.has(m[2]!)) throw new SumsFormatError(`line ${i + 1}: ${m[2]} is listed twice`);
    seen.add(m[2]!);
    entries.push({ path: m[2]!, sha256: m[1]! });
  });
  return entries;
}
