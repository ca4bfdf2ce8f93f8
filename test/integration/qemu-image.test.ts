/**
 * Verification's QEMU image against the real engine: built from dockerfiles/qemu exactly as
 * its lock says, then one published variant booted to the UEFI Shell both with the host's QEMU
 * and in the image, each boot reporting its QEMU's version and where it ran. The variant comes
 * from the artifact cache the matrix test filled (a cache hit: nothing is built here).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BootRecord, Index } from '../../pipeline/domain.ts';
import { parseLock } from '../../pipeline/image/builder-lock.ts';
import { QEMU_CONTEXT, QEMU_REPO } from '../../pipeline/image/qemu-image.ts';
import { parseQemuVersion } from '../../pipeline/verify/qemu-choice.ts';
import { defaultCacheDir } from '../../pipeline/cli/matrix-command.ts';
import { REPO } from '../helpers/config.ts';

const exec = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'edk2-matrix-qemu-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const out = join(work, 'artifacts');
const ID = 'ia32-debug';

interface Result { code: number; stdout: string; stderr: string; seconds: number }

async function npm(script: string, args: readonly string[]): Promise<Result> {
  const started = performance.now();
  try {
    const { stdout, stderr } = await exec('npm', ['run', '-s', script, '--', ...args], { cwd: REPO, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr, seconds: (performance.now() - started) / 1000 };
  } catch (err) {
    const e = err as Omit<Result, 'seconds'>;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr, seconds: (performance.now() - started) / 1000 };
  }
}

/** The QEMU image's version, from its lock: `1:10.0.13+ds-0+deb13u1` → `10.0.13`. */
const lockedVersion = /^(?:\d+:)?(\d+\.\d+\.\d+)/.exec(parseLock(readFileSync(join(QEMU_CONTEXT, 'packages.lock'), 'utf8')).get('qemu-system-x86')!)![1]!;
const hostVersion = parseQemuVersion(execFileSync('qemu-system-i386', ['--version'], { encoding: 'utf8' }))!;
const record = () => JSON.parse(readFileSync(join(out, ID, 'boot.json'), 'utf8')) as BootRecord;
const bootContainers = () => execFileSync('docker', ['ps', '-aq', '--filter', 'label=edk2-matrix.role=boot'], { encoding: 'utf8' }).trim();

let both: Result;
beforeAll(async () => {
  // Nothing is built here: the variant must be in the artifact cache already.
  const plan = await npm('matrix', ['--config', 'test/fixtures/ci-matrix.yaml', '--only', ID, '--dry-run']);
  const key = /^\s+key:\s+([0-9a-f]{64})$/m.exec(plan.stdout)?.[1];
  if (!key || !existsSync(join(defaultCacheDir(), 'artifacts', key.slice(0, 2), key, 'manifest.json'))) {
    throw new Error(`${ID} (key ${key}) is not in the artifact cache: run the matrix test (matrix-build.test.ts) first`);
  }
  const published = await npm('matrix', ['--config', 'test/fixtures/ci-matrix.yaml', '--only', ID, '--out', out]);
  if (published.code !== 0) throw new Error(`npm run matrix failed: ${published.stderr.slice(-3000)}`);
  expect(published.stderr, 'the variant comes from the artifact cache (run the matrix test first)').toMatch(new RegExp(`${ID}\\s+cache`));
  // The image is built here, from its lock: any earlier copy goes first.
  const images = execFileSync('docker', ['images', '-q', QEMU_REPO], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  if (images.length) execFileSync('docker', ['rmi', '-f', ...new Set(images)], { stdio: 'ignore' });
  both = await npm('verify', ['--out', out, '--qemu', 'both', '--accel', 'tcg', '--jobs', '1']);
}, 10 * 60_000);

describe('the QEMU image', () => {
  it('is built from its lock, and boots the variant as the host\'s QEMU does', () => {
    expect(both.stderr).toMatch(/QEMU image edk2-matrix\/qemu:[0-9a-f]{16}: building from .*dockerfiles\/qemu/);
    expect(both.stderr).toMatch(new RegExp(`^${ID}\\s+ok\\s+[\\d.]+s\\s+tcg\\s+${hostVersion.replaceAll('.', '\\.')} host`, 'm'));
    expect(both.stderr).toMatch(new RegExp(`^${ID}\\s+ok\\s+[\\d.]+s\\s+tcg\\s+${lockedVersion.replaceAll('.', '\\.')} image`, 'm'));
    expect(both.stderr).toMatch(/2 booted, 0 failed/);
    expect(both.code).toBe(0);
    console.info(`QEMU image built and both boots done in ${both.seconds.toFixed(1)}s:\n${both.stderr}`);
  });

  it('records both boots in boot.json, and the index carries them', () => {
    const r = record();
    expect(r).toMatchObject({ ok: true, qemu: { version: hostVersion, where: 'host' } });
    expect(r.boots?.map((b) => [b.ok, b.qemu])).toEqual([[true, { version: hostVersion, where: 'host' }], [true, { version: lockedVersion, where: 'image' }]]);
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as Index;
    expect(index.variants.find((v) => v.id === ID)?.boot?.boots).toHaveLength(2);
  });

  it('leaves no QEMU container behind', () => {
    expect(bootContainers()).toBe('');
  });

  it('is what auto takes only when the host\'s QEMU is too old: here the host\'s boots', async () => {
    const auto = await npm('verify', ['--out', out, '--accel', 'tcg']);
    expect(auto.code).toBe(0);
    expect(auto.stderr).toMatch(new RegExp(`^${ID}\\s+ok\\s+[\\d.]+s\\s+tcg\\s+${hostVersion.replaceAll('.', '\\.')} host`, 'm'));
    expect(record()).toMatchObject({ qemu: { where: 'host' } });
    expect(record().boots).toBeUndefined();
  }, 5 * 60_000);

  it('boots in the image alone with --qemu image, from the image already built', async () => {
    const image = await npm('verify', ['--out', out, '--qemu', 'image']);
    expect(image.code).toBe(0);
    expect(image.stderr).toMatch(/QEMU image edk2-matrix\/qemu:[0-9a-f]{16}: up to date/);
    expect(record()).toMatchObject({ ok: true, accel: 'tcg', qemu: { version: lockedVersion, where: 'image' } });
    expect(bootContainers()).toBe('');
  }, 5 * 60_000);
});
