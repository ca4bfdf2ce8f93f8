import { describe, expect, it } from 'vitest';
import type { BuildPlan, VariantOutcome } from '../../pipeline/domain.ts';
import { connectionFailure } from '../../pipeline/engine/docker-engine.ts';
import { BuildError, CancelledError, EngineLostError } from '../../pipeline/errors.ts';
import { runVariants } from '../../pipeline/queue/run-variants.ts';
import type { Reporter } from '../../pipeline/report/reporter.ts';

const plan = (id: string) => ({ variant: { id } }) as unknown as BuildPlan;

/** A reporter that records which variants started and how each finished. */
function recorder(): Reporter & { started_: string[]; finished_: VariantOutcome[] } {
  const r = {
    started_: [] as string[],
    finished_: [] as VariantOutcome[],
    info() {},
    warn() {},
    stage: <T>(_: string, work: () => Promise<T>) => work(),
    queued() {},
    started(id: string) {
      r.started_.push(id);
    },
    line() {},
    finished(o: VariantOutcome) {
      r.finished_.push(o);
    },
    summary() {},
  };
  return r;
}

describe('the variant queue', () => {
  it('records a failed variant and builds the others', async () => {
    const reporter = recorder();
    const outcomes = await runVariants([plan('a'), plan('b'), plan('c')], 1, new AbortController().signal, reporter, async (p) => {
      if (p.variant.id === 'b') throw new BuildError('b', 'exit-status', 'edk2 build exited with status 2', 2, undefined, []);
      return { dir: `/out/${p.variant.id}`, cpuNanos: 1e9 };
    });
    expect(outcomes.map((o) => [o.id, o.status])).toEqual([['a', 'built'], ['b', 'failed'], ['c', 'built']]);
    expect(reporter.started_).toEqual(['a', 'b', 'c']);
  });

  it('starts a variant that waits for a sibling only once that one has finished, built or failed, with the slots still shared', async () => {
    const reporter = recorder();
    const events: string[] = [];
    const waits = new Map([['a2', 'a'], ['b2', 'b']]);
    const outcomes = await runVariants([plan('a'), plan('a2'), plan('b'), plan('b2'), plan('c')], 2, new AbortController().signal, reporter, async (p) => {
      events.push(`start ${p.variant.id}`);
      await new Promise((r) => setTimeout(r, p.variant.id === 'a' ? 30 : 5));
      events.push(`end ${p.variant.id}`);
      if (p.variant.id === 'b') throw new BuildError('b', 'exit-status', 'edk2 build exited with status 2', 2, undefined, []);
      return { dir: `/out/${p.variant.id}`, cpuNanos: 1e9 };
    }, waits);
    expect(outcomes.map((o) => [o.id, o.status])).toEqual([['a', 'built'], ['a2', 'built'], ['b', 'failed'], ['b2', 'built'], ['c', 'built']]);
    expect(events.indexOf('start a2')).toBeGreaterThan(events.indexOf('end a'));
    expect(events.indexOf('start b2')).toBeGreaterThan(events.indexOf('end b'));
    // c does not wait behind a's siblings: it takes the slot b left while a still builds.
    expect(events.indexOf('start c')).toBeLessThan(events.indexOf('end a'));
  });

  it('starts the variants that wait for one sibling one after another, not side by side', async () => {
    const events: string[] = [];
    await runVariants([plan('a'), plan('a2'), plan('a3')], 2, new AbortController().signal, recorder(), async (p) => {
      events.push(`start ${p.variant.id}`);
      await new Promise((r) => setTimeout(r, 5));
      events.push(`end ${p.variant.id}`);
      return { dir: `/out/${p.variant.id}`, cpuNanos: 1e9 };
    }, new Map([['a2', 'a'], ['a3', 'a']]));
    expect(events).toEqual(['start a', 'end a', 'start a2', 'end a2', 'start a3', 'end a3']);
  });

  it('starts no further variant once the engine is lost, and fails those with the reason', async () => {
    const reporter = recorder();
    const outcomes = await runVariants([plan('a'), plan('b'), plan('c')], 1, new AbortController().signal, reporter, async (p) => {
      if (p.variant.id === 'a') throw new EngineLostError('unix:///run/docker.sock', 'waiting for container 0123456789ab', 'ECONNRESET');
      throw new Error('must not run');
    });
    expect(reporter.started_).toEqual(['a']);
    expect(outcomes.map((o) => o.status)).toEqual(['failed', 'failed', 'failed']);
    const c = outcomes[2]!;
    expect(c.status === 'failed' && c.error.message).toBe('lost the container engine at unix:///run/docker.sock while c waited its turn (ECONNRESET)');
  });

  it('on abort, waits for the running job to unwind before it returns', async () => {
    const ac = new AbortController();
    let unwound = false;
    const outcomes = await runVariants([plan('a'), plan('b')], 1, ac.signal, recorder(), async (_p, signal) => {
      setTimeout(() => ac.abort(), 5);
      await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
      await new Promise((r) => setTimeout(r, 50)); // stopping its container
      unwound = true;
      throw new CancelledError();
    });
    expect(unwound).toBe(true);
    expect(outcomes.map((o) => o.status)).toEqual(['cancelled', 'cancelled']);
  });

  it('marks variants cancelled when the run is interrupted before their turn', async () => {
    const ac = new AbortController();
    const outcomes = await runVariants([plan('a'), plan('b')], 1, ac.signal, recorder(), async () => {
      ac.abort();
      throw new Error('killed');
    });
    expect(outcomes.map((o) => o.status)).toEqual(['cancelled', 'cancelled']);
  });
});

describe('engine failures', () => {
  it('tells a lost engine (socket errors) from a refused request (HTTP status)', () => {
    expect(connectionFailure(Object.assign(new Error('connect ENOENT /var/run/docker.sock'), { code: 'ENOENT' }))).toBe('ENOENT');
    expect(connectionFailure(new Error('socket hang up'))).toBe('ECONNRESET');
    expect(connectionFailure(Object.assign(new Error('(HTTP code 500) server error'), { statusCode: 500 }))).toBeUndefined();
    expect(connectionFailure(Object.assign(new Error('no such container'), { statusCode: 404, code: 'ENOENT' }))).toBeUndefined();
  });
});
