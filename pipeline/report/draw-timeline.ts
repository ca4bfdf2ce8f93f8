/** Writes a run's timeline picture beside its artifacts and says what it shows, in one line. */
import { join } from 'node:path';
import { publishFile } from '../host/atomic-publish.ts';
import { TIMELINE_DATA, TIMELINE_FILE } from '../layout.ts';
import { PHASES, type Timeline } from './timeline.ts';
import { timelineSvg } from './timeline-svg.ts';

export async function drawTimeline(t: Timeline, outDir: string): Promise<string> {
  const file = join(outDir, TIMELINE_FILE);
  await publishFile(file, timelineSvg(t, `edk2-matrix run, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`));
  await publishFile(join(outDir, TIMELINE_DATA), `${JSON.stringify({ spans: t.spans, samples: t.samples, busyByPhase: t.busyByPhase() })}\n`);
  const busy = t.busyByPhase();
  const parts = PHASES.filter((p) => busy[p] !== undefined).map((p) => `${p} ${Math.round(busy[p]! * 100)}%`);
  return `cores busy by phase: ${parts.join(', ') || '-'}; timeline: ${file}`;
}
