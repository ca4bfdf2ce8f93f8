import { readdir } from 'node:fs/promises';

/**
 * Names in directory `path`, or none when there is no such directory. Any other failure to
 * list it (no permission, a file where a directory should be) is thrown: an empty list then
 * would make its contents look gone.
 */
export async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
