/** The verification table: variant, result, seconds to the UEFI Shell, accelerator, which QEMU; a row per boot. */
import type { VerifyOutcome } from './verify-artifacts.ts';
import { formatColumns } from '../report/columns.ts';

export function verifyTable(outcomes: readonly VerifyOutcome[]): string {
  const rows = [
    ['variant', 'boot', 'to shell', 'accel', 'qemu', 'note'],
    ...outcomes.map((o) => [
      o.id,
      o.ok ? 'ok' : 'FAILED',
      o.secondsToShell === undefined ? '-' : `${o.secondsToShell.toFixed(1)}s`,
      o.accel,
      o.qemu ? `${o.qemu.version} ${o.qemu.where}` : '-',
      o.ok ? (o.shellDisk ? 'Shell from disk' : '') : `${o.reason}; serial log: ${o.serialLog}`,
    ]),
  ];
  const failed = outcomes.filter((o) => !o.ok).length;
  return `${formatColumns(rows)}\n\n${outcomes.length - failed} booted, ${failed} failed`;
}
