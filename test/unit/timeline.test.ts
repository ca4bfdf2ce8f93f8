import { describe, expect, it } from 'vitest';
import { PHASES, phaseOfLine, Timeline } from '../../pipeline/report/timeline.ts';
import { legendLayout, textWidth, timelineSvg, type LegendItem } from '../../pipeline/report/timeline-svg.ts';

describe('the run timeline', () => {
  it('reads edk2\'s phases from its output', () => {
    expect(phaseOfLine('Processing meta-data ... done!')).toBe('autogen+compile');
    expect(phaseOfLine('Fd File Name:OVMF (/work/Build/OvmfX64/DEBUG_GCC5/FV/OVMF.fd)')).toBe('genfds');
    expect(phaseOfLine('Generating DXEFV FV')).toBe('genfds');
    expect(phaseOfLine('Building ... /src/MdePkg/Library/BaseLib/BaseLib.inf [X64]')).toBeUndefined();
  });

  it('records each row\'s phases one after another, and the cores busy in each phase', () => {
    const t = new Timeline();
    t.enter('x64-debug', 'setup');
    t.enter('x64-debug', 'autogen+compile');
    t.enter('x64-debug', 'autogen+compile');
    t.leave('x64-debug');
    expect(t.spans.map((s) => s.phase)).toEqual(['setup', 'autogen+compile']);
    // Samples placed by hand: 100 % busy during compile, 50 % otherwise.
    const spans = [{ row: 'a', phase: 'setup', start: 0, end: 10 }, { row: 'a', phase: 'autogen+compile', start: 10, end: 20 }] as const;
    const fake = new Timeline();
    fake.spans.push(...spans);
    for (let s = 1; s <= 20; s++) fake.samples.push({ t: s, busy: s > 10 ? 1 : 0.5 });
    const busy = fake.busyByPhase();
    expect(busy.setup).toBeCloseTo(0.5, 1);
    expect(busy['autogen+compile']).toBeGreaterThan(0.9);
    expect(busy.genfds).toBeUndefined();
  });

  it('draws the same picture from the same timeline: a row per variant, a rectangle per phase, the cores-busy curve', () => {
    const t = { spans: [
      { row: 'builder and source', phase: 'image', start: 0, end: 5 },
      { row: 'x64-debug', phase: 'setup', start: 5, end: 10 },
      { row: 'x64-debug', phase: 'genfds', start: 10, end: 30 },
    ] as const, samples: [{ t: 1, busy: 0.2 }, { t: 2, busy: 0.9 }] };
    const svg = timelineSvg({ spans: [...t.spans], samples: t.samples }, 'test <run>');
    expect(svg).toBe(timelineSvg({ spans: [...t.spans], samples: t.samples }, 'test <run>'));
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg).toContain('test &lt;run&gt;');
    expect(svg.match(/<title>/g)).toHaveLength(3);
    expect(svg).toMatch(/<polyline points="[\d., ]+"/);
  });
});

describe('the timeline legend', () => {
  const overlap = (a: LegendItem, b: LegendItem) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

  it('gives every phase a box as wide as its label, and no two boxes overlap', () => {
    const items = legendLayout(210, 950, 0);
    expect(items.map((l) => l.phase)).toEqual([...PHASES]);
    const compile = items.find((l) => l.phase === 'autogen+compile')!;
    expect(compile.width).toBeGreaterThan(textWidth('autogen+compile'));
    expect(compile.width).toBeGreaterThan(items.find((l) => l.phase === 'boot')!.width);
    for (const [i, a] of items.entries()) for (const b of items.slice(i + 1)) expect(overlap(a, b), `${a.phase} and ${b.phase}`).toBe(false);
  });

  it('goes on to a second line rather than past the right edge, still without overlaps', () => {
    const items = legendLayout(0, 200, 100);
    expect(new Set(items.map((l) => l.y)).size).toBeGreaterThan(1);
    for (const l of items) expect(l.x + l.width).toBeLessThanOrEqual(200);
    for (const [i, a] of items.entries()) for (const b of items.slice(i + 1)) expect(overlap(a, b), `${a.phase} and ${b.phase}`).toBe(false);
  });

  it('estimates wide letters wider than narrow ones', () => {
    expect(textWidth('mmmm')).toBeGreaterThan(textWidth('iiii') * 2);
    expect(textWidth('')).toBe(0);
  });
});
