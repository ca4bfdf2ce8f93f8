/**
 * Runs a GitHub Actions workflow's jobs on this machine, as a runner would: each job (and
 * matrix combination) in a fresh workspace (a copy of the working tree, npm ci run by the job), its `run:` steps through bash with the workflow's
 * env and GITHUB_OUTPUT/GITHUB_ENV files, job outputs and `needs` passed on; a job's `if:` is
 * decided as GitHub does (an implicit `success()` over every job before it, unless the
 * condition calls a status function). The only stand-ins are for what runs on GitHub's side:
 * checkout (the workspace is this repository), setup-node (the Node running the tests),
 * upload/download-artifact (a local store), attest-build-provenance (records the subjects it
 * was given and writes a Sigstore bundle of the real shape, signed by a throwaway key, to its
 * `bundle-path`), and the `gh` CLI (a local release store that records draft, prerelease and
 * latest). An action it does not know fails the rehearsal, and so does actions/cache: nothing
 * in the release workflow may restore what it publishes.
 */
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import picomatch from 'picomatch';
import { parse as parseYaml } from 'yaml';
import { parseSums } from '../../pipeline/checksums.ts';
import { callsStatusFunction, condition, evaluate, evaluateValue, interpolate, type Contexts, type Status, type Value } from './gh-expressions.ts';
import { sigstoreBundle } from './sigstore-bundle.ts';

interface Step {
  readonly id?: string;
  readonly if?: string;
  readonly name?: string;
  readonly uses?: string;
  readonly run?: string;
  readonly with?: Record<string, string | number | boolean>;
  readonly env?: Record<string, string>;
}

interface Job {
  readonly needs?: string | string[];
  readonly if?: string;
  readonly environment?: string;
  readonly 'timeout-minutes'?: number;
  readonly permissions?: Record<string, string>;
  readonly strategy?: { matrix: Record<string, Value | string> };
  readonly env?: Record<string, string>;
  readonly outputs?: Record<string, string>;
  readonly steps: Step[];
}

export interface Workflow {
  readonly env?: Record<string, string>;
  readonly jobs: Record<string, Job>;
}

export interface RehearsalEvent {
  readonly name: 'push' | 'schedule' | 'workflow_dispatch' | 'pull_request';
  readonly ref: string;
}

export interface JobRun {
  readonly job: string;
  readonly matrix: Record<string, Value>;
  readonly ok: boolean;
  readonly skipped: boolean;
  readonly outputs: Record<string, string>;
  readonly workspace: string;
  /** Each step: name, seconds, and the tail of its output when it failed. */
  readonly steps: { name: string; ok: boolean; seconds: number; tail: string }[];
}

export interface RehearsalOptions {
  readonly workflowFile: string;
  readonly repo: string;
  /** Empty directory for workspaces and the stand-ins' stores. */
  readonly root: string;
  readonly event: RehearsalEvent;
  readonly secrets: Record<string, string>;
  /** Workflow-level env overridden (e.g. CONFIG: a small matrix). */
  readonly env?: Record<string, string>;
  /** workflow_dispatch inputs. */
  readonly inputs?: Record<string, string>;
  /** Files of the checked-out repository replaced in every workspace (path → text). */
  readonly replace?: Record<string, string>;
  readonly sha: string;
  readonly onLine?: (line: string) => void;
}

/**
 * Stand-in for the gh CLI: a release's assets live in $GH_STANDIN_DIR/<tag>/, its state in
 * $GH_STANDIN_DIR/.state/<tag>/ (files draft, prerelease, not-latest), every call in calls.log.
 */
export const GH_STANDIN = `#!/bin/sh
set -eu
echo "gh $*" >> "$GH_STANDIN_DIR/calls.log"
[ "$1" = release ] || { echo "gh stand-in: only 'gh release' is rehearsed" >&2; exit 2; }
sub=$2
if [ "$sub" = list ]; then
  # The newest release that is not a draft (--exclude-drafts --limit 1 --json tagName --jq '.[0].tagName').
  for t in $(ls -t "$GH_STANDIN_DIR" | grep -v -e '^calls.log$'); do
    [ -e "$GH_STANDIN_DIR/.state/$t/draft" ] || { echo "$t"; exit 0; }
  done
  exit 0
fi
tag=$3; shift 3
dir="$GH_STANDIN_DIR/$tag" state="$GH_STANDIN_DIR/.state/$tag"
flags() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --draft|--draft=true) touch "$state/draft" ;;
      --draft=false) rm -f "$state/draft" ;;
      --prerelease|--prerelease=true) touch "$state/prerelease" ;;
      --prerelease=false) rm -f "$state/prerelease" ;;
      --latest|--latest=true) rm -f "$state/not-latest" ;;
      --latest=false) touch "$state/not-latest" ;;
      --title|--notes|--target) shift ;;
      *) echo "gh stand-in: gh release option $1 is not rehearsed" >&2; exit 2 ;;
    esac
    shift
  done
}
case "$sub" in
  view) [ -d "$dir" ] ;;
  create) [ ! -d "$dir" ] || { echo "release $tag exists" >&2; exit 1; }; mkdir -p "$dir" "$state"; flags "$@" ;;
  upload)
    [ -d "$dir" ] || exit 1
    clobber=no
    for f in "$@"; do [ "$f" = --clobber ] && clobber=yes; done
    for f in "$@"; do
      [ "$f" = --clobber ] && continue
      if [ -e "$dir/$(basename "$f")" ] && [ $clobber = no ]; then echo "asset $(basename "$f") exists" >&2; exit 1; fi
      cp "$f" "$dir/"
    done ;;
  download)
    [ -d "$dir" ] || { echo "release not found" >&2; exit 1; }
    [ "$1" = --dir ] || { echo "gh stand-in: gh release download needs --dir" >&2; exit 2; }
    mkdir -p "$2"; cp "$dir"/* "$2/" ;;
  edit) [ -d "$dir" ] || exit 1; flags "$@" ;;
  *) echo "gh stand-in: gh release $sub is not rehearsed" >&2; exit 2 ;;
esac
`;

export class Rehearsal {
  readonly workflow: Workflow;
  readonly results = new Map<string, JobRun[]>();
  readonly store: { artifacts: string; releases: string; attestations: string; bin: string };

  constructor(readonly o: RehearsalOptions) {
    this.workflow = parseYaml(readFileSync(o.workflowFile, 'utf8')) as Workflow;
    const dir = (n: string) => {
      const d = join(o.root, n);
      mkdirSync(d, { recursive: true });
      return d;
    };
    this.store = { artifacts: dir('artifacts'), releases: dir('releases'), attestations: dir('attestations'), bin: dir('bin') };
    writeFileSync(join(this.store.bin, 'gh'), GH_STANDIN, { mode: 0o755 });
    // Jobs run as root here; on a runner `sudo` raises the runner user to root.
    if (!process.env.PATH?.split(':').some((p) => existsSync(join(p, 'sudo')))) writeFileSync(join(this.store.bin, 'sudo'), '#!/bin/sh\nexec "$@"\n', { mode: 0o755 });
  }

  #github(workspace: string): Record<string, Value> {
    const ref = this.o.event.ref;
    const tag = ref.startsWith('refs/tags/');
    return {
      event_name: this.o.event.name, ref, ref_name: ref.replace(/^refs\/(heads|tags)\//, ''), ref_type: tag ? 'tag' : 'branch',
      sha: this.o.sha, workspace, token: 'rehearsal-token', repository: 'rehearsal/edk2-matrix', server_url: 'https://github.invalid',
      run_id: '1', run_attempt: '1', workflow_ref: `rehearsal/edk2-matrix/.github/workflows/${basename(this.o.workflowFile)}@${ref}`,
      event: { repository: { full_name: 'rehearsal/edk2-matrix', default_branch: 'main' } },
    };
  }

  /**
   * The repository as checkout gives it: a copy of the working tree's files (tracked, and new
   * ones git does not ignore), without node_modules or outputs; `npm ci` then installs into it.
   */
  #workspace(name: string): string {
    const ws = join(this.o.root, 'ws', name);
    mkdirSync(ws, { recursive: true });
    const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: this.o.repo }).toString().split('\0').filter(Boolean);
    for (const f of files) {
      if (!existsSync(join(this.o.repo, f))) continue; // deleted in the working tree
      mkdirSync(dirname(join(ws, f)), { recursive: true });
      cpSync(join(this.o.repo, f), join(ws, f), { verbatimSymlinks: true });
    }
    for (const [path, text] of Object.entries(this.o.replace ?? {})) {
      mkdirSync(dirname(join(ws, path)), { recursive: true });
      writeFileSync(join(ws, path), text);
    }
    return ws;
  }

  #combinations(job: Job, ctx: Contexts, root: string): Record<string, Value>[] {
    const m = job.strategy?.matrix;
    if (!m) return [{}];
    let combos: Record<string, Value>[] = [{}];
    for (const [key, raw] of Object.entries(m)) {
      if (key === 'include') continue;
      const values = typeof raw === 'string' ? evaluateValue(raw, ctx, root) : raw;
      combos = combos.flatMap((c) => (values as Value[]).map((v) => ({ ...c, [key]: v })));
    }
    const include = m.include === undefined ? [] : (typeof m.include === 'string' ? evaluateValue(m.include, ctx, root) : m.include) as Record<string, Value>[];
    return Object.keys(m).length === 1 && include.length ? include : [...combos, ...include];
  }

  async runJob(id: string): Promise<JobRun[]> {
    const job = this.workflow.jobs[id];
    if (!job) throw new Error(`no job ${id}`);
    const needs = Object.fromEntries([job.needs ?? []].flat().map((n) => {
      const runs = this.results.get(n);
      if (!runs) throw new Error(`${id} needs ${n}, which has not run`);
      const ok = runs.every((r) => r.ok || r.skipped);
      return [n, { result: runs.some((r) => r.skipped) ? 'skipped' : ok ? 'success' : 'failure', outputs: Object.assign({}, ...runs.map((r) => r.outputs)) }];
    }));
    const base: Contexts = { github: this.#github(this.o.root), needs, secrets: this.o.secrets, inputs: this.o.inputs ?? {}, env: {}, matrix: {}, steps: {}, runner: { temp: this.o.root } };
    // GitHub's status functions look at every job before this one, not only at `needs`: one
    // skipped anywhere up the chain skips this job unless its condition calls one itself.
    const before = [...this.#ancestors(id)].map((a) => this.results.get(a)!);
    const status: Status = { success: before.every((rs) => rs.every((r) => r.ok && !r.skipped)), failure: before.some((rs) => rs.some((r) => !r.ok)) };
    const cond = job.if === undefined ? undefined : condition(job.if);
    const gated = cond === undefined ? status.success
      : callsStatusFunction(cond) ? truthyValue(evaluate(cond, base, this.o.root, status))
        : status.success && truthyValue(evaluate(cond, base, this.o.root, status));
    const runs: JobRun[] = [];
    if (!gated) {
      runs.push({ job: id, matrix: {}, ok: true, skipped: true, outputs: {}, workspace: '', steps: [] });
      this.results.set(id, runs);
      return runs;
    }
    for (const [i, matrix] of this.#combinations(job, base, this.o.repo).entries()) runs.push(await this.#runOne(id, job, matrix, needs, i));
    this.results.set(id, runs);
    return runs;
  }

  /** Every job this one needs, directly or through others. */
  #ancestors(id: string, seen = new Set<string>()): Set<string> {
    for (const n of [this.workflow.jobs[id]!.needs ?? []].flat()) {
      if (seen.has(n)) continue;
      seen.add(n);
      this.#ancestors(n, seen);
    }
    return seen;
  }

  async #runOne(id: string, job: Job, matrix: Record<string, Value>, needs: Contexts, n: number): Promise<JobRun> {
    const ws = this.#workspace(`${id}-${n}`);
    const github = this.#github(ws);
    const ctx: Contexts = { github, needs, matrix, secrets: this.o.secrets, inputs: this.o.inputs ?? {}, steps: {}, runner: { temp: this.o.root }, env: {} };
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...this.workflow.env, ...this.o.env })) env[k] = interpolate(String(v), { ...ctx, env }, ws);
    for (const [k, v] of Object.entries(job.env ?? {})) env[k] = interpolate(String(v), { ...ctx, env }, ws);
    const steps: JobRun['steps'] = [];
    let ok = true;
    for (const [si, step] of job.steps.entries()) {
      if (!ok) break;
      const name = step.name ?? step.uses ?? step.run!.split('\n')[0]!;
      const started = performance.now();
      ctx.env = { ...env };
      if (step.if !== undefined && !truthyValue(evaluate(condition(step.if), ctx, ws, { success: true, failure: false }))) {
        steps.push({ name, ok: true, seconds: 0, tail: 'skipped' });
        continue;
      }
      const withs = Object.fromEntries(Object.entries(step.with ?? {}).map(([k, v]) => [k, interpolate(String(v), ctx, ws)]));
      let tail = '';
      try {
        if (step.uses) {
          const outputs = this.#action(step.uses, withs, ws);
          if (step.id) (ctx.steps as Record<string, Value>)[step.id] = { outputs };
        } else {
          const stepEnv = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, interpolate(String(v), ctx, ws)]));
          const files = { out: join(this.o.root, `${id}-${n}-${si}.output`), env: join(this.o.root, `${id}-${n}-${si}.env`) };
          writeFileSync(files.out, '');
          writeFileSync(files.env, '');
          const script = join(this.o.root, `${id}-${n}-${si}.sh`);
          writeFileSync(script, interpolate(step.run!, ctx, ws));
          const r = await this.#bash(script, ws, {
            ...env, ...stepEnv, GITHUB_OUTPUT: files.out, GITHUB_ENV: files.env, GITHUB_STEP_SUMMARY: join(this.o.root, 'summary.md'),
            GITHUB_ACTIONS: 'true', CI: 'true', GITHUB_WORKSPACE: ws, GITHUB_SHA: this.o.sha, GITHUB_REF: String(github.ref),
            GITHUB_REF_NAME: String(github.ref_name), GITHUB_REF_TYPE: String(github.ref_type), GITHUB_EVENT_NAME: this.o.event.name,
            GITHUB_SERVER_URL: String(github.server_url), GITHUB_REPOSITORY: String(github.repository), GITHUB_RUN_ID: '1',
            GITHUB_RUN_ATTEMPT: '1', GITHUB_WORKFLOW_REF: String(github.workflow_ref), RUNNER_TEMP: this.o.root,
            GH_STANDIN_DIR: this.store.releases, PATH: `${this.store.bin}:${process.env.PATH}`,
            // setup-node's npm cache, on a runner: npm ci installs from the local cache where it can.
            npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false',
          });
          tail = r.tail;
          if (r.code !== 0) throw new Error(`exit ${r.code}`);
          if (step.id) (ctx.steps as Record<string, Value>)[step.id] = { outputs: parseOutputFile(readFileSync(files.out, 'utf8')) };
          Object.assign(env, parseOutputFile(readFileSync(files.env, 'utf8')));
        }
        steps.push({ name, ok: true, seconds: (performance.now() - started) / 1000, tail });
      } catch (err) {
        ok = false;
        steps.push({ name, ok: false, seconds: (performance.now() - started) / 1000, tail: `${tail}\n${(err as Error).message}` });
      }
    }
    const outputs = ok ? Object.fromEntries(Object.entries(job.outputs ?? {}).map(([k, v]) => [k, interpolate(v, ctx, ws)])) : {};
    return { job: id, matrix, ok, skipped: false, outputs, workspace: ws, steps };
  }

  #bash(script: string, cwd: string, env: Record<string, string>): Promise<{ code: number; tail: string }> {
    return new Promise((resolve) => {
      const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', script], { cwd, env: { ...process.env, ...env } });
      let tail = '';
      const onData = (d: Buffer) => {
        const text = d.toString();
        tail = (tail + text).slice(-6000);
        for (const line of text.split('\n')) if (line.trim()) this.o.onLine?.(line);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('close', (code) => resolve({ code: code ?? 1, tail }));
    });
  }

  /** Runs one action's stand-in; returns the step's outputs. */
  #action(uses: string, w: Record<string, string>, ws: string): Record<string, string> {
    const [action, ref] = uses.split('@') as [string, string];
    if (!/^[0-9a-f]{40}$/.test(ref ?? '')) throw new Error(`${uses} is not pinned to a commit`);
    switch (action) {
      case 'actions/checkout':
      case 'actions/setup-node':
        return {};
      case 'actions/upload-artifact': {
        const dest = join(this.store.artifacts, w.name!);
        if (existsSync(dest)) throw new Error(`artifact ${w.name} was uploaded already (names are unique per run)`);
        const src = join(ws, w.path!);
        if (!existsSync(src)) {
          if (w['if-no-files-found'] === 'error') throw new Error(`upload-artifact: nothing at ${w.path}`);
          return {};
        }
        // A directory's files are the artifact's; a single file is the artifact's one file.
        cpSync(src, statSync(src).isDirectory() ? dest : join(dest, basename(src)), { recursive: true });
        return {};
      }
      case 'actions/download-artifact': {
        const dest = join(ws, w.path ?? '.');
        const names = readdirSync(this.store.artifacts);
        if (w.name) {
          if (!names.includes(w.name)) throw new Error(`download-artifact: no artifact ${w.name}`);
          cpSync(join(this.store.artifacts, w.name), dest, { recursive: true });
          return {};
        }
        const isMatch = picomatch(w.pattern ?? '*');
        const hits = names.filter((n) => isMatch(n));
        if (!hits.length) throw new Error(`download-artifact: no artifact matches ${w.pattern}`);
        for (const n of hits) cpSync(join(this.store.artifacts, n), w['merge-multiple'] === 'true' ? dest : join(dest, n), { recursive: true });
        return {};
      }
      case 'actions/attest-build-provenance': {
        const file = join(ws, w['subject-checksums']!);
        const subjects = parseSums(readFileSync(file, 'utf8'));
        appendFileSync(join(this.store.attestations, 'attestations.jsonl'), `${JSON.stringify({ subjects })}\n`);
        // As the action does: the bundle in a fresh directory under RUNNER_TEMP.
        const bundle = join(mkdtempSync(join(this.o.root, 'attest-')), 'attestation.json');
        const github = this.#github(ws);
        writeFileSync(bundle, sigstoreBundle(subjects, { repository: String(github.repository), ref: this.o.event.ref, sha: this.o.sha, event: this.o.event.name }));
        return { 'bundle-path': bundle };
      }
      default:
        throw new Error(`the rehearsal has no stand-in for ${action}`);
    }
  }
}

function truthyValue(v: Value): boolean {
  return !(v === null || v === false || v === 0 || v === '');
}

/** `name=value` lines and `name<<DELIM ... DELIM` blocks, as GITHUB_OUTPUT and GITHUB_ENV hold. */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heredoc = /^([A-Za-z_][A-Za-z0-9_-]*)<<(.+)$/.exec(line);
    if (heredoc) {
      const body: string[] = [];
      for (i += 1; i < lines.length && lines[i] !== heredoc[2]; i++) body.push(lines[i]!);
      out[heredoc[1]!] = body.join('\n');
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}
