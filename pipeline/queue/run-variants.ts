/**
 * Runs every variant through one p-queue. A failed variant is recorded and the others go on;
 * aborting the signal stops queued variants from starting and running ones through their own
 * signal.
 */
import PQueue from 'p-queue';
import type { Variant, VariantOutcome } from '../domain.ts';
import { CancelledError } from '../errors.ts';
import type { Reporter } from '../report/reporter.ts';

export type VariantWork = (variant: Variant, signal: AbortSignal) => Promise<{ dir: string }>;

export async function runVariants(
  variants: readonly Variant[],
  concurrency: number,
  signal: AbortSignal,
  reporter: Reporter,
  work: VariantWork,
): Promise<VariantOutcome[]> {
  const queue = new PQueue({ concurrency });
  reporter.queued(variants.map((v) => v.id));
  const outcomes = await Promise.all(
    variants.map(async (variant): Promise<VariantOutcome> => {
      try {
        return await queue.add(async (): Promise<VariantOutcome> => {
          const started = performance.now();
          reporter.started(variant.id);
          try {
            const { dir } = await work(variant, signal);
            const outcome = { id: variant.id, status: 'built', seconds: (performance.now() - started) / 1000, dir } as const;
            reporter.finished(outcome);
            return outcome;
          } catch (err) {
            if (err instanceof CancelledError || signal.aborted) return { id: variant.id, status: 'cancelled' };
            const outcome = { id: variant.id, status: 'failed', seconds: (performance.now() - started) / 1000, error: err as Error } as const;
            reporter.finished(outcome);
            return outcome;
          }
        }, { signal });
      } catch {
        // The queue refused to start it: the run was aborted before its turn.
        return { id: variant.id, status: 'cancelled' };
      }
    }),
  );
  return outcomes;
}
