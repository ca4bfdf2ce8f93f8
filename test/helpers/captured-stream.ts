/** A stream a command writes to (as it would to process.stdout or stderr) that a test reads back. */
import { Writable } from 'node:stream';

export type CapturedStream = NodeJS.WriteStream & { readonly text: () => string };

export function capturedStream(): CapturedStream {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return Object.assign(stream, { isTTY: false, columns: 100, text: () => chunks.join('') }) as unknown as CapturedStream;
}
