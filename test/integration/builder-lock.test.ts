/**
 * The builder lock against a real engine and a real (tiny) Debian archive served over HTTP
 * from loopback: a locked package the archive has superseded stops the run before anything is
 * built, with one line; after `--update-builder-lock` it builds. And a dated snapshot reaches
 * both the base bootstrap (mmdebstrap) and the image build (apt). The builder context is the
 * real one (Dockerfile, scripts) with one test package as its only package.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../helpers/config.ts';
import { writeAptArchive } from '../helpers/apt-archive.ts';
import { serveDirectory, type StaticServer } from '../helpers/static-server.ts';

const docker = new Docker();
const work = mkdtempSync(join(tmpdir(), 'edk2-matrix-lock-'));
const PROBE = 'edk2-matrix-probe';
const SNAPSHOT = '20250101T000000Z';
const seconds: Record<string, number> = {};
let server: StaticServer;

interface Run { code: number; stdout: string; stderr: string; seconds: number }

/** Asynchronous: the archive's HTTP server answers from this process. */
function matrix(config: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile('npm', ['run', '-s', 'matrix', '--', '--config', config, ...args], {
      cwd: REPO, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, GITHUB_ACTIONS: '', EDK2_MATRIX_UNSIGNED_ARCHIVE: '1', ...env },
    }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr, seconds: (performance.now() - started) / 1000 }));
  });
}

/** A builder context like the real one whose only package is the probe, and a matrix naming it. */
function testBuilder(name: string, builder: string): { config: string; lock: string } {
  const ctx = join(work, name, 'builder');
  cpSync(join(REPO, 'dockerfiles', 'builder'), ctx, { recursive: true });
  writeFileSync(join(ctx, 'packages'), `${PROBE}\n`);
  writeFileSync(join(ctx, 'packages.lock'), '');
  const fixture = readFileSync(join(REPO, 'test', 'fixtures', 'release-matrix.yaml'), 'utf8');
  const text = fixture.replace(/\nbuilder:\n( {2}.*\n|\s*#.*\n)*/, `\nbuilder:\n  dockerfile: builder\n  base: debian:trixie\n  suite: trixie\n  network: host\n${builder}\n`);
  if (text === fixture) throw new Error('the fixture has no builder section to replace');
  const config = join(work, name, 'matrix.yaml');
  writeFileSync(config, text);
  return { config, lock: join(ctx, 'packages.lock') };
}

const lockedProbe = (lock: string) => /^edk2-matrix-probe=(\S+)$/m.exec(readFileSync(lock, 'utf8'))?.[1];
const builderImages = async () => (await docker.listImages({ filters: { reference: ['edk2-matrix/builder'] } })).map((i) => i.Id).sort();

beforeAll(async () => {
  server = await serveDirectory(join(work, 'www'));
}, 60_000);

afterAll(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
  process.stderr.write(`builder lock drills, seconds: ${JSON.stringify(seconds)}\n`);
});

describe('a locked package the archive superseded', () => {
  const archive = join(work, 'www', 'debian');
  let t: { config: string; lock: string };
  const before: string[] = [];

  beforeAll(async () => {
    writeAptArchive(archive, 'trixie', [{ name: PROBE, version: '1.0-1' }]);
    t = testBuilder('superseded', `  mirror: ${server.url}debian`);
    const update = await matrix(t.config, ['--update-builder-lock']);
    if (update.code !== 0) throw new Error(`lock update failed: ${update.stderr}`);
    seconds['lock update'] = update.seconds;
    before.push(...(await builderImages()));
  }, 600_000);

  it('is locked at the version the archive served when the lock was written, with every base package', () => {
    expect(lockedProbe(t.lock)).toBe('1.0-1');
    expect(readFileSync(t.lock, 'utf8')).toMatch(/^libc6=\S+$/m);
  });

  it('stops the run before anything is built, with one line naming the package, the version and the ways out', async () => {
    writeAptArchive(archive, 'trixie', [{ name: PROBE, version: '1.1-1' }]);
    const r = await matrix(t.config, ['--builder-only']);
    expect(r.code).toBe(1);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('edk2-matrix: '));
    expect(errors).toEqual([expect.stringMatching(
      /^edk2-matrix: builder lock .*packages\.lock: edk2-matrix-probe=1\.0-1 is no longer served by http:\/\/127\.0\.0\.1:\d+\/debian trixie: it serves 1\.1-1; the archive moved on \(update the lock \(npm run matrix -- --update-builder-lock\), or build from an archive of the lock's date \(builder\.snapshot/,
    )]);
    expect(await builderImages()).toEqual(before);
  }, 300_000);

  it('builds once the lock is updated, and says what changed', async () => {
    const update = await matrix(t.config, ['--update-builder-lock']);
    expect(update.code, update.stderr).toBe(0);
    expect(update.stdout).toMatch(/^~ edk2-matrix-probe 1\.0-1 -> 1\.1-1$/m);
    expect(update.stdout).toMatch(/packages\.lock: \d+ packages locked; 1 changed, 0 added, 0 removed/);
    expect(lockedProbe(t.lock)).toBe('1.1-1');
    const built = await matrix(t.config, ['--builder-only']);
    expect(built.code, built.stderr).toBe(0);
    seconds['image build from the updated lock'] = built.seconds;
    const tag = /^builder (edk2-matrix\/builder:\w+)/m.exec(built.stdout)![1]!;
    const probe = await new Promise<string>((resolve, reject) => execFile('docker', ['run', '--rm', '--network', 'none', tag, 'cat', `/usr/share/${PROBE}/version`],
      (err, out) => (err ? reject(err) : resolve(out))));
    expect(probe.trim()).toBe('1.1-1');
    await docker.getImage(tag).remove().catch(() => {});
  }, 600_000);
});

describe('builder.snapshot', () => {
  const archiveBase = join(work, 'www', 'archive');
  let t: { config: string; lock: string };
  const env = () => ({ EDK2_MATRIX_SNAPSHOT_ARCHIVE: `${server.url}archive` });
  const snapshotRequests = () => server.requests.filter((r) => r.startsWith(`archive/${SNAPSHOT}/`));

  beforeAll(async () => {
    // A base for that date left by an interrupted earlier run would skip the bootstrap.
    await docker.getImage(`edk2-matrix/debian:trixie-${SNAPSHOT}`).remove({ noprune: true }).catch(() => {});
    writeAptArchive(join(archiveBase, SNAPSHOT), 'trixie', [{ name: PROBE, version: '0.9-1' }]);
    t = testBuilder('snapshot', `  snapshot: "${SNAPSHOT}"`);
  });

  it('bootstraps the base image from the dated archive (mmdebstrap asks it for its suite)', async () => {
    const before = snapshotRequests().length;
    const r = await matrix(t.config, ['--update-builder-lock'], env());
    // The tiny archive holds no Debian base system: the bootstrap fails, after asking it.
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bootstrapping Debian trixie from http:\/\/127\.0\.0\.1:\d+\/archive\/20250101T000000Z with mmdebstrap as edk2-matrix\/debian:trixie-20250101T000000Z/);
    expect(r.stderr).toMatch(/^edk2-matrix: bootstrapping Debian trixie from http:\/\/127\.0\.0\.1:\d+\/archive\/20250101T000000Z gave no usable system/m);
    expect(await docker.getImage(`edk2-matrix/debian:trixie-${SNAPSHOT}`).inspect().catch(() => undefined)).toBeUndefined();
    expect(snapshotRequests().slice(before)).toEqual(expect.arrayContaining([expect.stringMatching(/^archive\/20250101T000000Z\/dists\/trixie\//)]));
  }, 600_000);

  it('installs the builder\'s packages from the dated archive, for the lock and for the image', async () => {
    // A base for that date (here: today's, tagged with it; the bootstrap is shown above).
    await docker.getImage('edk2-matrix/debian:trixie').tag({ repo: 'edk2-matrix/debian', tag: `trixie-${SNAPSHOT}` });
    try {
      const update = await matrix(t.config, ['--update-builder-lock'], env());
      expect(update.code, update.stderr).toBe(0);
      expect(lockedProbe(t.lock)).toBe('0.9-1');
      expect(snapshotRequests()).toContain(`archive/${SNAPSHOT}/pool/main/${PROBE}_0.9-1_all.deb`);
      const before = snapshotRequests().length;
      const built = await matrix(t.config, ['--builder-only'], env());
      expect(built.code, built.stderr).toBe(0);
      seconds['snapshot image build'] = built.seconds;
      expect(built.stdout).toMatch(/archive snapshot 20250101T000000Z/);
      expect(snapshotRequests().slice(before)).toEqual(expect.arrayContaining([`archive/${SNAPSHOT}/dists/trixie/main/binary-${process.arch === 'arm64' ? 'arm64' : 'amd64'}/Packages.gz`]));
      await docker.getImage(/^builder (edk2-matrix\/builder:\w+)/m.exec(built.stdout)![1]!).remove().catch(() => {});
    } finally {
      await docker.getImage(`edk2-matrix/debian:trixie-${SNAPSHOT}`).remove({ noprune: true }).catch(() => {});
    }
  }, 600_000);
});
