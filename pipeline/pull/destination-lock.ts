/**
 * One `pull` (install, --check or uninstall) at a time per destination. The lock is the file
 * `<data dir>/.lock` holding the holder's pid, created atomically (written beside it, then
 * hard-linked into place, which fails when it exists). A second pull waits for it, bounded,
 * saying once whom it waits for, and then refuses naming the holder; a lock whose holder is
 * dead (SIGKILL, power loss) is taken over. Released on every exit path by its holder.
 */
import { link, mkdir, readFile, rename, rmdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Log } from '../domain.ts';
import { CancelledError, DestinationError } from '../errors.ts';
import { tempName } from '../host/atomic-publish.ts';
import { pidAlive } from '../host/pid-alive.ts';
import { onDisk, type InstallPaths } from './install-paths.ts';
import { missingDirs } from './missing-dirs.ts';

export const LOCK_FILE = '.lock';
/** How long a second pull waits for the first by default. */
export const LOCK_WAIT_MS = 300_000;

export interface DestinationLock {
  /** Directories made to hold the lock (as recorded, without DESTDIR), outermost first. */
  readonly made: readonly string[];
  /** Asks `release` to remove these directories (as recorded) too when they are empty. */
  removeIfEmpty(dirs: readonly string[]): void;
  /** Removes the lock, then each of `made` and of `removeIfEmpty` that is empty, innermost first. */
  release(): Promise<void>;
}

export interface LockOptions {
  readonly log: Log;
  readonly signal: AbortSignal;
  readonly waitMs?: number;
  readonly pollMs?: number;
}

/** The holder's pid, or undefined when the lock is gone (or not yet written, which cannot happen: it is linked whole). */
async function holderOf(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  const pid = text === undefined ? undefined : Number.parseInt(text, 10);
  return pid !== undefined && pid > 0 ? pid : undefined;
}

/** Removes a lock whose holder `pid` is dead, unless someone replaced it meanwhile (then it is put back). */
async function takeOver(file: string, pid: number): Promise<void> {
  const aside = join(file, '..', tempName('stale-lock'));
  try {
    await rename(file, aside);
  } catch {
    return; // another waiter took it over first
  }
  if (await holderOf(aside) !== pid) await link(aside, file).catch(() => {});
  await unlink(aside).catch(() => {});
}

export async function lockDestination(paths: InstallPaths, o: LockOptions): Promise<DestinationLock> {
  const dir = onDisk(paths, paths.dataDir);
  const file = join(dir, LOCK_FILE);
  const until = Date.now() + (o.waitMs ?? LOCK_WAIT_MS);
  const made: string[] = [];
  let told = false;
  for (;;) {
    if (o.signal.aborted) throw new CancelledError();
    // DESTDIR itself is not part of what is installed.
    for (const d of await missingDirs(dir)) if (!paths.destdir || d.length > paths.destdir.length) made.push(paths.destdir ? d.slice(paths.destdir.length) : d);
    const mine = join(dir, tempName('lock'));
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(mine, `${process.pid}\n`);
    } catch (err) {
      throw new DestinationError(`${dir}: cannot take its lock (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        'run pull as the user the destination belongs to (root for a system install), or choose another with --user or --destdir', { cause: err });
    }
    try {
      await link(mine, file);
      const dirs = new Set(made);
      return {
        made: [...dirs],
        removeIfEmpty: (more) => more.forEach((d) => dirs.add(d)),
        release: () => release(paths, file, [...dirs]),
      };
    } catch (err) {
      // ENOENT: the directory went with a pull that removed its last variant; make it again.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' && (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    } finally {
      await unlink(mine).catch(() => {});
    }
    const pid = await holderOf(file);
    if (pid === undefined) continue;
    if (!pidAlive(pid)) {
      o.log.warn(`${dir}: taking over the lock of pull process ${pid}, which is gone`);
      await takeOver(file, pid);
      continue;
    }
    if (Date.now() >= until) {
      throw new DestinationError(`${dir}: in use by another pull (pid ${pid})`, 'wait for it to finish and try again, or stop that process');
    }
    if (!told) {
      o.log.info(`${dir}: waiting for another pull (pid ${pid}) to finish, up to ${Math.ceil((until - Date.now()) / 1000)} s`);
      told = true;
    }
    await new Promise((r) => setTimeout(r, o.pollMs ?? 200));
  }
}

async function release(paths: InstallPaths, file: string, dirs: readonly string[]): Promise<void> {
  await unlink(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  // Innermost first; a directory that holds anything stays.
  for (const d of [...dirs].sort((a, b) => b.length - a.length)) await rmdir(onDisk(paths, d)).catch(() => {});
}

/** Runs `work` holding the destination's lock, and releases it however `work` ends. */
export async function withDestinationLock<T>(paths: InstallPaths, o: LockOptions, work: (lock: DestinationLock) => Promise<T>): Promise<T> {
  const lock = await lockDestination(paths, o);
  try {
    return await work(lock);
  } finally {
    await lock.release();
  }
}
