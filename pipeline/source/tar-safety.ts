/**
 * Decides what happens to each archive entry before anything is written: entry names are
 * never trusted. Absolute names and `..` are refused outright (the archive is hostile or
 * broken); links that lead outside the tree, and special files, are left out with a reason.
 */
import { posix } from 'node:path';

export interface EntryHeader {
  readonly name: string;
  readonly type: string | null | undefined;
  readonly linkname?: string | null | undefined;
}

export type EntryDecision =
  | { readonly action: 'write'; readonly name: string; readonly linkname?: string }
  | { readonly action: 'skip'; readonly reason: string };

export class UnsafeEntryError extends Error {
  constructor(
    readonly entry: string,
    readonly reason: string,
  ) {
    super(`unsafe archive entry "${entry}": ${reason}`);
  }
}

/** Splits an entry name into checked segments, without `.` and empty ones. */
function segments(name: string, entry: string): string[] {
  if (name.startsWith('/')) throw new UnsafeEntryError(entry, 'absolute path');
  if (name.includes('\0')) throw new UnsafeEntryError(entry, 'NUL in the name');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new UnsafeEntryError(entry, 'contains ..');
  return parts;
}

/** `strip` leading components are dropped, as `tar --strip-components` does. */
export function checkEntry(header: EntryHeader, strip: number): EntryDecision {
  const parts = segments(header.name, header.name);
  if (parts.length <= strip) return { action: 'skip', reason: 'top directory' };
  const name = parts.slice(strip).join('/');
  switch (header.type ?? 'file') {
    case 'file':
    case 'contiguous-file':
    case 'directory':
      return { action: 'write', name };
    case 'symlink': {
      const target = header.linkname ?? '';
      if (target.startsWith('/')) return { action: 'skip', reason: `symbolic link to absolute path ${target}` };
      const resolved = posix.normalize(posix.join(posix.dirname(name), target));
      if (resolved === '..' || resolved.startsWith('../')) return { action: 'skip', reason: `symbolic link leading outside the tree (${target})` };
      return { action: 'write', name, linkname: target };
    }
    case 'link': {
      const targetParts = segments(header.linkname ?? '', header.name);
      if (targetParts.length <= strip) throw new UnsafeEntryError(header.name, 'hard link outside the tree');
      return { action: 'write', name, linkname: targetParts.slice(strip).join('/') };
    }
    default:
      return { action: 'skip', reason: `${header.type} entries are not unpacked` };
  }
}
