import { lstat } from 'node:fs/promises';

/** Whether anything (a file, a directory, a link, even a dangling one) is at `path`. */
export function exists(path: string): Promise<boolean> {
  return lstat(path).then(() => true, () => false);
}
