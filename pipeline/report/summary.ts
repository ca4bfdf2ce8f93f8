/** The end-of-run table, as plain text and as GitHub markdown. */
import type { VariantOutcome } from '../domain.ts';
import type { RunSummary } from './reporter.ts';
import { describeError } from '../errors.ts';
import { formatColumns } from './columns.ts';

/**
 * `12.3s` under a minute, `2m05s` from there on. Rounds once, before splitting into minutes
 * and seconds, so 119.6 s is `2m00s` (not `1m60s`) and 59.96 s is `1m00s` (not `60.0s`).
 */
export function formatSeconds(s: number): string {
  const tenths = Math.round(s * 10);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)}s`;
  const whole = Math.round(s);
  return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
}

function rows(outcomes: readonly VariantOutcome[]): [string, string, string, string][] {
  return outcomes.map((o) => [
    o.id,
    o.status === 'built' && o.from !== 'built' ? o.from : o.status,
    o.status === 'cancelled' || (o.status === 'built' && o.from !== 'built') ? '-' : formatSeconds(o.seconds),
    o.status === 'built' ? o.dir : o.status === 'failed' ? describeError(o.error).replace(/\s*[\r\n]+\s*/g, ' | ') : 'not finished',
  ]);
}

export function countOutcomes(outcomes: readonly VariantOutcome[]): string {
  const n = (s: VariantOutcome['status']) => outcomes.filter((o) => o.status === s).length;
  const reused = outcomes.filter((o) => o.status === 'built' && o.from !== 'built').length;
  return `${n('built') - reused} built, ${reused} reused, ${n('failed')} failed, ${n('cancelled')} cancelled`;
}

export function summaryLine(run: RunSummary, outDir: string): string {
  const busy = run.coresBusy === undefined ? '' : `; cores busy during builds: ${Math.round(run.coresBusy * 100)}%`;
  return `${countOutcomes(run.outcomes)} in ${formatSeconds(run.seconds)}${busy}; artifacts in ${outDir}`;
}

export function summaryTable(outcomes: readonly VariantOutcome[]): string {
  return formatColumns([['variant', 'result', 'time', 'output'], ...rows(outcomes)]);
}

export function summaryMarkdown(run: RunSummary, outDir: string): string {
  const esc = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');
  const outcomes = run.outcomes;
  return [
    `### edk2-matrix: ${summaryLine(run, outDir)}`,
    '',
    '| variant | result | time | output |',
    '|---|---|---|---|',
    ...rows(outcomes).map((r) => `| ${r.map(esc).join(' | ')} |`),
    '',
  ].join('\n');
}
