/**
 * The journal of an install (`<data dir>/.pull-journal.json`), which makes it a transaction that
 * survives a crash. It is written, fsynced, before the install changes anything, and says what
 * the install is about to change and how it was before: the directories it makes, each
 * variant's link (or, under --destdir, its directory and where the old one goes aside), each
 * descriptor's earlier text, and the digest of the receipt it writes last. The receipt's
 * rename is the commit point: with the journal's receipt in place the install is rolled
 * forward (what it replaced is removed), otherwise it is rolled back (links, directories and
 * descriptors as they were, staged files removed). The install itself settles its journal so
 * on failure or Ctrl-C; after a SIGKILL or a power loss, the next `pull`, `--check` or
 * `uninstall` does (holding the destination's lock), and says so in one line.
 */
import { readdir, readFile, readlink, rename, rm, rmdir, symlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import type { Log } from '../domain.ts';
import { DestinationError } from '../errors.ts';
import { publishFile } from '../host/atomic-publish.ts';
import { exists } from '../host/exists.ts';
import { sha256Hex } from '../checksums.ts';
import { STORE_DIR, TEMP_PREFIX } from '../layout.ts';
import { onDisk, type InstallPaths } from './install-paths.ts';
import { readReceipt, receiptPath } from './receipt.ts';

export const JOURNAL_FILE = '.pull-journal.json';

const journalSchema = z.object({
  generator: z.literal('edk2-matrix-pull-journal'),
  pid: z.number().int(),
  /** 'staging': nothing live changed yet; 'commit': the changes below may have begun. */
  phase: z.enum(['staging', 'commit']),
  /** Directories the install makes (as recorded, without DESTDIR), outermost first. */
  created: z.array(z.string()),
  /** sha256 of the receipt the commit writes last. */
  receiptSha256: z.string().optional(),
  /** Live installs: each variant link and its earlier target (null: none). */
  links: z.array(z.object({ dir: z.string(), target: z.string(), before: z.string().nullable() })).default([]),
  /** --destdir: each variant directory, its staged replacement, and where the old one goes aside. */
  moves: z.array(z.object({ dir: z.string(), staged: z.string(), aside: z.string(), had: z.boolean() })).default([]),
  /** Each descriptor written, with its earlier text (null: none). */
  descriptors: z.array(z.object({ path: z.string(), before: z.string().nullable() })).default([]),
  /** What the install replaced, removed once it is committed. */
  remove: z.array(z.string()).default([]),
});

export type InstallJournal = z.input<typeof journalSchema>;

export function journalPath(paths: InstallPaths): string {
  return onDisk(paths, join(paths.dataDir, JOURNAL_FILE));
}

export async function writeJournal(paths: InstallPaths, journal: InstallJournal): Promise<void> {
  await publishFile(journalPath(paths), `${JSON.stringify(journal, null, 2)}\n`);
}

async function readJournal(paths: InstallPaths): Promise<z.output<typeof journalSchema> | undefined> {
  const file = journalPath(paths);
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new DestinationError(`journal ${file}: cannot be read (${err.code ?? err.message})`, 'fix its permissions and run pull --check again');
  });
  if (text === undefined) return undefined;
  try {
    return journalSchema.parse(JSON.parse(text));
  } catch {
    throw new DestinationError(`journal ${file}: is not a journal this version of pull wrote`, 'compare the install with pull --check after moving the journal away');
  }
}

/** Replaces a link atomically (a new link beside it, renamed over it). */
export async function pointLink(link: string, target: string): Promise<void> {
  const tmp = join(link, '..', `${TEMP_PREFIX}${process.pid}-link-${basename(link)}`);
  await rm(tmp, { force: true });
  await symlink(target, tmp);
  await rename(tmp, link);
}

/** Runs each step, warning about the ones that fail; whether all succeeded. */
async function allSteps(steps: readonly (() => Promise<unknown>)[], log: Log): Promise<boolean> {
  let ok = true;
  for (const step of steps) {
    await step().catch((err: unknown) => {
      ok = false;
      log.warn(`repairing an interrupted install: ${(err as Error).message}`);
    });
  }
  return ok;
}

/** Temporary files of pull and store directories no receipt entry references. */
async function strays(paths: InstallPaths, referenced: ReadonlySet<string>): Promise<string[]> {
  const disk = (p: string) => onDisk(paths, p);
  const list = async (dir: string, pick: (name: string) => boolean) =>
    (await readdir(disk(dir)).catch(() => [] as string[])).filter(pick).map((n) => disk(join(dir, n)));
  return [
    ...await list(paths.dataDir, (n) => n.startsWith(TEMP_PREFIX)),
    ...await list(paths.descriptorDir, (n) => /^\.tmp-\d+-file-[0-9a-f]{6}$/.test(n)),
    ...(paths.live ? await list(join(paths.dataDir, STORE_DIR), (n) => n.startsWith(TEMP_PREFIX) || !referenced.has(n)) : []),
  ];
}

export type Settled = 'rolled back' | 'rolled forward';

/**
 * Brings the destination to the state before the journal's install or to the one after it,
 * by whether its receipt was written; removes the journal when every step succeeded (otherwise
 * it stays, for the next pull to finish the job). Returns the directories (as recorded) that the
 * install made and that should go once empty.
 */
export async function settle(paths: InstallPaths, journal: InstallJournal, log: Log): Promise<{ settled: Settled; complete: boolean; emptyDirs: readonly string[] }> {
  const j = journalSchema.parse(journal);
  const disk = (p: string) => onDisk(paths, p);
  const onDiskReceipt = await readFile(receiptPath(paths)).catch(() => undefined);
  const committed = j.phase === 'commit' && onDiskReceipt !== undefined && sha256Hex(onDiskReceipt) === j.receiptSha256;
  // Read after deciding: a receipt that cannot be parsed stops here, before anything is changed.
  const receipt = await readReceipt(paths);
  const referenced = new Set(receipt.variants.map((v) => basename(v.storeDir)));
  const steps: (() => Promise<unknown>)[] = [];
  if (committed) {
    for (const p of j.remove) steps.push(() => rm(disk(p), { recursive: true, force: true }));
  } else {
    for (const l of [...j.links].reverse()) {
      steps.push(async () => {
        const link = disk(l.dir);
        if (l.before === null) await rm(link, { force: true });
        else if (await readlink(link).catch(() => undefined) !== l.before) await pointLink(link, l.before);
      });
    }
    for (const m of [...j.moves].reverse()) {
      steps.push(async () => {
        if (await exists(disk(m.aside))) {
          await rm(disk(m.dir), { recursive: true, force: true });
          await rename(disk(m.aside), disk(m.dir));
        } else if (!m.had) {
          await rm(disk(m.dir), { recursive: true, force: true });
        }
      });
    }
    for (const d of [...j.descriptors].reverse()) {
      steps.push(async () => {
        if (d.before === null) await rm(disk(d.path), { force: true });
        else if (await readFile(disk(d.path), 'utf8').catch(() => undefined) !== d.before) await publishFile(disk(d.path), d.before);
      });
    }
  }
  const ok = await allSteps(steps, log);
  const swept = await allSteps((await strays(paths, referenced)).map((p) => () => rm(p, { recursive: true, force: true })), log);
  const complete = ok && swept;
  if (complete) await rm(journalPath(paths), { force: true });
  const emptyDirs = committed ? [] : j.created;
  if (complete) for (const d of [...emptyDirs].reverse()) await rmdir(disk(d)).catch(() => {});
  return { settled: committed ? 'rolled forward' : 'rolled back', complete, emptyDirs };
}

/**
 * Repairs what an interrupted install left, if anything: the one line to tell the user, and the
 * directories to remove once empty (after the lock is gone).
 */
export async function repairDestination(paths: InstallPaths, log: Log): Promise<{ message: string | undefined; emptyDirs: readonly string[] }> {
  const journal = await readJournal(paths);
  if (!journal) return { message: undefined, emptyDirs: [] };
  const { settled, complete, emptyDirs } = await settle(paths, journal, log);
  const what = settled === 'rolled forward' ? 'completed' : 'undone';
  const where = onDisk(paths, paths.dataDir);
  if (!complete) throw new DestinationError(`${where}: an interrupted pull (pid ${journal.pid}) could not be ${what} entirely`, 'see the warnings above, fix what they name and run pull --check again');
  return { message: `${where}: repaired an interrupted pull (pid ${journal.pid}): its install was ${what}`, emptyDirs };
}
