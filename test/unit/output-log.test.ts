import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Container } from '../../pipeline/engine/engine.ts';
import { followOutputToFile, LAST_LINES } from '../../pipeline/engine/output-log.ts';
import { tempDir } from '../helpers/temp-dir.ts';

/** A container whose output is `chunks`, written the way the engine door writes (no end). */
function printing(chunks: readonly string[]): Container {
  return {
    async streamOutput(sink: Writable) {
      for (const c of chunks) {
        if (!sink.write(Buffer.from(c))) await new Promise((r) => sink.once('drain', r));
      }
    },
  } as unknown as Container;
}

describe('following a container\'s output into a log file', () => {
  it('writes the bytes unchanged and hands on every line, also one split across chunks', async () => {
    const path = join(tempDir('log-'), 'split.log');
    const lines: string[] = [];
    const out = await followOutputToFile(printing(['Build', 'ingMd', 'ePkg\r\nGenFds\n', 'done']), path, (l) => lines.push(l));
    expect(readFileSync(path, 'utf8')).toBe('BuildingMdePkg\r\nGenFds\ndone');
    expect(lines).toEqual(['BuildingMdePkg', 'GenFds', 'done']);
    expect(out.writeError).toBeUndefined();
  });

  it(`keeps only the last ${LAST_LINES} lines for error messages`, async () => {
    const all = Array.from({ length: 50 }, (_, i) => `line ${i}\n`);
    const out = await followOutputToFile(printing(all), join(tempDir('log-'), 'long.log'));
    expect(out.lastLines).toHaveLength(LAST_LINES);
    expect(out.lastLines.at(-1)).toBe('line 49');
    expect(out.lastLines[0]).toBe(`line ${50 - LAST_LINES}`);
  });

  it('reports a log file it cannot write, and still follows the output to its end', async () => {
    const big = 'x'.repeat(1 << 20);
    const out = await followOutputToFile(printing([`${big}\n`, `${big}\n`, 'last words\n']), join(tempDir('log-'), 'missing', 'build.log'));
    expect(out.writeError?.message).toMatch(/ENOENT/);
    expect(out.lastLines.at(-1)).toBe('last words');
  });
});
