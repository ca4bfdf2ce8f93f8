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

const FONT = 12;
const SWATCH = 12;
/** Space between a legend swatch and its label, and between one legend item and the next. */
const SWATCH_GAP = 4;
const ITEM_GAP = 18;
const LEGEND_LINE = 18;

/**
 * Width of `text` in a sans-serif font of `size` px, estimated from character classes (narrow,
 * wide, capitals) and on the generous side, since the SVG's viewer picks the actual font.
 */
export function textWidth(text: string, size = FONT): number {
  let em = 0;
  for (const c of text) {
    if (/[ijlI|.,:;'!]/.test(c)) em += 0.3;
    else if (/[ftr ()[\]-]/.test(c)) em += 0.4;
    else if (/[mwMW@]/.test(c)) em += 0.95;
    else if (/[A-Z+=<>~%#&]/.test(c)) em += 0.72;
    else em += 0.6;
  }
  return em * size;
}

export interface LegendItem {
  readonly phase: Phase;
  /** Top-left corner of the swatch; the label follows it on the same line. */
  readonly x: number;
  readonly y: number;
  /** Swatch and label together. */
  readonly width: number;
  readonly height: number;
}

/** Legend items side by side from `left`, each as wide as its label, on as many lines as `right` needs. */
export function legendLayout(left: number, right: number, top: number): LegendItem[] {
  const items: LegendItem[] = [];
  let x = left;
  let y = top;
  for (const phase of PHASES) {
    const width = SWATCH + SWATCH_GAP + textWidth(phase);
    if (x > left && x + width > right) {
      x = left;
      y += LEGEND_LINE;
    }
    items.push({ phase, x, y, width, height: SWATCH });
    x += width + ITEM_GAP;
  }
  return items;
}

const esc = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
const n = (x: number) => Math.round(x * 10) / 10;

export function timelineSvg(t: Pick<Timeline, 'spans' | 'samples'>, title: string): string {
  const rows = [...new Set(t.spans.map((s) => s.row))];
  const end = Math.max(1, ...t.spans.map((s) => s.end), ...t.samples.map((s) => s.t));
  const x = (sec: number) => LABEL + ((WIDTH - LABEL - 10) * sec) / end;
  const top = 40;
  const chartBottom = top + rows.length * ROW;
  const curveTop = chartBottom + 40;
  const legend = legendLayout(LABEL, WIDTH - 10, curveTop + CURVE + 35);
  const height = Math.max(...legend.map((l) => l.y + l.height)) + 13;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="sans-serif" font-size="${FONT}">`,
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
  for (const l of legend) {
    out.push(`<rect x="${n(l.x)}" y="${l.y}" width="${SWATCH}" height="${SWATCH}" fill="${COLOURS[l.phase]}"/><text x="${n(l.x + SWATCH + SWATCH_GAP)}" y="${l.y + 10}">${l.phase}</text>`);
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
