/**
 * What a working tree holds, as one digest, read fast enough to answer "up to date" in a
 * moment: each file's content digest is kept in the cache with its fingerprint (size,
 * modification and change times, inode, mode — what git's index keeps), and a file whose
 * fingerprint still matches is not read again. Any difference rehashes that file only.
 *
 * The digest is over the content that is built, path by path (type, executable bit, content
 * digest or link target), not over git's idea of the changes: it is the same whether an edit
 * is committed or not, and it is exactly what is packed into the build's volume (the packer
 * checks each file against its fingerprint again). The commit is recorded beside it.
 *
 * A fingerprint taken within RACY_MS of the file's last modification is not kept (git's
 * "racily clean" entries): an edit in the same timestamp tick would not show in it.
 *
 * Each path also keeps its content's epoch: the time a run first saw that content there. The
 * source volume gets these as its files' modification times (tree-pack.ts), not the tree's own:
 * a file is newer than a kept build (edk2-build/kept-build.ts) exactly when its content changed
 * after that build, whatever the editor, `git checkout`, `cp -p` or a revert did to its time.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Log, TreeContent, TreeSourceSpec } from '../domain.ts';
import { readCachedJson, type JsonFileKind } from '../host/read-json.ts';
import { sha256Hex } from '../checksums.ts';
import { checkEntry } from './tar-safety.ts';
import { gitHead, listTreeFiles } from './tree-files.ts';

/** Bump when what a fingerprint or the digest covers changes. */
const TREE_FORMAT = 1;

/** Coarsest file-time granularity trusted (some file systems keep 1 or 2 s). */
export const RACY_MS = 2000;
/** Files hashed at once. */
const HASH_CONCURRENCY = 8;

export interface TreeFile {
  readonly path: string;
  readonly type: 'file' | 'symlink';
  readonly executable: boolean;
  readonly size: number;
  readonly mtimeMs: number;
  /** sha256 of the content (a file) or of the target (a link). */
  readonly sha256: string;
  /** When a run first saw this content at this path (ms; whole seconds): its time in the source volume. */
  readonly epochMs: number;
  readonly linkname: string | undefined;
}

export interface TreeSnapshot {
  readonly root: string;
  /** git HEAD, when the tree is a git repository with a commit. */
  readonly commit: string | undefined;
  /** Over every file's path, type, executable bit and content (see above). */
  readonly digest: string;
  readonly files: readonly TreeFile[];
  /** Files read and hashed this time (the rest matched their fingerprints). */
  readonly hashed: number;
  /** Over every file's path and epoch: a source volume holds these times, so its name has it. */
  readonly epochDigest: string;
  readonly git: boolean;
}

/** A file's stat as kept: `size TAB mtime TAB ctime TAB inode TAB mode` (numbers print the same every time). */
export function statKey(st: Stats): string {
  return `${st.size}\t${st.mtimeMs}\t${st.ctimeMs}\t${st.ino}\t${st.mode}`;
}

interface Fingerprint {
  readonly stat: string;
  readonly sha256: string;
}

/**
 * The cache file: one text of `path TAB stat TAB sha256` lines (an edk2 tree has tens of
 * thousands of files: split by hand in milliseconds, where a schema over as many objects takes
 * half a second). A line that does not parse is no fingerprint: that file is read again.
 */
const storeSchema = z.object({
  format: z.literal(TREE_FORMAT),
  root: z.string(),
  digest: z.string(),
  entries: z.string(),
  /** `path TAB sha256 TAB epoch` lines (epochs of files without a fingerprint too). */
  epochs: z.string().optional(),
});
const STORE_KIND: JsonFileKind = { what: 'tree fingerprint cache', hint: 'hashing the whole tree again' };
const HEX64 = /^[0-9a-f]{64}$/;
const STAT_FIELDS = 5;

export function parseEntries(text: string): Map<string, Fingerprint> {
  const out = new Map<string, Fingerprint>();
  for (const line of text.split('\n')) {
    const first = line.indexOf('\t');
    const last = line.lastIndexOf('\t');
    if (first < 1 || last === first) continue;
    const stat = line.slice(first + 1, last);
    const sha256 = line.slice(last + 1);
    if (stat.split('\t').length !== STAT_FIELDS || !HEX64.test(sha256)) continue;
    out.set(line.slice(0, first), { stat, sha256 });
  }
  return out;
}

export function formatEntries(entries: ReadonlyMap<string, Fingerprint>): string {
  const lines: string[] = [];
  // A path with a tab or a newline in it keeps no fingerprint: it is read every time.
  for (const [path, fp] of entries) if (!/[\t\n]/.test(path)) lines.push(`${path}\t${fp.stat}\t${fp.sha256}`);
  return lines.join('\n');
}

interface Epoch {
  readonly sha256: string;
  readonly epochMs: number;
}

export function parseEpochs(text: string | undefined): Map<string, Epoch> {
  const out = new Map<string, Epoch>();
  for (const line of (text ?? '').split('\n')) {
    const [path, sha256, epoch, extra] = line.split('\t');
    const epochMs = Number(epoch);
    if (!path || extra !== undefined || !HEX64.test(sha256 ?? '') || !Number.isSafeInteger(epochMs)) continue;
    out.set(path, { sha256: sha256!, epochMs });
  }
  return out;
}

export function formatEpochs(files: readonly Pick<TreeFile, 'path' | 'sha256' | 'epochMs'>[]): string {
  return files.filter((f) => !/[\t\n]/.test(f.path)).map((f) => `${f.path}\t${f.sha256}\t${f.epochMs}`).join('\n');
}

/**
 * The epoch given to content first seen by a run that started at `startedAt`: whole seconds
 * (what a tar header keeps), strictly after anything a build finished before this run started.
 */
export function newEpoch(startedAt: number): number {
  return (Math.floor(startedAt / 1000) + 1) * 1000;
}

/** `path TAB value` lines (as the cache keeps per-file records) into a map, and back; a path with a tab or newline is left out. */
export function parsePathLines(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab > 0) out.set(line.slice(0, tab), line.slice(tab + 1));
  }
  return out;
}

export function formatPathLines(entries: ReadonlyMap<string, string>): string {
  return [...entries].filter(([p]) => !/[\t\n]/.test(p)).map(([p, v]) => `${p}\t${v}`).join('\n');
}

/** The files of a snapshot as a kept build tree compares them (domain's TreeContent). */
export function treeContent(snap: TreeSnapshot): TreeContent {
  return {
    root: snap.root,
    digest: snap.digest,
    files: new Map(snap.files.map((f) => [f.path, `${f.type} ${f.executable ? 'x' : '-'} ${f.sha256}`])),
  };
}

export function fingerprintFile(cacheDir: string, root: string): string {
  return join(cacheDir, 'trees', `${sha256Hex(root).slice(0, 32)}.json`);
}

/** The digest of a tree's files, in path order. */
export function treeDigest(files: readonly Pick<TreeFile, 'path' | 'type' | 'executable' | 'sha256'>[]): string {
  const h = createHash('sha256');
  h.update(`edk2-matrix tree ${TREE_FORMAT}\n`);
  for (const f of files) h.update(`${f.type} ${f.executable ? 'x' : '-'} ${f.sha256} ${f.path}\0`);
  return h.digest('hex');
}

function statIfThere(path: string): Stats | undefined {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined; // ENOTDIR: a parent is a file now
  }
}

async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/** Reads the tree at `root`, hashing only files whose fingerprint is not in (or differs from) the cache. */
export async function readTree(root: string, cacheDir: string, log: Log): Promise<TreeSnapshot> {
  const startedAt = Date.now();
  const store = fingerprintFile(cacheDir, root);
  const [listing, commit, cached] = await Promise.all([
    listTreeFiles(root),
    gitHead(root),
    readCachedJson(store, storeSchema, STORE_KIND, log),
  ]);
  for (const m of listing.missingSubmodules) log.warn(`source tree ${root}: submodule ${m} is not checked out (git submodule update --init)`);
  const known = cached?.root === root ? parseEntries(cached.entries) : new Map<string, Fingerprint>();
  const epochs = cached?.root === root ? parseEpochs(cached.epochs) : new Map<string, Epoch>();
  const epochOf = (path: string, sha256: string) => {
    const e = epochs.get(path);
    return e?.sha256 === sha256 ? e.epochMs : newEpoch(startedAt);
  };
  const kept = new Map<string, Fingerprint>();
  const slots: (TreeFile | undefined)[] = [];
  const toHash: { index: number; path: string; st: Stats }[] = [];
  for (const path of listing.paths) {
    const st = statIfThere(join(root, path));
    if (!st) continue; // tracked but deleted: not in the tree
    const type = st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : undefined;
    if (!type) continue;
    let linkname: string | undefined;
    if (type === 'symlink') {
      const decision = checkEntry({ name: path, type: 'symlink', linkname: readlinkSync(join(root, path)) }, 0);
      if (decision.action === 'skip') {
        log.warn(`source tree: left out ${path} (${decision.reason})`);
        continue;
      }
      linkname = decision.linkname;
    }
    const base = { path, type, executable: (st.mode & 0o111) !== 0, size: st.size, mtimeMs: st.mtimeMs, linkname } as const;
    const fp = known.get(path);
    if (fp && fp.stat === statKey(st)) {
      slots.push({ ...base, sha256: fp.sha256, epochMs: epochOf(path, fp.sha256) });
      kept.set(path, fp);
    } else {
      toHash.push({ index: slots.length, path, st });
      slots.push(undefined);
    }
  }
  await mapLimit(toHash, HASH_CONCURRENCY, async ({ index, path, st }) => {
    const f = join(root, path);
    const sha256 = st.isSymbolicLink() ? sha256Hex(`link:${readlinkSync(f)}`) : sha256Hex(await readFile(f));
    const linkname = st.isSymbolicLink() ? readlinkSync(f) : undefined;
    slots[index] = { path, type: st.isSymbolicLink() ? 'symlink' : 'file', executable: (st.mode & 0o111) !== 0, size: st.size, mtimeMs: st.mtimeMs, sha256, epochMs: epochOf(path, sha256), linkname };
    if (st.mtimeMs < startedAt - RACY_MS) kept.set(path, { stat: statKey(st), sha256 });
  });
  const files = slots.filter((f): f is TreeFile => f !== undefined);
  const digest = treeDigest(files);
  const changed = toHash.length > 0 || !cached || cached.digest !== digest || known.size !== kept.size || epochs.size !== files.length;
  if (changed) {
    await mkdir(join(cacheDir, 'trees'), { recursive: true });
    const temp = `${store}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify({ format: TREE_FORMAT, root, digest, entries: formatEntries(kept), epochs: formatEpochs(files) }));
    await rename(temp, store);
  }
  const epochDigest = sha256Hex(files.map((f) => `${f.epochMs} ${f.path}`).join('\0'));
  return { root, commit, digest, files, hashed: toHash.length, git: listing.git, epochDigest };
}

const snapshots = new WeakMap<TreeSourceSpec, Promise<TreeSnapshot>>();

/**
 * The tree of a configuration, read once per loaded configuration: every stage of one run
 * (plan, source facts, the prepared volume, the manifests) sees the same state of it.
 */
export function treeSnapshot(spec: TreeSourceSpec, cacheDir: string, log: Log): Promise<TreeSnapshot> {
  let snap = snapshots.get(spec);
  if (!snap) {
    snap = readTree(spec.path, cacheDir, log).then((s) => {
      log.info(`source tree ${s.root}: ${s.files.length} files, ${s.hashed} hashed` +
        `${s.hashed === 0 ? ' (all unchanged since they were last read)' : ''}${s.commit ? `; git ${s.commit.slice(0, 12)}` : ''}`);
      return s;
    });
    snap.catch(() => snapshots.delete(spec));
    snapshots.set(spec, snap);
  }
  return snap;
}
