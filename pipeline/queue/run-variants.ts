/**
 * Runs every variant job through one p-queue. A failed variant is recorded and the others go
 * on; aborting the signal stops queued variants from starting and running ones through their
 * own signal. When the engine is lost, variants not yet started fail at once with that error
 * (those already running fail by themselves, as their requests do).
 * A variant in `waitsFor` joins the queue only once the variant it names, and any variant before
 * it waiting for the same one, has finished (built or failed): a sibling that starts from a copy
 * of the other's build tree.
 */
import PQueue from 'p-queue';
import type { BuildPlan, VariantOutcome } from '../domain.ts';
import { CancelledError, EngineLostError } from '../errors.ts';
import type { Reporter } from '../report/reporter.ts';

export type VariantWork = (plan: BuildPlan, signal: AbortSignal) => Promise<{ dir: string; cpuNanos: number }>;

export async function runVariants(
  plans: readonly BuildPlan[],
  concurrency: number,
  signal: AbortSignal,
  reporter: Reporter,
  work: VariantWork,
  waitsFor: ReadonlyMap<string, string> = new Map(),
): Promise<VariantOutcome[]> {
  const queue = new PQueue({ concurrency });
  let lost: EngineLostError | undefined;
  if (plans.length) reporter.queued(plans.map((p) => p.variant.id));
  // The signal is checked when a variant's turn comes, not handed to p-queue: p-queue would
  // reject a running task at once on abort, and the run must wait for its jobs to unwind
  // (containers stopped, nothing half-published) before it cleans up.
  const one = (plan: BuildPlan) => queue.add(async (): Promise<VariantOutcome> => {
    const id = plan.variant.id;
    if (signal.aborted) return { id, status: 'cancelled' };
    const started = performance.now();
    if (lost) {
      const outcome = { id, status: 'failed', seconds: 0, error: new EngineLostError(lost.host, `${id} waited its turn`, lost.code) } as const;
      reporter.finished(outcome);
      return outcome;
    }
    reporter.started(id);
    try {
      const { dir, cpuNanos } = await work(plan, signal);
      const outcome = { id, status: 'built', from: 'built', seconds: (performance.now() - started) / 1000, dir, cpuSeconds: cpuNanos / 1e9 } as const;
      reporter.finished(outcome);
      return outcome;
    } catch (err) {
      if (err instanceof CancelledError || signal.aborted) return { id, status: 'cancelled' };
      if (err instanceof EngineLostError) lost ??= err;
      const outcome = { id, status: 'failed', seconds: (performance.now() - started) / 1000, error: err as Error } as const;
      reporter.finished(outcome);
      return outcome;
    }
  });
  const outcomes = new Map<string, Promise<VariantOutcome>>();
  const ids = new Set(plans.map((p) => p.variant.id));
  const leaderOf = (plan: BuildPlan) => {
    const leader = waitsFor.get(plan.variant.id);
    return leader !== undefined && ids.has(leader) && !waitsFor.has(leader) ? leader : undefined;
  };
  for (const plan of plans) if (!leaderOf(plan)) outcomes.set(plan.variant.id, one(plan));
  // Those waiting for one leader go one after another: each copies the leader's tree (or the one
  // before it's), and a tree being copied is held. A job never rejects (its outcome says how it ended).
  const last = new Map<string, Promise<VariantOutcome>>();
  for (const plan of plans) {
    const leader = leaderOf(plan);
    if (!leader) continue;
    const outcome = (last.get(leader) ?? outcomes.get(leader)!).then(() => one(plan));
    last.set(leader, outcome);
    outcomes.set(plan.variant.id, outcome);
  }
  return Promise.all(plans.map((p) => outcomes.get(p.variant.id)!));
}
