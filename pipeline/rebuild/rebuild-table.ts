/** What `npm run rebuild` prints: one row per variant, then the verdict and where the attestation is. */
import { formatColumns } from '../report/columns.ts';
import type { FileDifference } from './compare-variant.ts';
import type { RebuildReport } from './rebuild-release.ts';

function describe(d: FileDifference): string {
  const modules = d.modules === undefined ? (d.modulesUnknown ? ` (modules unknown: ${d.modulesUnknown})` : '')
    : d.modules.length ? ` (modules: ${d.modules.slice(0, 6).join(', ')}${d.modules.length > 6 ? `, ${d.modules.length - 6} more` : ''})` : ' (no module differs: the image around them does)';
  return `${d.file} ${d.reason}${modules}`;
}

export function rebuildTable(r: RebuildReport): string {
  const rows = [['variant', 'files', 'result', 'first difference']];
  for (const c of r.comparisons) {
    const asset = c.assets.find((a) => a.rebuilt !== a.published);
    const first = c.differences[0] ? describe(c.differences[0]) : asset ? `asset ${asset.name} differs` : '';
    const more = c.differences.length > 1 ? ` (+${c.differences.length - 1} more)` : '';
    rows.push([c.id, String(c.filesCompared), c.identical ? 'identical' : 'DIFFERS', `${first}${more}`]);
  }
  for (const f of r.failed) rows.push([f.id, '-', 'NOT BUILT', f.reason.split('\n')[0]!]);
  const lines = [`rebuild of ${r.index.release.tag ?? '(untagged)'} at ${r.location}:`, formatColumns(rows)];
  for (const c of r.comparisons.filter((x) => x.differences.length > 1)) {
    for (const d of c.differences.slice(1)) lines.push(`  ${c.id}: ${describe(d)}`);
  }
  if (r.otherKeys.length) lines.push(`note: ${r.otherKeys.join(', ')} planned with other keys than the release's: this edk2-matrix differs from the one that made it`);
  const same = r.comparisons.filter((c) => c.identical).length;
  const asked = r.comparisons.length + r.failed.length;
  lines.push(`${r.passed ? 'PASSED' : 'FAILED'}: ${same} of ${asked} variant(s) identical, every file and asset compared byte for byte`);
  if (r.attestation) lines.push(`attestation: ${r.attestation}`);
  return `${lines.join('\n')}\n`;
}
