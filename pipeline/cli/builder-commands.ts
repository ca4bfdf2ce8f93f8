/**
 * `--builder-only` and `--update-builder-lock`: the builder image on its own, in a run scope
 * whose containers (probes) are removed whatever happens.
 */
import type { BuilderSpec } from '../domain.ts';
import type { Engine } from '../engine/engine.ts';
import { newRunId, RunScope } from '../engine/run-scope.ts';
import { ensureBuilderImage, updateBuilderLock } from '../image/builder-image.ts';
import { formatDiff, type LockDiff } from '../image/builder-lock.ts';
import type { Reporter } from '../report/reporter.ts';

export async function inScope<T>(engine: Engine, reporter: Reporter, signal: AbortSignal, work: (scope: RunScope) => Promise<T>): Promise<T> {
  await engine.ping();
  const scope = new RunScope(engine, newRunId());
  const onAbort = () => void scope.cleanup();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await work(scope);
  } finally {
    signal.removeEventListener('abort', onAbort);
    for (const p of await scope.cleanup()) reporter.warn(`could not remove ${p}; \`npm run matrix -- --clean\` will`);
  }
}

export async function builderOnly(engine: Engine, spec: BuilderSpec, cacheDir: string, reporter: Reporter, signal: AbortSignal): Promise<string> {
  const image = await inScope(engine, reporter, signal, (scope) => reporter.stage('builder image', () => ensureBuilderImage(scope, spec, cacheDir, reporter, signal)));
  return `builder ${image.tag} (image ${image.id.slice(7, 19)}): digest ${image.digest}, packages.lock ${image.lock}` +
    `${image.snapshot ? `, archive snapshot ${image.snapshot}` : ''}, ${image.packages.length} packages\n`;
}

export async function updateLock(engine: Engine, spec: BuilderSpec, reporter: Reporter, signal: AbortSignal): Promise<string> {
  return lockSummary(await inScope(engine, reporter, signal, (scope) => reporter.stage('builder lock', () => updateBuilderLock(scope, spec, reporter, signal))));
}

/** What a lock update changed, a line each, then the file and the counts. */
export function lockSummary(r: { file: string; diff: LockDiff; count: number }): string {
  const lines = formatDiff(r.diff);
  return `${lines.length ? `${lines.join('\n')}\n` : ''}${r.file}: ${r.count} packages locked; ${lines.length ? `${r.diff.changed.length} changed, ${r.diff.added.length} added, ${r.diff.removed.length} removed` : 'nothing changed'}\n`;
}
