/**
 * What every command shares: Ctrl-C and SIGTERM abort the run's signal (a second one quits at
 * once), and an error ends the process with one line and its exit code.
 */
import { setMaxListeners } from 'node:events';
import { describeError, MatrixError } from '../errors.ts';

/** Signals closer together than this are one interrupt delivered twice. */
const SAME_INTERRUPT_MS = 500;

export function runCommand(main: (argv: readonly string[], signal: AbortSignal) => Promise<number>): void {
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
    process.stderr.write(`\n${sig}: stopping, removing containers (again to quit at once)\n`);
    controller.abort(new Error(sig));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  main(process.argv.slice(2), controller.signal).then(
    (code) => {
      process.exitCode = controller.signal.aborted ? 130 : code;
    },
    (err: unknown) => {
      process.stderr.write(`edk2-matrix: ${describeError(err)}\n`);
      // An unexpected error's stack helps a bug report; after Ctrl-C it is only the interruption.
      if (!controller.signal.aborted && !(err instanceof MatrixError) && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
      process.exitCode = controller.signal.aborted ? 130 : err instanceof MatrixError ? err.exitCode : 1;
    },
  );
}
