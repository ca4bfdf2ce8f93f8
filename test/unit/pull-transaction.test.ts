/**
 * What keeps pull's record of a destination true: the destination's lock (a second pull waits,
 * a dead holder's lock is taken over), the install journal (a crash at any step is repaired by
 * the next pull, rolled back or forward), a receipt that cannot be read stopping every command,
 * uninstall reporting what it could not remove, and a package build that names nothing of the
 * machine that made it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { pullCommand } from '../../pipeline/cli/pull-command.ts';
import { DestinationError, describeError } from '../../pipeline/errors.ts';
import { checkInstall } from '../../pipeline/pull/check-install.ts';
import { atDestination } from '../../pipeline/pull/destination.ts';
import { LOCK_FILE, lockDestination } from '../../pipeline/pull/destination-lock.ts';
import { installRelease } from '../../pipeline/pull/install.ts';
import { JOURNAL_FILE, repairDestination } from '../../pipeline/pull/install-journal.ts';
import { installPaths, onDisk, type InstallPaths } from '../../pipeline/pull/install-paths.ts';
import { readReceipt, receiptPath } from '../../pipeline/pull/receipt.ts';
import { uninstall } from '../../pipeline/pull/uninstall.ts';
import type { VerifiedRelease } from '../../pipeline/release/verify-release.ts';
import { quietLog, testRelease, userPaths } from '../helpers/pull-release.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { treeSnapshot } from '../helpers/tree-snapshot.ts';

const IDS = ['aarch64-debug', 'x64-debug'];
const never = new AbortController().signal;
let releases: { v1: VerifiedRelease; v2: VerifiedRelease; dir: string };

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edk2-matrix-test-pull-releases-'));
  releases = { v1: await testRelease(dir, 'v1'), v2: await testRelease(dir, 'v2', '-b'), dir };
}, 60_000);

afterAll(() => rmSync(releases.dir, { recursive: true, force: true }));

afterEach(() => {
  vi.unstubAllEnvs();
});

interface Install { ids?: readonly string[]; prefer?: boolean; step?: (name: string) => Promise<void>; made?: readonly string[] }
const install = (paths: InstallPaths, r: VerifiedRelease, o: Install = {}) =>
  installRelease({ paths, release: r, location: 'test', ids: o.ids ?? IDS, prefer: o.prefer ?? false, log: quietLog, signal: never, made: o.made ?? [], ...(o.step ? { step: o.step } : {}) });

/** The line the CLI would print for how `p` fails (message and hint). */
const failure = (p: Promise<unknown>) => p.then(() => 'no error', (e: unknown) => describeError(e));

const recording = () => {
  const lines: string[] = [];
  return { lines, log: { info: (m: string) => void lines.push(m), warn: (m: string) => void lines.push(m) } };
};

/** What a consistent destination looks like: the receipt's files as installed, and nothing else of pull's. */
async function expectConsistent(paths: InstallPaths): Promise<void> {
  const receipt = await readReceipt(paths);
  expect(await checkInstall(paths, receipt)).toEqual([]);
  const data = onDisk(paths, paths.dataDir);
  const own = new Set(['receipt.json', '.store', ...receipt.variants.map((v) => v.id)]);
  expect(readdirSync(data).filter((n) => !own.has(n))).toEqual([]);
  if (paths.live) expect(readdirSync(join(data, '.store')).sort()).toEqual(receipt.variants.map((v) => basename(v.storeDir)).sort());
  expect(readdirSync(onDisk(paths, paths.descriptorDir)).sort()).toEqual(receipt.variants.flatMap((v) => v.descriptors.map((d) => basename(d.path))).sort());
}

/** A step hook that stops the install for good at its `n`th step, as a SIGKILL would. */
function crashAt(n: number) {
  let calls = 0;
  let reached: (name: string) => void = () => {};
  const at = new Promise<string>((r) => (reached = r));
  return { at, step: (name: string) => (calls++ === n ? (reached(name), new Promise<void>(() => {})) : Promise.resolve()) };
}

describe('a crash at any step of an install', () => {
  const kinds: [string, (root: string) => InstallPaths][] = [
    ['a user install', userPaths],
    ['a package build', (root) => installPaths({ user: false, destdir: join(root, 'pkg'), prefix: '/usr' })],
  ];
  for (const [kind, pathsIn] of kinds) {
    it(`is repaired by the next pull, into the install before or after it, in ${kind}`, async () => {
      const seen: string[] = [];
      for (let n = 0; ; n++) {
        const root = tempDir('pull-crash-');
        const paths = pathsIn(root);
        await install(paths, releases.v1, { ids: ['x64-debug'] });
        const crash = crashAt(n);
        const outcome = await Promise.race([crash.at, install(paths, releases.v2, { prefer: true, step: crash.step }).then(() => undefined)]);
        if (outcome === undefined) break; // no step left to crash at
        seen.push(outcome);
        const { lines, log } = recording();
        const repaired = await repairDestination(paths, log);
        expect(lines, outcome).toEqual([]);
        const committed = outcome === 'receipt';
        expect(repaired.message, outcome).toMatch(new RegExp(`repaired an interrupted pull \\(pid ${process.pid}\\): its install was ${committed ? 'completed' : 'undone'}$`));
        await expectConsistent(paths);
        const receipt = await readReceipt(paths);
        expect(receipt.variants.map((v) => `${v.id} ${v.release.tag}`), outcome).toEqual(committed ? ['aarch64-debug v2', 'x64-debug v2'] : ['x64-debug v1']);
        expect(existsSync(join(onDisk(paths, paths.dataDir), JOURNAL_FILE))).toBe(false);
        // The next pull goes through.
        await install(paths, releases.v2);
        await expectConsistent(paths);
      }
      // Every kind of step was crashed at: the journal, staging, each commit rename, the receipt.
      expect(seen[0]).toBe('journal');
      expect(seen).toEqual(expect.arrayContaining(['journal commit', 'receipt', expect.stringMatching(/^descriptor /), expect.stringMatching(/^(linked|moved) /), expect.stringMatching(/^staged /)]));
    }, 120_000);
  }

  it('makes an install refuse to start over an unrepaired journal', async () => {
    const root = tempDir('pull-crash-');
    const paths = userPaths(root);
    const crash = crashAt(3);
    void install(paths, releases.v1, { step: crash.step });
    await crash.at;
    expect(await failure(install(paths, releases.v1))).toMatch(/an interrupted pull left its journal \(run pull --check there first/);
  });
});

describe('the destination lock', () => {
  it('keeps both variants in the receipt when two pulls run at once', async () => {
    const root = tempDir('pull-lock-');
    const paths = userPaths(root);
    await Promise.all(IDS.map((id) => atDestination(paths, { log: quietLog, signal: never }, (lock) => install(paths, releases.v1, { ids: [id], made: lock.made }))));
    expect((await readReceipt(paths)).variants.map((v) => v.id)).toEqual(IDS);
    await expectConsistent(paths);
    expect(existsSync(join(root, 'data', 'edk2-matrix', LOCK_FILE))).toBe(false);
  });

  it('makes a second pull wait, saying for whom, and refuse naming the holder when it does not finish', async () => {
    const root = tempDir('pull-lock-');
    const paths = userPaths(root);
    const held = await lockDestination(paths, { log: quietLog, signal: never });
    const { lines, log } = recording();
    expect(await failure(lockDestination(paths, { log, signal: never, waitMs: 300, pollMs: 20 }))).toMatch(
      new RegExp(`edk2-matrix: in use by another pull \\(pid ${process.pid}\\) \\(wait for it to finish`));
    expect(lines).toEqual([expect.stringMatching(new RegExp(`waiting for another pull \\(pid ${process.pid}\\) to finish, up to 1 s$`))]);
    // Once the holder is done, the waiter goes on.
    const waiter = lockDestination(paths, { log: quietLog, signal: never, waitMs: 5000, pollMs: 20 });
    setTimeout(() => void held.release(), 100);
    await (await waiter).release();
    expect(treeSnapshot(root)).not.toHaveProperty([`${root}:data/edk2-matrix/${LOCK_FILE}`]);
    expect(Object.values(treeSnapshot(root)).every((e) => e.startsWith('dir '))).toBe(true);
  });

  it('takes over the lock of a pull that is gone', async () => {
    const root = tempDir('pull-lock-');
    const paths = userPaths(root);
    const dead = spawnSync('true').pid;
    mkdirSync(join(root, 'data', 'edk2-matrix'), { recursive: true });
    writeFileSync(join(root, 'data', 'edk2-matrix', LOCK_FILE), `${dead}\n`);
    const { lines, log } = recording();
    await atDestination(paths, { log, signal: never, waitMs: 0 }, () => install(paths, releases.v1));
    expect(lines).toEqual([expect.stringMatching(new RegExp(`taking over the lock of pull process ${dead}, which is gone$`))]);
    expect(existsSync(join(root, 'data', 'edk2-matrix', LOCK_FILE))).toBe(false);
  });

  it('refuses with one line when the lock cannot be made there', async () => {
    const root = tempDir('pull-lock-');
    writeFileSync(join(root, 'data'), 'not a directory');
    expect(await failure(lockDestination(userPaths(root), { log: quietLog, signal: never }))).toMatch(/edk2-matrix: cannot take its lock \((ENOTDIR|EEXIST)\) \(run pull as the user/);
  });

  it('is released, and what it made removed, when the work fails', async () => {
    const root = tempDir('pull-lock-');
    const paths = userPaths(root);
    await expect(atDestination(paths, { log: quietLog, signal: never }, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(readdirSync(root)).toEqual([]);
  });
});

describe('a receipt that cannot be read', () => {
  const cases: [string, (file: string) => void, RegExp][] = [
    ['is not JSON', (f) => writeFileSync(f, '{"generator": "edk2-matrix-pull", '), /receipt .*receipt.json: is not valid JSON \(restore it from a backup/],
    ['fails its schema', (f) => writeFileSync(f, JSON.stringify({ generator: 'edk2-matrix-pull', formatVersion: 2, variants: [{ id: 'x64-debug' }], directories: [] })),
      /receipt .*receipt.json: is not an edk2-matrix pull receipt of a format this version knows \(variants\.0\.dir: /],
    ['cannot be read', (f) => mkdirSync(f), /receipt .*receipt.json: cannot be read \(EISDIR\)/],
  ];
  for (const [what, spoil, message] of cases) {
    it(`stops pull, --check and uninstall with one line when it ${what}, changing nothing`, async () => {
      const root = tempDir('pull-receipt-');
      const paths = userPaths(root);
      await install(paths, releases.v1);
      rmSync(receiptPath(paths));
      spoil(receiptPath(paths));
      const before = treeSnapshot(join(root, 'data'), join(root, 'config'));
      await expect(readReceipt(paths)).rejects.toBeInstanceOf(DestinationError);
      expect(await failure(readReceipt(paths))).toMatch(message);
      expect(await failure(readReceipt(paths))).not.toContain('\n');
      expect(await failure(install(paths, releases.v2))).toMatch(message);
      vi.stubEnv('XDG_DATA_HOME', join(root, 'data'));
      vi.stubEnv('XDG_CONFIG_HOME', join(root, 'config'));
      expect(await failure(pullCommand(['--user', '--check'], never))).toMatch(message);
      expect(await failure(pullCommand(['--user', 'uninstall'], never))).toMatch(message);
      expect(treeSnapshot(join(root, 'data'), join(root, 'config'))).toEqual(before);
    });
  }
});

describe('uninstall', () => {
  it('reports each file it could not remove and keeps its variant in the receipt', async () => {
    const root = tempDir('pull-uninstall-');
    const paths = userPaths(root);
    const receipt = await install(paths, releases.v1);
    const x64 = receipt.variants.find((v) => v.id === 'x64-debug')!;
    const stuck = join(x64.storeDir, 'OVMF_VARS.fd');
    rmSync(stuck);
    mkdirSync(join(stuck, 'in-the-way'), { recursive: true });
    const done = await uninstall(paths, receipt, IDS, quietLog);
    expect(done.removed).toEqual(['aarch64-debug']);
    expect(done.failed).toEqual([{ path: stuck, reason: expect.stringMatching(/EISDIR/) }]);
    expect((await readReceipt(paths)).variants.map((v) => v.id)).toEqual(['x64-debug']);
    // Once the cause is gone, uninstall finishes the job.
    rmSync(stuck, { recursive: true });
    expect(await uninstall(paths, await readReceipt(paths), ['x64-debug'], quietLog)).toMatchObject({ removed: ['x64-debug'], failed: [] });
    expect(existsSync(join(root, 'data'))).toBe(false);
  });
});

describe('a package build (--destdir)', () => {
  it('holds nothing that names the machine that ran pull', async () => {
    const root = tempDir('pull-destdir-');
    const paths = installPaths({ user: false, destdir: join(root, 'pkg'), prefix: '/usr' });
    const location = join(releases.dir, 'release-v1');
    await atDestination(paths, { log: quietLog, signal: never }, (lock) => installRelease({
      paths, release: releases.v1, location, ids: IDS, prefer: false, log: quietLog, signal: never, made: lock.made,
    }));
    const files: string[] = [];
    const walk = (dir: string): void => readdirSync(dir).forEach((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : files.push(join(dir, n))));
    walk(join(root, 'pkg'));
    expect(files.length).toBeGreaterThan(10);
    // A short host name ("vm") could occur in any file by chance; a longer one names this machine.
    const names = [root, releases.dir, ...(hostname().length >= 6 ? [hostname()] : [])];
    expect(files.filter((f) => names.some((n) => readFileSync(f, 'latin1').includes(n)))).toEqual([]);
    const receipt = await readReceipt(paths);
    expect(receipt.variants.map((v) => v.release.location)).toEqual(['release-v1', 'release-v1']);
    expect(receipt.directories).toEqual(['/usr', '/usr/share', '/usr/share/edk2-matrix', '/usr/share/qemu', '/usr/share/qemu/firmware']);
  });
});
