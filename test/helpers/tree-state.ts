/**
 * "Nothing was touched", checked for real: the state of whole directory trees — every path
 * (the roots themselves included) with its type, size, mode, modification and change times
 * (nanoseconds) and content digest or link target — and the list of differences between two
 * such states, one readable line per path. Reading a tree changes none of these.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';

export interface PathState {
  readonly type: 'file' | 'dir' | 'link' | 'other';
  readonly size: bigint;
  /** Permission bits, octal. */
  readonly mode: string;
  readonly mtimeNs: bigint;
  /** Moves with any write, chmod or rename, even one whose mtime was set back afterwards. */
  readonly ctimeNs: bigint;
  /** sha256 of a file's content, or a link's target. */
  readonly content: string;
}

/** Keyed by `label/relative path`; the root itself is `label`. A root that does not exist has no entries. */
export type TreeState = ReadonlyMap<string, PathState>;

function typeOf(st: BigIntStats): PathState['type'] {
  if (st.isSymbolicLink()) return 'link';
  if (st.isDirectory()) return 'dir';
  return st.isFile() ? 'file' : 'other';
}

function stateOf(path: string): PathState | undefined {
  let st: BigIntStats;
  try {
    st = lstatSync(path, { bigint: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const type = typeOf(st);
  const content = type === 'file' ? createHash('sha256').update(readFileSync(path)).digest('hex')
    : type === 'link' ? readlinkSync(path) : '';
  return { type, size: st.size, mode: (Number(st.mode) & 0o7777).toString(8), mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, content };
}

/** The state of every tree in `roots` (label → directory). */
export function treeState(roots: Readonly<Record<string, string>>): TreeState {
  const out = new Map<string, PathState>();
  const walk = (key: string, path: string) => {
    const state = stateOf(path);
    if (!state) return;
    out.set(key, state);
    if (state.type === 'dir') for (const name of readdirSync(path).sort()) walk(`${key}/${name}`, join(path, name));
  };
  for (const [label, dir] of Object.entries(roots)) walk(label, dir);
  return out;
}

const time = (ns: bigint) => `${new Date(Number(ns / 1_000_000n)).toISOString().slice(0, -1)}${(ns % 1_000_000n).toString().padStart(6, '0')}Z`;
const brief = (s: PathState) => `${s.type} ${s.mode}${s.type === 'file' ? `, ${s.size} bytes` : ''}${s.type === 'link' ? ` -> ${s.content}` : ''}`;

/** What differs between two states: `added`, `removed` or `changed` lines, sorted by path; empty when nothing did. */
export function treeChanges(before: TreeState, after: TreeState): string[] {
  const lines: string[] = [];
  for (const path of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const a = before.get(path);
    const b = after.get(path);
    if (!a) lines.push(`added ${path} (${brief(b!)})`);
    else if (!b) lines.push(`removed ${path} (${brief(a)})`);
    else {
      const diffs: string[] = [];
      if (a.type !== b.type) diffs.push(`type ${a.type} -> ${b.type}`);
      if (a.size !== b.size) diffs.push(`size ${a.size} -> ${b.size}`);
      if (a.mode !== b.mode) diffs.push(`mode ${a.mode} -> ${b.mode}`);
      if (a.type === b.type && a.content !== b.content) diffs.push(a.type === 'link' ? `target ${a.content} -> ${b.content}` : `sha256 ${a.content.slice(0, 12)} -> ${b.content.slice(0, 12)}`);
      if (a.mtimeNs !== b.mtimeNs) diffs.push(`mtime ${time(a.mtimeNs)} -> ${time(b.mtimeNs)}`);
      if (a.ctimeNs !== b.ctimeNs) diffs.push(`ctime ${time(a.ctimeNs)} -> ${time(b.ctimeNs)}`);
      if (diffs.length) lines.push(`changed ${path}: ${diffs.join(', ')}`);
    }
  }
  return lines;
}
