/**
 * What a run did when: one row per variant (and one for the shared stages), each a sequence
 * of phases, and how busy the host's cores were, sampled every second. The summary reports
 * cores busy per phase from it, and timeline-svg.ts draws it.
 */
import { cpus } from 'node:os';

/** Phases, in the order a variant meets them. edk2 runs AutoGen and make interleaved per module. */
export const PHASES = ['image', 'source', 'setup', 'autogen+compile', 'genfds', 'export', 'boot'] as const;
export type Phase = (typeof PHASES)[number];

export interface Span {
  readonly row: string;
  readonly phase: Phase;
  /** Seconds since the run started. */
  readonly start: number;
  readonly end: number;
}

export interface BusySample {
  readonly t: number;
  /** Share (0..1) of all cores busy over the second before `t`. */
  readonly busy: number;
}

/** edk2's own output marks where its phases change. */
export function phaseOfLine(line: string): Phase | undefined {
  if (line.startsWith('Processing meta-data')) return 'autogen+compile';
  if (/^(Fd File Name:|GenFds|Generating \S+ FV)/.test(line)) return 'genfds';
  return undefined;
}

function cpuTotals(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const c of cpus()) {
    idle += c.times.idle;
    total += c.times.user + c.times.nice + c.times.sys + c.times.idle + c.times.irq;
  }
  return { idle, total };
}

export class Timeline {
  readonly #started = performance.now();
  readonly spans: Span[] = [];
  readonly samples: BusySample[] = [];
  readonly #open = new Map<string, { phase: Phase; start: number }>();
  #timer: NodeJS.Timeout | undefined;

  now(): number {
    return (performance.now() - this.#started) / 1000;
  }

  /** Ends the row's current phase (if any) and starts `phase`. */
  enter(row: string, phase: Phase): void {
    const t = this.now();
    const open = this.#open.get(row);
    if (open?.phase === phase) return;
    if (open) this.spans.push({ row, phase: open.phase, start: open.start, end: t });
    this.#open.set(row, { phase, start: t });
  }

  /** Ends the row's current phase. */
  leave(row: string): void {
    const open = this.#open.get(row);
    if (!open) return;
    this.spans.push({ row, phase: open.phase, start: open.start, end: this.now() });
    this.#open.delete(row);
  }

  async during<T>(row: string, phase: Phase, work: () => Promise<T>): Promise<T> {
    this.enter(row, phase);
    try {
      return await work();
    } finally {
      this.leave(row);
    }
  }

  /** Samples the host's cores every `everyMs` until `stop`. */
  sample(everyMs = 1000): void {
    let last = cpuTotals();
    this.#timer ??= setInterval(() => {
      const now = cpuTotals();
      const total = now.total - last.total;
      if (total > 0) this.samples.push({ t: this.now(), busy: Math.min(1, Math.max(0, 1 - (now.idle - last.idle) / total)) });
      last = now;
    }, everyMs).unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    for (const row of [...this.#open.keys()]) this.leave(row);
  }

  /** Mean share of cores busy while at least one row was in each phase; phases never entered are left out. */
  busyByPhase(): Partial<Record<Phase, number>> {
    const out: Partial<Record<Phase, number>> = {};
    for (const phase of PHASES) {
      const spans = this.spans.filter((s) => s.phase === phase);
      // A sample covers the second before it: it counts for a phase that overlaps that second.
      const inside = this.samples.filter((x) => spans.some((s) => s.start < x.t && x.t - 1 < s.end));
      if (inside.length) out[phase] = inside.reduce((n, x) => n + x.busy, 0) / inside.length;
    }
    return out;
  }
}
