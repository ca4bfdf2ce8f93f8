/**
 * A run's timeline as an SVG picture: one row per variant (shared stages first), its phases
 * coloured, a time axis, and below it the share of cores busy. Pure: the same timeline
 * always gives the same text.
 */
import { PHASES, type Phase, type Timeline } from './timeline.ts';

const COLOURS: Record<Phase, string> = {
  image: '#8c8c8c', source: '#b07aa1', setup: '#9c755f', 'autogen+compile': '#4e79a7', genfds: '#f28e2b', export: '#59a14f', boot: '#e15759',
};
const ROW = 22;
const LABEL = 210;
const WIDTH = 960;
const CURVE = 90;

const esc = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
const n = (x: number) => Math.round(x * 10) / 10;

export function timelineSvg(t: Pick<Timeline, 'spans' | 'samples'>, title: string): string {
  const rows = [...new Set(t.spans.map((s) => s.row))];
  const end = Math.max(1, ...t.spans.map((s) => s.end), ...t.samples.map((s) => s.t));
  const x = (sec: number) => LABEL + ((WIDTH - LABEL - 10) * sec) / end;
  const top = 40;
  const chartBottom = top + rows.length * ROW;
  const curveTop = chartBottom + 40;
  const height = curveTop + CURVE + 60;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  rows.forEach((row, i) => {
    const y = top + i * ROW;
    out.push(`<text x="10" y="${y + 15}">${esc(row)}</text>`);
    for (const s of t.spans.filter((sp) => sp.row === row)) {
      out.push(`<rect x="${n(x(s.start))}" y="${y + 3}" width="${n(Math.max(0.5, x(s.end) - x(s.start)))}" height="${ROW - 6}" fill="${COLOURS[s.phase]}"><title>${esc(`${row}: ${s.phase} ${n(s.end - s.start)} s`)}</title></rect>`);
    }
  });
  // Time axis: a tick every "nice" number of seconds.
  const step = [10, 30, 60, 120, 300, 600, 1200, 1800].find((s) => end / s <= 10) ?? 3600;
  for (let sec = 0; sec <= end; sec += step) {
    out.push(`<line x1="${n(x(sec))}" y1="${top - 5}" x2="${n(x(sec))}" y2="${curveTop + CURVE}" stroke="#ddd"/>`);
    out.push(`<text x="${n(x(sec))}" y="${curveTop + CURVE + 15}" text-anchor="middle">${sec >= 60 ? `${Math.floor(sec / 60)}m${sec % 60 ? `${sec % 60}s` : ''}` : `${sec}s`}</text>`);
  }
  out.push(`<text x="10" y="${curveTop + CURVE / 2}">cores busy</text>`);
  out.push(`<rect x="${LABEL}" y="${curveTop}" width="${WIDTH - LABEL - 10}" height="${CURVE}" fill="none" stroke="#999"/>`);
  if (t.samples.length) {
    const points = t.samples.map((s) => `${n(x(s.t))},${n(curveTop + CURVE * (1 - s.busy))}`).join(' ');
    out.push(`<polyline points="${points}" fill="none" stroke="#333" stroke-width="1.5"/>`);
  }
  PHASES.forEach((p, i) => {
    const lx = LABEL + i * 105;
    out.push(`<rect x="${lx}" y="${height - 25}" width="12" height="12" fill="${COLOURS[p]}"/><text x="${lx + 16}" y="${height - 15}">${p}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
