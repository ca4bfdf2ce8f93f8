/**
 * The two ends of an install that every layout shares (install.ts, debian-install.ts): the
 * journal first (never over one an interrupted pull left), and at the end the receipt written
 * last and what the install replaced let go of, or, when anything failed, the install undone by
 * its journal and what happened said in one error.
 */

/** Refuses to start over the journal of an interrupted pull: `--check` repairs that install first. */
export async function refuseInterrupted(paths: InstallPaths): Promise<void> {
  if (await exists(journalPath(paths))) {
    throw new DestinationError(`${onDisk(paths, paths.dataDir)}: an interrupted pull left its journal`, 'run pull --check there first: it repairs the install');
  }
}

/** Writes the install's journal, before anything else changes. */
export async function beginJournal(paths: InstallPaths, journal: InstallJournal, step: (name: string) => Promise<void>): Promise<void> {
  await mkdir(onDisk(paths, paths.dataDir), { recursive: true });
  await writeJournal(paths, journal);
  await step('journal');
}
import { mkdir } from 'node:fs/promises';
import type { Log } from '../domain.ts';
import { DestinationError, InstallError, MatrixError } from '../errors.ts';
import { publishFile, syncPath } from '../host/atomic-publish.ts';
import { exists } from '../host/exists.ts';
import { onDisk, type InstallPaths } from './install-paths.ts';
import { journalPath, settle, writeJournal, type InstallJournal } from './install-journal.ts';
import { missingDirs } from './missing-dirs.ts';
import { receiptPath } from './receipt.ts';

/** Writes the receipt (the commit point), then removes what the install replaced. */
export async function commitReceipt(paths: InstallPaths, journal: InstallJournal, text: string, log: Log, step: (name: string) => Promise<void>): Promise<void> {
  await publishFile(receiptPath(paths), text);
  await syncPath(onDisk(paths, paths.dataDir));
  await step('receipt');
  // Committed: what the new install replaced can go.
  const { complete } = await settle(paths, journal, log);
  if (!complete) log.warn(`${onDisk(paths, paths.dataDir)}: installed, but some of what it replaced is left; the next pull or --check removes it`);
}

/**
 * Undoes a failed install by its journal, when it got as far as writing it (a journal on disk
 * is this install's: refuseInterrupted let none stand), and throws what to tell the user.
 */
export async function undoInstall(paths: InstallPaths, journal: InstallJournal, err: unknown, log: Log): Promise<never> {
  const dir = onDisk(paths, paths.dataDir);
  if (await exists(journalPath(paths))) {
    const { complete } = await settle(paths, journal, log).catch((e: unknown) => {
      log.warn(`undoing the install failed: ${(e as Error).message}`);
      return { complete: false };
    });
    if (!complete) log.warn(`${dir}: not all of the install could be undone; the next pull or --check repairs it`);
  }
  if (err instanceof MatrixError) throw err;
  const e = err as NodeJS.ErrnoException;
  throw new InstallError(dir, e.code ? `${e.code} (${e.syscall ?? 'write'} ${e.path ?? ''})`.replace(' )', ')') : e.message, { cause: err });
}

/**
 * The journal an install starts with, before anything changes: the directories it will make
 * for `dirs` (as on disk) and those its lock made, as recorded (without DESTDIR).
 */
export async function stagingJournal(paths: InstallPaths, dirs: readonly string[], made: readonly string[] = []): Promise<InstallJournal> {
  const recorded = (d: string) => (paths.destdir ? d.slice(paths.destdir.length) : d);
  const created = [...new Set([...made, ...(await Promise.all(dirs.map(missingDirs))).flat().map(recorded)])].filter((d) => d !== '');
  return { generator: 'edk2-matrix-pull-journal', pid: process.pid, phase: 'staging', created };
}
