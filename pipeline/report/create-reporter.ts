import { PlainReporter } from './plain-reporter.ts';
import type { Reporter } from './reporter.ts';
import { TtyReporter } from './tty-reporter.ts';

/** Live progress on a terminal, GitHub groups and summary in Actions, plain lines otherwise. */
export function createReporter(out: NodeJS.WriteStream = process.stderr, env = process.env): Reporter {
  if (env.GITHUB_ACTIONS === 'true') return new PlainReporter(out, { summaryFile: env.GITHUB_STEP_SUMMARY });
  if (out.isTTY && env.TERM !== 'dumb') return new TtyReporter(out);
  return new PlainReporter(out);
}
