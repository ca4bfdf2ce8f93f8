/** One short container run to completion (engine/run-to-completion.ts), against the engine in memory. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runToCompletion } from '../../pipeline/engine/run-to-completion.ts';
import { RunScope } from '../../pipeline/engine/run-scope.ts';
import { CancelledError } from '../../pipeline/errors.ts';
import { FakeEngine, type Behaviour } from '../helpers/fake-engine.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const SPEC = { image: 'img', cmd: ['true'], network: 'none', hardened: true } as const;

function scopeOf(behaviour: Behaviour): { engine: FakeEngine; scope: RunScope } {
  const engine = new FakeEngine(() => behaviour);
  return { engine, scope: new RunScope(engine, 'run-1') };
}

describe('runToCompletion', () => {
  it('returns the exit status and output, with the run\'s labels and the given ones, and removes the container', async () => {
    const { engine, scope } = scopeOf({ exitCode: 3, output: ['one', 'two'] });
    const done = await runToCompletion(scope, SPEC, { role: 'probe', labels: { 'edk2-matrix.variant': 'x64-debug' } });
    expect(done).toEqual({ exitCode: 3, oomKilled: false, output: 'one\ntwo\n', lastLines: ['one', 'two'], writeError: undefined });
    const [c] = [...engine.containers.values()];
    expect(c!.spec.labels).toMatchObject({ 'edk2-matrix.run': 'run-1', 'edk2-matrix.role': 'probe', 'edk2-matrix.variant': 'x64-debug' });
    expect(engine.leftovers().containers).toBe(0);
  });

  it('follows the output into a log, after what it holds, handing each line on', async () => {
    const { scope } = scopeOf({ output: ['edk2-matrix: fix a', 'done'] });
    const log = join(tempDir('rtc-'), 'build.log');
    writeFileSync(log, 'build\n');
    const lines: string[] = [];
    const done = await runToCompletion(scope, SPEC, { role: 'build', log: { path: log, append: true, onLine: (l) => lines.push(l) } });
    expect(readFileSync(log, 'utf8')).toBe('build\nedk2-matrix: fix a\ndone\n');
    expect(lines).toEqual(['edk2-matrix: fix a', 'done']);
    expect(done.lastLines).toEqual(['edk2-matrix: fix a', 'done']);
    expect(done.output).toBe('');
  });

  it('puts the files before it starts, and removes the container when putting them fails', async () => {
    const { engine, scope } = scopeOf({});
    const order: string[] = [];
    await runToCompletion(scope, SPEC, {
      role: 'prepare',
      put: async (c) => {
        order.push(`put while ${engine.containers.get(c.id)!.running ? 'running' : 'created'}`);
        await c.putArchive('/src', Readable.from([Buffer.from('x')]));
      },
    });
    expect(order).toEqual(['put while created']);
    await expect(runToCompletion(scope, SPEC, { role: 'prepare', put: () => Promise.reject(new Error('bad tar')) })).rejects.toThrow('bad tar');
    expect(engine.leftovers().containers).toBe(0);
  });

  it('kills the container on abort, throws CancelledError and removes it', async () => {
    const { engine, scope } = scopeOf({ ms: 10_000 });
    const controller = new AbortController();
    const running = runToCompletion(scope, SPEC, { role: 'build', signal: controller.signal });
    setTimeout(() => controller.abort(new Error('SIGINT')), 20);
    await expect(running).rejects.toBeInstanceOf(CancelledError);
    const [c] = [...engine.containers.values()];
    expect(c!.killed).toBe(true);
    expect(engine.leftovers().containers).toBe(0);
  });

  it('starts nothing once aborted', async () => {
    const { engine, scope } = scopeOf({});
    const controller = new AbortController();
    controller.abort();
    await expect(runToCompletion(scope, SPEC, { role: 'probe', signal: controller.signal })).rejects.toBeInstanceOf(CancelledError);
    expect(engine.containers.size).toBe(0);
  });
});
