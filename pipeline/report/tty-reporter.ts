/**
 * Live progress on a terminal: messages scroll above a status block with one line per
 * variant (state, elapsed time, the build's latest line), redrawn in place.
 */
import type { VariantOutcome } from '../domain.ts';
import { PlainReporter } from './plain-reporter.ts';
import type { RunSummary } from './reporter.ts';
import { formatSeconds } from './summary.ts';

interface Row {
  state: 'queued' | 'building' | 'built' | 'failed';
  since: number;
  last: string;
}

export class TtyReporter extends PlainReporter {
  readonly #rows = new Map<string, Row>();
  #drawn = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(readonly tty: NodeJS.WriteStream) {
    super(tty);
  }

  protected override print(line: string): void {
    this.#erase();
    super.print(line);
    this.#draw();
  }

  #erase(): void {
    if (this.#drawn) this.tty.write(`\x1b[${this.#drawn}A\x1b[J`);
    this.#drawn = 0;
  }

  #draw(): void {
    const width = Math.max(40, (this.tty.columns ?? 100) - 1);
    const lines = [...this.#rows].map(([id, r]) => {
      const t = r.state === 'building' ? formatSeconds((performance.now() - r.since) / 1000) : '';
      return `  ${r.state.padEnd(8)} ${id} ${t} ${r.state === 'building' ? r.last : ''}`.slice(0, width);
    });
    if (lines.length) this.tty.write(`${lines.join('\n')}\n`);
    this.#drawn = lines.length;
  }

  override queued(ids: readonly string[]): void {
    for (const id of ids) this.#rows.set(id, { state: 'queued', since: performance.now(), last: '' });
    super.queued(ids);
    this.#timer ??= setInterval(() => {
      this.#erase();
      this.#draw();
    }, 1000).unref();
  }

  override started(id: string): void {
    this.#rows.set(id, { state: 'building', since: performance.now(), last: '' });
    super.started(id);
  }

  override line(id: string, line: string): void {
    const row = this.#rows.get(id);
    if (row && line.trim()) row.last = line.trim().replace(/\s+/g, ' ');
  }

  override finished(o: VariantOutcome): void {
    const row = this.#rows.get(o.id);
    if (row && o.status !== 'cancelled') row.state = o.status;
    else if (!row && o.status === 'built') this.#rows.set(o.id, { state: 'built', since: performance.now(), last: '' });
    super.finished(o);
  }

  override summary(run: RunSummary, outDir: string): void {
    clearInterval(this.#timer);
    this.#erase();
    this.#rows.clear();
    super.summary(run, outDir);
  }
}
