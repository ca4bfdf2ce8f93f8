/**
 * What every `pull` that reads or changes a destination does first and last: take its lock,
 * repair what an interrupted pull left (saying so in one line), and, however the work ends,
 * release the lock and remove the directories pull made that are left empty.
 */
import { withDestinationLock, type DestinationLock, type LockOptions } from './destination-lock.ts';
import { repairDestination } from './install-journal.ts';
import type { InstallPaths } from './install-paths.ts';

export async function atDestination<T>(paths: InstallPaths, o: LockOptions, work: (lock: DestinationLock) => Promise<T>): Promise<T> {
  return withDestinationLock(paths, o, async (lock) => {
    const repaired = await repairDestination(paths, o.log);
    if (repaired.message) o.log.warn(repaired.message);
    lock.removeIfEmpty(repaired.emptyDirs);
    return work(lock);
  });
}
