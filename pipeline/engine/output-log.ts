/**
 * A container's output, followed into a log file until the container stops. Every complete
 * line also goes to `onLine` (progress), and the last few are kept for error messages. A log
 * file that cannot be written (disk full) is given up on without stalling the container; the
 * caller reports `writeError` in its own terms.
 */
import { createWriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Container } from './engine.ts';

export interface FollowedOutput {
  /** The last lines the container printed (at most `LAST_LINES`). */
  readonly lastLines: readonly string[];
  /** Why the log file could not be written, if it could not. */
  readonly writeError: Error | undefined;
}

export const LAST_LINES = 20;

/** Follows `container`'s output into `logPath`; resolves once the output ended and the file is closed. */
export async function followOutputToFile(
  container: Container,
  logPath: string,
  onLine: (line: string) => void = () => {},
  /** Add to the log instead of starting it (a later step of the same build). */
  append = false,
): Promise<FollowedOutput> {
  const file = createWriteStream(logPath, { flags: append ? 'a' : 'w' });
  let writeError: Error | undefined;
  file.on('error', (err) => (writeError ??= err));
  const lastLines: string[] = [];
  const tap = lineTap(file, (line) => {
    lastLines.push(line);
    if (lastLines.length > LAST_LINES) lastLines.shift();
    onLine(line);
  });
  try {
    await container.streamOutput(tap);
  } finally {
    tap.end();
    await finished(tap).catch(() => {});
  }
  return { lastLines, writeError };
}

/** A Writable that writes to `file` and hands every complete line to `onLine`. */
function lineTap(file: Writable, onLine: (line: string) => void): Writable {
  let partial = '';
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) onLine(l.replace(/\r$/, ''));
      if (file.destroyed) done();
      else if (!file.write(chunk)) {
        const go = () => {
          file.off('drain', go);
          file.off('close', go);
          done();
        };
        file.on('drain', go);
        file.on('close', go); // destroyed by an error while we waited
      } else done();
    },
    final(done) {
      if (partial) onLine(partial);
      if (file.destroyed) done();
      else file.end(() => done());
    },
  });
}
