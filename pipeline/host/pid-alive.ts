import { readFileSync } from 'node:fs';

/**
 * Whether a process of this host is alive: it exists (signal 0; EPERM means it does, but is
 * not ours) and, on Linux, is not a zombie — a killed process whose parent died stays one
 * where nothing reaps it (some containers' init), and it runs nothing.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ..."; comm may hold spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch (err) {
    // Gone since the signal check; or no /proc (not Linux), where existence is all we know.
    return (err as NodeJS.ErrnoException).code !== 'ENOENT' || !process.platform.startsWith('linux');
  }
}
