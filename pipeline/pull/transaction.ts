/**
 * The two ends of an install's commit that every layout shares (install.ts, debian-install.ts):
 * writing the receipt last and letting go of what the install replaced, and, when anything
 * failed, undoing it by the journal and saying what happened in one error.
 */
import type { Log } from '../domain.ts';
import { InstallError, MatrixError } from '../errors.ts';
import { publishFile, syncPath } from '../host/atomic-publish.ts';
import { onDisk, type InstallPaths } from './install-paths.ts';
import { settle, type InstallJournal } from './install-journal.ts';
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

/** Undoes a failed install by its journal (when one was written) and throws what to tell the user. */
export async function undoInstall(paths: InstallPaths, journal: InstallJournal | undefined, err: unknown, log: Log): Promise<never> {
  const dir = onDisk(paths, paths.dataDir);
  if (journal) {
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
