/**
 * release.yml rehearsed on this machine, job by job, with its own `run:` steps (see
 * test/helpers/workflow-rehearsal.ts for the stand-ins): signing (check-signing, before any
 * build) and plan → one build shard per variant, each in its own workspace, process and cold
 * cache directory, built for real and booted → assemble → sign (and verify) → attest →
 * check-attestation → publish. Event: a manual dispatch on the default branch (a nightly: it
 * publishes a prerelease that is never Latest; a tag push would also rebuild each variant twice
 * for --verify-reproducible, which the matrix test covers). Nothing is stubbed but GitHub's
 * side: every `run:` step runs as written, check-signing included.
 * The matrix is test/fixtures/release-matrix.yaml (two variants of two architectures) in place
 * of matrix.yaml, and the signing key is the rehearsal's own, as a fork's would be: its public
 * half is the committed trust (keys/trust/rehearsal.pub).
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSums } from '../../pipeline/checksums.ts';
import type { ReleaseIndex } from '../../pipeline/domain.ts';
import { ATTESTATION_BUNDLE_FILE, checkAttestationCoversSums, readAttestationBundle } from '../../pipeline/release/attestation-bundle.ts';
import { cacheNamespace } from '../../pipeline/engine/cache-namespace.ts';
import { sha256Hex } from '../../pipeline/checksums.ts';
import { envelopePayload, signEnvelope, type Envelope } from '../../pipeline/release/dsse.ts';
import { formatPublicKey, formatSecretKey, generateKey, keyIdHex, type SecretKey } from '../../pipeline/release/minisign.ts';
import { forgeRelease } from '../helpers/forge-release.ts';
import { replaceFirmwareModule } from '../helpers/patch-firmware.ts';
import { defaultCacheDir } from '../../pipeline/cli/matrix-command.ts';
import { REPO } from '../helpers/config.ts';
import { serveDirectory, type StaticServer } from '../helpers/static-server.ts';
import { Rehearsal, type JobRun } from '../helpers/workflow-rehearsal.ts';

const CONFIG = 'test/fixtures/release-matrix.yaml';
const IDS = ['aarch64-debug', 'ia32-debug'];
const root = mkdtempSync(join(tmpdir(), 'edk2-matrix-rehearsal-'));
const key = generateKey();
const pubFile = join(root, 'rehearsal.pub');
writeFileSync(pubFile, formatPublicKey(key));
const sha = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO }).toString().trim();
const seconds: Record<string, number> = {};

function rehearsal(dir: string): Rehearsal {
  mkdirSync(dir, { recursive: true });
  return new Rehearsal({
    workflowFile: join(REPO, '.github', 'workflows', 'release.yml'),
    repo: REPO, root: dir, event: { name: 'workflow_dispatch', ref: 'refs/heads/main' }, sha,
    secrets: { EDK2_MATRIX_RELEASE_KEY: formatSecretKey(key) },
    // The shards read the shared cache directory, where the matrix test built these variants:
    // the rehearsal proves the workflow's steps, and rebuild.yml's job below proves, from
    // nothing in a cache of its own, that what they published is what the inputs build.
    env: { CONFIG, EDK2_MATRIX_CACHE: defaultCacheDir() },
    // The committed trust, as a fork would have it: its key as a root of the keys/trust store
    // (a key file there with no introduction is a root), which check-signing and verify read.
    replace: { 'keys/trust/rehearsal.pub': formatPublicKey(key) },
  });
}

const first = rehearsal(join(root, 'run1'));
const runs: Record<string, JobRun[]> = {};
let server: StaticServer;

async function job(r: Rehearsal, id: string, label = id): Promise<JobRun[]> {
  const t = performance.now();
  const result = await r.runJob(id);
  seconds[label] = (performance.now() - t) / 1000;
  return result;
}

const failures = (rs: readonly JobRun[]) => rs.filter((r) => !r.ok).map((r) => `${r.job} ${JSON.stringify(r.matrix.id ?? '')}: ${r.steps.filter((s) => !s.ok).map((s) => `${s.name}: ${s.tail.slice(-1500)}`).join('\n')}`);

const JOBS = ['signing', 'plan', 'build', 'assemble', 'sign', 'attest', 'check-attestation', 'publish'];

beforeAll(async () => {
  for (const id of JOBS) {
    runs[id] = await job(first, id);
    // A job that failed stops the run, as on GitHub; the tests below then show why.
    if (runs[id]!.some((r) => !r.ok)) return;
  }
  server = await serveDirectory(published());
}, 60 * 60_000);

afterAll(async () => {
  await server?.close();
  // The shards' cache directories each had their own source and compiler cache volumes.
  const docker = new Docker();
  const namespaces = Object.values(runs).flat().filter((r) => r.workspace)
    .map((r) => cacheNamespace(join(r.workspace, '.cache', 'edk2-matrix')));
  for (const v of (await docker.listVolumes()).Volumes ?? []) {
    if (namespaces.some((ns) => v.Name.startsWith(`edk2-matrix-src-${ns}-`) || v.Name === `edk2-matrix-ccache-${ns}`)) await docker.getVolume(v.Name).remove().catch(() => {});
  }
  rmSync(root, { recursive: true, force: true });
  process.stderr.write(`release rehearsal, seconds per job: ${JSON.stringify(seconds)}\n`);
}, 120_000);

const tag = () => runs.plan![0]!.outputs.tag!;
const published = () => join(first.store.releases, tag());
const cli = (args: string[]) => spawnSync('npm', ['run', '-s', 'release', '--', ...args], { cwd: REPO, encoding: 'utf8' });
const cliAsync = (args: string[]) => new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
  execFile('npm', ['run', '-s', 'release', '--', ...args], { cwd: REPO }, (err, stdout, stderr) =>
    resolve({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
});

describe('release.yml rehearsed job by job', () => {
  it('checks that signing is configured before any build, and runs every job of the workflow', () => {
    expect(failures(runs.signing!)).toEqual([]);
    expect(runs.signing![0]!.outputs.signing).toBe('true');
    expect(Object.keys(runs).sort()).toEqual([...JOBS].sort());
    for (const id of JOBS) expect(runs[id]!.every((r) => !r.skipped), id).toBe(true);
  });

  it('plans one build job per variant of the matrix, under a nightly tag', () => {
    expect(failures(runs.plan!)).toEqual([]);
    const plan = runs.plan![0]!.outputs;
    expect((JSON.parse(plan.variants!) as { id: string }[]).map((v) => v.id).sort()).toEqual(IDS);
    expect(plan.tag).toMatch(/^nightly-[0-9a-f]{16}$/);
  });

  it('builds (from the shared cache) and boots each variant in its own shard', () => {
    expect(failures(runs.build!)).toEqual([]);
    expect(runs.build!.map((r) => r.matrix.id).sort()).toEqual(IDS);
    for (const r of runs.build!) {
      const log = r.steps.find((s) => s.name === 'build and boot')!.tail;
      expect(log).toMatch(new RegExp(`${r.matrix.id}(\\s+built|: published from the artifact cache)`));
      expect(log).toMatch(/1 booted, 0 failed/);
    }
    expect(new Set(runs.build!.map((r) => r.workspace)).size).toBe(IDS.length);
  });

  it('assembles, signs, verifies, attests and publishes a nightly: a prerelease, never Latest (draft first, then published)', () => {
    for (const id of ['assemble', 'sign', 'attest', 'check-attestation', 'publish']) expect(failures(runs[id]!), id).toEqual([]);
    expect(readdirSync(published()).sort()).toEqual([
      'SHA256SUMS', 'SHA256SUMS.minisig', 'aarch64-debug.cdx.json', 'aarch64-debug.tar.xz', ATTESTATION_BUNDLE_FILE, 'ia32-debug.cdx.json', 'ia32-debug.tar.xz',
      'index.json', 'provenance.intoto.jsonl',
    ].sort());
    const calls = readFileSync(join(first.store.releases, 'calls.log'), 'utf8').trim().split('\n');
    expect(calls.map((l) => l.split(' ').slice(0, 3).join(' '))).toEqual(['gh release view', 'gh release create', 'gh release upload', 'gh release edit']);
    for (const l of [calls[1]!, calls[3]!]) expect(l).toMatch(/ --prerelease --latest=false( |$)/);
    expect(readdirSync(join(first.store.releases, '.state', tag())).sort()).toEqual(['not-latest', 'prerelease']);
    const attested = JSON.parse(readFileSync(join(first.store.attestations, 'attestations.jsonl'), 'utf8')) as { subjects: { path: string }[] };
    expect(attested.subjects.map((s) => s.path)).toContain('index.json');
    // The published bundle is the one the attest step wrote, for exactly this SHA256SUMS.
    const sums = parseSums(readFileSync(join(published(), 'SHA256SUMS'), 'utf8'));
    const statement = readAttestationBundle(readFileSync(join(published(), ATTESTATION_BUNDLE_FILE), 'utf8'));
    checkAttestationCoversSums(statement, sums);
    expect(runs['check-attestation']![0]!.steps.at(-1)!.tail).toContain(`attests exactly the ${sums.length} assets of SHA256SUMS`);
    const index = JSON.parse(readFileSync(join(published(), 'index.json'), 'utf8')) as ReleaseIndex;
    expect(index.release).toMatchObject({ tag: tag(), commit: sha, matrix: { path: CONFIG } });
    // A release carries no run records: boot results stay in the shards (assemble refused any that failed).
    for (const v of index.variants) expect(v, v.id).not.toHaveProperty('boot');
  });

  it('refuses to publish the same tag twice', async () => {
    const again = await job(first, 'publish', 'publish again');
    expect(again[0]!.ok).toBe(false);
    expect(again[0]!.steps.at(-1)!.tail).toMatch(/a release nightly-\w+ exists already; releases are never overwritten/);
  }, 10 * 60_000);

  it('verifies the published release with the project\'s command, from the directory and over HTTP', async () => {
    for (const where of [published(), server.url]) {
      // Not spawnSync: the HTTP server answers from this process's event loop.
      const r = await cliAsync(['verify', where, '--trust', pubFile]);
      expect(r.stderr + r.stdout, where).toMatch(/verified/);
      expect(r.status).toBe(0);
    }
    // The repository's own key did not sign it: the default trust refuses, naming the link.
    const r = cli(['verify', published()]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^edk2-matrix: signature: (no keys to verify with in keys\/trust|SHA256SUMS.minisig was made with key \w+, not with the trusted keys of keys\/trust)/m);
  }, 120_000);

  it('verifies with the standard tools a distribution has: minisign, sha256sum, tar', () => {
    const copy = join(root, 'by-hand');
    cpSync(published(), copy, { recursive: true });
    expect(execFileSync('minisign', ['-Vm', 'SHA256SUMS', '-p', pubFile], { cwd: copy }).toString()).toMatch(/Signature and comment signature verified/);
    expect(execFileSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: copy }).toString()).toMatch(/ia32-debug.tar.xz: OK/);
    execFileSync('tar', ['-xJf', 'ia32-debug.tar.xz'], { cwd: copy });
    const index = JSON.parse(readFileSync(join(copy, 'index.json'), 'utf8')) as ReleaseIndex;
    const sums = index.variants.find((v) => v.id === 'ia32-debug')!.files.map((f) => `${f.sha256}  ${f.path}\n`).join('');
    writeFileSync(join(copy, 'files.sha256'), sums);
    expect(execFileSync('sha256sum', ['-c', '--strict', 'files.sha256'], { cwd: copy }).toString()).toMatch(/ia32-debug\/OVMF_CODE.fd: OK/);
  });

  it('holds firmware byte-identical to the same variants from one plain npm run matrix run', () => {
    const plain = join(root, 'plain');
    const r = spawnSync('npm', ['run', '-s', 'matrix', '--', '--config', CONFIG, '--out', plain], { cwd: REPO, encoding: 'utf8', env: { ...process.env, GITHUB_ACTIONS: '' } });
    expect(r.status, r.stderr).toBe(0);
    const unpacked = join(root, 'unpacked');
    mkdirSync(unpacked);
    for (const id of IDS) {
      execFileSync('tar', ['-xJf', join(published(), `${id}.tar.xz`), '-C', unpacked]);
      const manifest = JSON.parse(readFileSync(join(unpacked, id, 'manifest.json'), 'utf8')) as { qemu: { code: string; varsTemplate: string }; descriptor: string };
      for (const f of [manifest.qemu.code, manifest.qemu.varsTemplate, 'Shell.efi', manifest.descriptor, 'launch.sh']) {
        expect(readFileSync(join(unpacked, id, f)).equals(readFileSync(join(plain, id, f))), `${id}/${f}`).toBe(true);
      }
    }
  }, 30 * 60_000);

  it.each([
    ['a flipped byte in an archive', (d: string) => flipByte(join(d, 'ia32-debug.tar.xz'), 1000), 'asset ia32-debug.tar.xz'],
    ['a flipped byte in SHA256SUMS', (d: string) => flipByte(join(d, 'SHA256SUMS'), 10), 'signature'],
    ['a flipped byte in the signature', (d: string) => flipByte(join(d, 'SHA256SUMS.minisig'), readFileSync(join(d, 'SHA256SUMS.minisig')).indexOf('\n') + 30), 'signature'],
    ['an extra asset', (d: string) => writeFileSync(join(d, 'bonus.tar.xz'), 'x'), 'asset bonus.tar.xz'],
    ['a missing asset', (d: string) => rmSync(join(d, 'aarch64-debug.tar.xz')), 'asset aarch64-debug.tar.xz'],
  ])('rejects %s with npm run release -- verify, naming it', (_what, tamper, link) => {
    const copy = join(root, `tampered-${Math.random().toString(36).slice(2)}`);
    cpSync(published(), copy, { recursive: true });
    tamper(copy);
    const r = cli(['verify', copy, '--trust', pubFile]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^edk2-matrix: ${link.replace('.', '\\.')}: `, 'm'));
  });
});

function flipByte(path: string, at: number): void {
  const data = readFileSync(path);
  data[at]! ^= 0x01;
  writeFileSync(path, data);
}

/**
 * rebuild.yml after the release: its `rebuild` job fetches the newest release with the gh
 * stand-in, runs `npm run rebuild` on ia32-debug in a fresh workspace (a cache directory of
 * its own: the source is fetched again, every module compiled from nothing) and its `attach`
 * job puts the signed attestation beside the release. Then distributions use it, and a
 * publisher gone bad is caught.
 */
describe('rebuild.yml rehearsed after the release', () => {
  const rebuilderKey = generateKey();
  const rebuilderPub = join(root, 'rebuilder.pub');
  const strangerKey = generateKey();
  const rebuildRuns: Record<string, JobRun[]> = {};
  let rb: Rehearsal;
  const attestationName = () => `rebuild-${keyIdHex(rebuilderKey.keyId)}.intoto.json`;
  const rebuiltDir = () => join(rebuildRuns.rebuild![0]!.workspace, 'rebuilt');

  beforeAll(async () => {
    writeFileSync(rebuilderPub, formatPublicKey(rebuilderKey));
    rb = new Rehearsal({
      workflowFile: join(REPO, '.github', 'workflows', 'rebuild.yml'),
      repo: REPO, root: join(root, 'run1'), event: { name: 'workflow_dispatch', ref: 'refs/heads/main' }, sha,
      secrets: { EDK2_MATRIX_REBUILDER_KEY: formatSecretKey(rebuilderKey) },
      inputs: { tag: '', only: 'ia32-debug' },
      replace: { 'keys/trust/rehearsal.pub': formatPublicKey(key) },
    });
    for (const id of ['rebuild', 'sign', 'attach']) rebuildRuns[id] = await job(rb, id, `rebuild.yml ${id}`);
  }, 60 * 60_000);

  const verify = (args: string[]) => cliAsync(['verify', ...args, '--trust', pubFile]);

  it('rebuilds ia32-debug from the release alone, in a cache of its own, and finds every file and asset identical', () => {
    expect(failures(rebuildRuns.rebuild!)).toEqual([]);
    const log = rebuildRuns.rebuild![0]!.steps.find((s) => s.name === 'rebuild and compare')!.tail;
    expect(log).toMatch(/ia32-debug\s+\d+\s+identical/);
    expect(log).toMatch(/PASSED: 1 of 1 variant\(s\) identical/);
    // The matrix it built is the one the release carries, not a file of the checkout.
    const index = JSON.parse(readFileSync(join(published(), 'index.json'), 'utf8')) as ReleaseIndex;
    expect(readFileSync(join(rebuiltDir(), 'inputs', 'matrix.yaml'), 'utf8')).toBe(index.release.inputs!.matrix);
    const asset = index.assets.find((a) => a.name === 'ia32-debug.tar.xz')!;
    expect(sha256Hex(readFileSync(join(rebuiltDir(), 'assets', 'ia32-debug.tar.xz')))).toBe(asset.sha256);
  });

  it('signs the verdict where the key is; verify and pull then require the attestation', async () => {
    expect(failures(rebuildRuns.sign!)).toEqual([]);
    // A run with `only` never replaces a whole attestation beside the release: attach is skipped.
    expect(rebuildRuns.attach!.every((r) => r.skipped)).toBe(true);
    // Placed there as a whole rebuild's attach would (github-release.sh attach is tested in workflows.test.ts).
    cpSync(join(rb.store.artifacts, 'rebuild-attestation', attestationName()), join(published(), attestationName()));
    // The whole release asks for every asset rebuilt: this rebuilder did ia32-debug only.
    const whole = await verify([published(), '--rebuilt-by', rebuilderPub, '--require-rebuilds', '1']);
    expect(whole.status).toBe(1);
    expect(whole.stderr).toMatch(/^edk2-matrix: rebuilds: 0 of the 1 required rebuilders .*not for aarch64-debug\.tar\.xz/m);
    const dest = join(root, 'dest-rebuilt');
    const pulled = await pull([published(), '--only', 'ia32-debug', '--destdir', dest, '--rebuilt-by', rebuilderPub]);
    expect(pulled.stdout + pulled.stderr).toMatch(/rebuilt bit for bit by|rebuilds?:/);
    expect(pulled.stdout).toMatch(/installed 1 variant\(s\)/);
    expect(pulled.status).toBe(0);
    // Without the attestation, the same release is refused, and nothing is installed.
    const bare = join(root, 'without-attestation');
    cpSync(published(), bare, { recursive: true });
    rmSync(join(bare, attestationName()));
    const dest2 = join(root, 'dest-bare');
    const refused = await pull([bare, '--only', 'ia32-debug', '--destdir', dest2, '--rebuilt-by', rebuilderPub]);
    expect(refused.status).toBe(1);
    expect(refused.stderr.trim().split('\n').filter((l) => l.startsWith('edk2-matrix: '))).toHaveLength(1);
    expect(refused.stderr).toMatch(/rebuild/);
    expect(existsSync(dest2)).toBe(false);
  });

  it('catches a CODE image its publisher replaced and re-signed: the rebuild names the file and the module, and its FAILED attestation makes pull refuse', async () => {
    const forged = join(root, 'forged');
    cpSync(published(), forged, { recursive: true });
    rmSync(join(forged, attestationName()));
    await replaceFirmwareModule(forged, 'ia32-debug', 'OVMF_CODE.fd');
    await forgeRelease(forged, key, () => {});
    expect((await verify([forged])).status).toBe(0);
    const out = join(root, 'rebuild-forged');
    const r = await rebuild([forged, '--only', 'ia32-debug', '--compare-with', rebuiltDir(), '--trust', pubFile, '--key', writeKey(rebuilderKey), '--out', out]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/ia32-debug\s+\d+\s+DIFFERS\s+OVMF_CODE\.fd differs \(modules: [\w-]+/);
    expect(r.stdout).toMatch(/FAILED: 0 of 1/);
    const pulled = await pull([forged, '--only', 'ia32-debug', '--destdir', join(root, 'dest-forged'), '--rebuilt-by', rebuilderPub, '--rebuilds', join(out, attestationName())]);
    expect(pulled.status).toBe(1);
    expect(pulled.stderr).toMatch(/FAILED/);
    // The honest PASSED attestation is about the honest release: for the forged one it does not count.
    const other = await verify([forged, '--rebuilt-by', rebuilderPub, '--rebuilds', join(published(), attestationName())]);
    expect(other.status).toBe(1);
    expect(other.stderr).toMatch(/another release|SHA256SUMS/);
  }, 10 * 60_000);

  it.each([
    ['truncated', (text: string) => text.slice(0, text.length / 2)],
    ['signed by a key no one trusts', (text: string) => resign(text, strangerKey, (p) => p)],
    ['with a subject digest changed', (text: string) => resign(text, rebuilderKey, (p) => p.replace(/"sha256":"[0-9a-f]{64}"/, `"sha256":"${'0'.repeat(64)}"`))],
  ])('refuses an attestation %s, in one line', async (_what, tamper) => {
    const file = join(root, `attestation-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, tamper(readFileSync(join(published(), attestationName()), 'utf8')));
    const r = await verify([published(), '--rebuilt-by', rebuilderPub, '--rebuilds', file]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('edk2-matrix: '))).toHaveLength(1);
  });

  function writeKey(k: SecretKey): string {
    const f = join(root, `key-${keyIdHex(k.keyId)}.key`);
    if (!existsSync(f)) writeFileSync(f, formatSecretKey(k), { mode: 0o600 });
    return f;
  }
});

/** The envelope's statement changed by `edit` and signed again with `k`. */
function resign(text: string, k: SecretKey, edit: (payload: string) => string): string {
  const envelope = JSON.parse(text) as Envelope;
  const payload = edit(envelopePayload(envelope).toString('utf8'));
  return JSON.stringify(signEnvelope(k, envelope.payloadType, Buffer.from(payload, 'utf8')));
}

const spawnNpm = (script: string, args: string[]) => new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
  execFile('npm', ['run', '-s', script, '--', ...args], { cwd: REPO, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, GITHUB_ACTIONS: '' } }, (err, stdout, stderr) =>
    resolve({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
});
const pull = (args: string[]) => spawnNpm('pull', [...args, '--trust', pubFile]);
const rebuild = (args: string[]) => spawnNpm('rebuild', args);
