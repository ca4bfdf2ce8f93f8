/**
 * The folders of pipeline/ are the stages, and data flows one way: a stage imports only the
 * foundation (domain, errors, layout, platforms, host helpers) and stages before it. This reads
 * every import of every module, so a sideways import fails here rather than in a review.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../pipeline');

/** Rank of each stage; a module may import its own stage or one of a lower rank. */
const RANK: Readonly<Record<string, number>> = {
  foundation: 0, // pipeline/*.ts except run.ts, host/, types/
  engine: 1, config: 1,
  plan: 2,
  source: 3, image: 3,
  'edk2-build': 4,
  export: 5,
  report: 6, // what the queue and the run tell the user; the stages before log through domain's Log
  queue: 7,
  run: 8,
  verify: 9, release: 9,
  pull: 10, rebuild: 10,
  cli: 11,
};

function stageOf(file: string): string {
  const rel = relative(root, file);
  const [first, ...rest] = rel.split('/');
  if (rest.length === 0) return first === 'run.ts' ? 'run' : 'foundation';
  if (first === 'host' || first === 'types') return 'foundation';
  return first!;
}

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? modules(path) : e.name.endsWith('.ts') ? [path] : [];
  });
}

function localImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\b[^'";]*?from\s+'(\.[^']+)'/gm)].map((m) => resolve(dirname(file), m[1]!));
}

describe('stage order', () => {
  const files = modules(root);

  it('knows the stage of every folder of pipeline/', () => {
    const unknown = files.map(stageOf).filter((s) => RANK[s] === undefined);
    expect([...new Set(unknown)]).toEqual([]);
  });

  it('has every stage import only itself, the foundation and earlier stages', () => {
    const wrong = files.flatMap((file) => {
      const from = stageOf(file);
      return localImports(file)
        .filter((target) => target.startsWith(`${root}/`))
        .filter((target) => { const to = stageOf(target); return to !== from && RANK[to]! >= RANK[from]!; })
        .map((target) => `${relative(root, file)} → ${relative(root, target)}`);
    });
    expect(wrong).toEqual([]);
  });

  it('has no circle in the import graph, within a stage or across the foundation', () => {
    const graph = new Map(files.map((f) => [f, localImports(f).filter((t) => t.startsWith(`${root}/`)).map((t) => (t.endsWith('.ts') ? t : `${t}.ts`))]));
    const circles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'visiting') {
        circles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(root, f)).join(' → '));
        return;
      }
      state.set(file, 'visiting');
      for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
      state.set(file, 'done');
    };
    for (const f of files) visit(f, []);
    expect(circles).toEqual([]);
  });

  it('sees imports at all (the pattern is not silently matching nothing)', () => {
    expect(localImports(join(root, 'run.ts')).length).toBeGreaterThan(10);
  });
});
