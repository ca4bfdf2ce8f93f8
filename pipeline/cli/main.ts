/**
 * What every command shares: every signal that ends a process by default (INT, TERM, HUP when
 * the terminal closes, QUIT) aborts the run's signal, so that cleanup runs (a second one quits
 * at once); writing to a closed stdout or stderr (EPIPE) never ends the process before its
 * cleanup; an error ends the process with one line and its exit code.
 */
import { setMaxListeners } from 'node:events';
import { describeError, MatrixError } from '../errors.ts';
import type { Command, CommandContext } from './command-context.ts';

/** Signals closer together than this are one interrupt delivered twice. */
const SAME_INTERRUPT_MS = 500;

/** Signals whose default action ends the process: each is handled like Ctrl-C. */
export const ENDING_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

export function runCommand(main: Command, argv = process.argv.slice(2)): void {
  const controller = new AbortController();
  // Every queued variant and running build listens to it: more than Node's default of 10.
  setMaxListeners(0, controller.signal);
  let firstAt: number | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (firstAt !== undefined) {
      // One Ctrl-C can arrive twice when a wrapper relays it to the process group that already
      // got it; only a later one is the user's "quit now".
      if (performance.now() - firstAt > SAME_INTERRUPT_MS) process.exit(130);
      return;
    }
    firstAt = performance.now();
    process.stderr.write(`\n${sig}: stopping, cleaning up (again to quit at once)\n`);
    controller.abort(new Error(sig));
  };
  for (const sig of ENDING_SIGNALS) process.on(sig, onSignal);
  // A closed pipe (terminal gone, `| head`) must not end the process mid-cleanup: what cannot be
  // written is dropped.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
  }
  void runToExit(main, argv, controller.signal).then((code) => {
    process.exitCode = code;
  });
}

/**
 * Runs a command to its exit status: what it returns, 130 once interrupted, or the status of
 * the error that ended it, told on one line of stderr.
 */
export async function runToExit(main: Command, argv: readonly string[], signal: AbortSignal, ctx: CommandContext = {}): Promise<number> {
  const stderr = ctx.stderr ?? process.stderr;
  try {
    const code = await main(argv, signal, ctx);
    return signal.aborted ? 130 : code;
  } catch (err) {
    // After an interrupt, what failed next (a killed container, a cancelled request) is only
    // its consequence: the interrupt is the one thing to report.
    if (signal.aborted) {
      stderr.write(`edk2-matrix: interrupted by ${(signal.reason as Error).message}; stopped and cleaned up\n`);
      return 130;
    }
    stderr.write(`edk2-matrix: ${describeError(err)}\n`);
    // An unexpected error's stack helps a bug report.
    if (!(err instanceof MatrixError) && err instanceof Error && err.stack) stderr.write(`${err.stack}\n`);
    return err instanceof MatrixError ? err.exitCode : 1;
  }
}
