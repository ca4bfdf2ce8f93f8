/** The verification table: variant, result, seconds to the UEFI Shell, accelerator. */
import type { VerifyOutcome } from './verify-artifacts.ts';

export function verifyTable(outcomes: readonly VerifyOutcome[]): string {
  const rows = [
    ['variant', 'boot', 'to shell', 'accel', 'note'],
    ...outcomes.map((o) => [
      o.id,
      o.ok ? 'ok' : 'FAILED',
      o.secondsToShell === undefined ? '-' : `${o.secondsToShell.toFixed(1)}s`,
      o.accel,
      o.ok ? (o.shellDisk ? 'Shell from disk' : '') : `${o.reason}; serial log: ${o.serialLog}`,
    ]),
  ];
  const width = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((c, i) => (i < r.length - 1 ? c.padEnd(width[i]!) : c)).join('  ').trimEnd());
  const failed = outcomes.filter((o) => !o.ok).length;
  return `${lines.join('\n')}\n\n${outcomes.length - failed} booted, ${failed} failed`;
}
