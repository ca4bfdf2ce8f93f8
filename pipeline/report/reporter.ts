/**
 * What the run tells its user. One interface, three renderings: live progress on a terminal,
 * plain lines when piped, GitHub Actions groups and a step summary in CI.
 */
import type { Log, VariantOutcome } from '../domain.ts';

export interface RunSummary {
  readonly outcomes: readonly VariantOutcome[];
  readonly seconds: number;
  /** Share (0..1) of all cores the builds kept busy, when any build ran. */
  readonly coresBusy: number | undefined;
}

export interface Reporter extends Log {
  /** Runs one stage of the run (image, source, ...) with its name shown while it works. */
  stage<T>(name: string, work: () => Promise<T>): Promise<T>;
  queued(ids: readonly string[]): void;
  started(id: string): void;
  /** A line of a variant's build output (the log file has them all). */
  line(id: string, line: string): void;
  finished(outcome: VariantOutcome): void;
  /** The end of the run: a table of every variant. */
  summary(run: RunSummary, outDir: string): void;
}
