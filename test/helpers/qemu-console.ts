/**
 * A QEMU guest driven through its serial console, like a person at the keyboard (or Debian's
 * pexpect-based autopkgtest): wait for one of some patterns, type a line, read what came back.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { stripAnsi } from '../../pipeline/verify/boot.ts';

export interface Match {
  /** Which of the patterns matched first. */
  readonly index: number;
  readonly match: RegExpExecArray;
  /** Console text from the previous match's end to this one's. */
  readonly text: string;
}

export class QemuConsole {
  private readonly child: ChildProcessWithoutNullStreams;
  private raw = '';
  /** Where the next `expect` starts looking, in the ANSI-stripped console text. */
  private consumed = 0;
  private exited: number | null | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(argv: readonly string[]) {
    const [binary, ...args] = argv;
    this.child = spawn(binary!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const onData = (chunk: Buffer) => {
      this.raw += chunk.toString('latin1');
      for (const wake of this.waiters) wake();
    };
    this.child.stdout.on('data', onData);
    this.child.stderr.on('data', onData);
    this.child.stdin.on('error', () => {});
    this.child.on('close', (code) => {
      this.exited = code;
      for (const wake of this.waiters) wake();
    });
  }

  /** Everything the guest wrote so far, escapes removed. */
  get serial(): string {
    return stripAnsi(this.raw);
  }

  /** Resolves with the first of `patterns` to appear after the last match; rejects on timeout or exit. */
  expect(patterns: readonly RegExp[], timeoutMs: number): Promise<Match> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const text = this.serial.slice(this.consumed);
        let best: { index: number; match: RegExpExecArray } | undefined;
        patterns.forEach((p, index) => {
          const match = new RegExp(p.source, p.flags.replace('g', '')).exec(text);
          if (match && (!best || match.index < best.match.index)) best = { index, match };
        });
        if (best) {
          done();
          this.consumed += best.match.index + best.match[0].length;
          resolve({ ...best, text: text.slice(0, best.match.index + best.match[0].length) });
        } else if (this.exited !== undefined) {
          done();
          reject(new Error(`QEMU exited (${this.exited}) before ${patterns.map(String).join(' or ')}; console ends:\n${text.slice(-2000)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`none of ${patterns.map(String).join(', ')} within ${timeoutMs / 1000}s; console ends:\n${this.serial.slice(-2000)}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Types a line, with the carriage return a UEFI console expects. */
  send(line: string): void {
    this.child.stdin.write(`${line}\r`);
  }

  /** Stops QEMU (if still running) and waits for it. */
  async close(): Promise<void> {
    if (this.exited !== undefined) return;
    const closed = new Promise<void>((resolve) => this.child.once('close', () => resolve()));
    this.child.kill('SIGKILL');
    await closed;
  }
}
