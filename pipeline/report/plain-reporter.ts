/**
 * Plain lines, for pipes and log files; with `github` set, also GitHub Actions groups,
 * error annotations and a step summary.
 */
import { appendFileSync } from 'node:fs';
import type { VariantOutcome } from '../domain.ts';
import { describeError } from '../errors.ts';
import type { Reporter, RunSummary } from './reporter.ts';
import { formatSeconds, summaryLine, summaryMarkdown, summaryTable } from './summary.ts';
import { workflowCommand } from './github-commands.ts';

export class PlainReporter implements Reporter {
  readonly #start = performance.now();

  constructor(
    readonly out: NodeJS.WritableStream,
    readonly github: { readonly summaryFile: string | undefined } | undefined = undefined,
  ) {}

  protected print(line: string): void {
    const t = formatSeconds((performance.now() - this.#start) / 1000).padStart(6);
    // One line per message: a newline inside one (an error's text) would start a line that
    // GitHub reads as a workflow command.
    this.out.write(`[${t}] ${line.replace(/\s*[\r\n]+\s*/g, ' | ')}\n`);
  }

  info(message: string): void {
    this.print(message);
  }

  warn(message: string): void {
    if (this.github) this.out.write(workflowCommand('warning', message));
    else this.print(`warning: ${message}`);
  }

  async stage<T>(name: string, work: () => Promise<T>): Promise<T> {
    if (this.github) this.out.write(workflowCommand('group', name));
    this.print(`${name}…`);
    const t = performance.now();
    try {
      const result = await work();
      this.print(`${name}: done in ${formatSeconds((performance.now() - t) / 1000)}`);
      return result;
    } finally {
      if (this.github) this.out.write('::endgroup::\n');
    }
  }

  queued(ids: readonly string[]): void {
    this.print(`queued ${ids.length} variant${ids.length === 1 ? '' : 's'}: ${ids.join(', ')}`);
  }

  started(id: string): void {
    this.print(`${id}: building`);
  }

  line(_id: string, _line: string): void {
    // Build output goes to the variant's log file; lines on the console would interleave.
  }

  finished(o: VariantOutcome): void {
    if (o.status === 'built' && o.from !== 'built') this.print(`${o.id}: ${o.from === 'cache' ? 'published from the artifact cache' : 'up to date'} → ${o.dir}`);
    else if (o.status === 'built') this.print(`${o.id}: done in ${formatSeconds(o.seconds)} → ${o.dir}`);
    else if (o.status === 'failed') {
      const message = `${o.id}: FAILED after ${formatSeconds(o.seconds)}: ${describeError(o.error)}`;
      if (this.github) this.out.write(workflowCommand('error', describeError(o.error), { title: o.id }));
      this.print(message);
    }
  }

  summary(run: RunSummary, outDir: string): void {
    this.out.write(`\n${summaryTable(run.outcomes)}\n\n${summaryLine(run, outDir)}\n`);
    if (this.github?.summaryFile) appendFileSync(this.github.summaryFile, summaryMarkdown(run, outDir));
  }
}
