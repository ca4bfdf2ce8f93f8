/** Rows of text as aligned columns (two spaces apart, the last column not padded). */
export function formatColumns(rows: readonly (readonly string[])[]): string {
  const width = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0)));
  return rows.map((r) => r.map((c, i) => (i < r.length - 1 ? c.padEnd(width[i]!) : c)).join('  ').trimEnd()).join('\n');
}
