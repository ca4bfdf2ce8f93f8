/**
 * Boots every variant of an artifacts directory with its own manifest argv, in parallel
 * through the queue, and records the outcome beside the variant: `boot.json` (seconds to the
 * Shell, accelerator), and on failure `boot-serial.log`. The index then carries the results.
 */
import { accessSync, constants } from 'node:fs';
import { rm } from 'node:fs/promises';
import { arch as hostArch } from 'node:os';
import { join } from 'node:path';
import PQueue from 'p-queue';
import type { BootRecord, Manifest, QemuLaunch } from '../domain.ts';
import { readVariantDirs, writeIndex } from '../export/artifacts-index.ts';
import { BOOT_RECORD, BOOT_SERIAL_LOG } from '../layout.ts';
import { publishFile } from '../host/atomic-publish.ts';
import type { Log } from '../domain.ts';
import { bootToShell, type BootResult } from './boot.ts';
import { shellDiskArgs } from './shell-disk.ts';
import type { Timeline } from '../report/timeline.ts';


export type Accel = 'auto' | 'tcg' | 'kvm';

/** Seconds to the Shell are about 10 under TCG on 2 cores; several boots at once take longer. */
export const VERIFY_TIMEOUT_MS = 300_000;

export interface VerifyOutcome extends BootRecord {
  readonly id: string;
  readonly serialLog: string | undefined;
}


function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export function chooseAccel(qemu: Pick<QemuLaunch, 'kvmHostArch'>, wanted: Accel, usable = kvmUsable()): 'tcg' | 'kvm' {
  if (wanted === 'tcg') return 'tcg';
  if (wanted === 'kvm') return 'kvm';
  return usable && qemu.kvmHostArch === hostArch() ? 'kvm' : 'tcg';
}

/** QEMU's own last complaint on stderr (`qemu-system-x86_64: ...`), if any. */
function qemuComplaint(serial: string): string | undefined {
  return serial.split('\n').filter((l) => /^qemu-system-\w+: |KVM internal error/.test(l) && !/warning:/.test(l)).pop()?.trim();
}

/**
 * The firmware ran its boot manager but found nothing to boot: no built-in Shell option, as in
 * edk2 from stable202505 on, and in OVMF secure boot builds.
 */
function reachedBootManagerOnly(result: BootResult): boolean {
  return result.secondsToShell === undefined && NOTHING_TO_BOOT.test(result.serial);
}

/** KVM that exists but cannot run the firmware (nested virtualisation, missing features). */
const KVM_BROKEN = /KVM internal error|failed to initialize kvm|Could not access KVM kernel module/;
/** The boot manager found nothing to boot and waits for a key: the Shell will not come. */
const NOTHING_TO_BOOT = /No bootable option or device was found/;

async function bootOne(m: Manifest, dir: string, accel: 'tcg' | 'kvm', timeoutMs: number, signal: AbortSignal): Promise<{ result: BootResult; shellDisk: boolean }> {
  const accelArgs = ['-accel', accel];
  const first = await bootToShell(m, dir, { timeoutMs, extraArgs: accelArgs, signal, giveUpOn: new RegExp(`${KVM_BROKEN.source}|${NOTHING_TO_BOOT.source}`) });
  if (first.ok || !reachedBootManagerOnly(first) || signal.aborted) return { result: first, shellDisk: false };
  // Offer the variant's own Shell.efi as the removable-media boot file, as edk2's CI does.
  const disk = await shellDiskArgs(m, dir);
  if (!disk) return { result: first, shellDisk: false };
  try {
    const second = await bootToShell(m, dir, { timeoutMs, extraArgs: [...accelArgs, ...disk.args], signal });
    return { result: second, shellDisk: true };
  } finally {
    await disk.cleanup();
  }
}

export interface VerifyOptions {
  readonly outDir: string;
  readonly only: ReadonlySet<string> | undefined;
  readonly jobs: number;
  readonly timeoutMs: number;
  readonly accel: Accel;
  /** Where each boot is recorded, when the run draws its timeline. */
  readonly timeline?: Timeline;
}

export async function verifyArtifacts(opts: VerifyOptions, log: Log, signal: AbortSignal): Promise<VerifyOutcome[]> {
  const dirs = (await readVariantDirs(opts.outDir)).filter((d) => !opts.only || opts.only.has(d.manifest.id));
  const queue = new PQueue({ concurrency: opts.jobs });
  let kvmBroken = false;
  // Like the build queue: the signal is checked at each turn (p-queue would drop running boots on
  // abort), and an interrupted boot records nothing, so an earlier boot.json stays as it was.
  const outcomes = await Promise.all(dirs.map(({ manifest: m }) => queue.add(async (): Promise<VerifyOutcome | undefined> => {
    if (signal.aborted) return undefined;
    const dir = join(opts.outDir, m.id);
    let accel = kvmBroken && opts.accel === 'auto' ? 'tcg' : chooseAccel(m.qemu, opts.accel);
    log.info(`${m.id}: booting (${accel})`);
    opts.timeline?.enter(m.id, 'boot');
    let { result, shellDisk } = await bootOne(m, dir, accel, opts.timeoutMs, signal);
    if (!result.ok && accel === 'kvm' && opts.accel === 'auto' && !signal.aborted) {
      // /dev/kvm is there but may not run this firmware (nested virtualisation, no SMM): the
      // boot is retried under TCG, and when that works KVM is not tried again in this run.
      const why = qemuComplaint(result.serial) ?? result.reason;
      accel = 'tcg';
      ({ result, shellDisk } = await bootOne(m, dir, accel, opts.timeoutMs, signal));
      if (result.ok && !kvmBroken) {
        log.warn(`KVM does not run this firmware here (${why}); using TCG`);
        kvmBroken = true;
      }
    }
    opts.timeline?.leave(m.id);
    if (signal.aborted) return undefined;
    const record: BootRecord = {
      ok: result.ok,
      secondsToShell: result.secondsToShell === undefined ? undefined : Math.round(result.secondsToShell * 10) / 10,
      accel,
      shellDisk,
      reason: result.reason,
      at: new Date().toISOString(),
    };
    let serialLog: string | undefined;
    if (result.ok) {
      await rm(join(dir, BOOT_SERIAL_LOG), { force: true });
      log.info(`${m.id}: UEFI Shell after ${record.secondsToShell}s${shellDisk ? ' (Shell from disk)' : ''}`);
    } else {
      serialLog = join(dir, BOOT_SERIAL_LOG);
      await publishFile(serialLog, result.serial);
      log.warn(`${m.id}: boot FAILED: ${result.reason}; serial log: ${serialLog}`);
    }
    await publishFile(join(dir, BOOT_RECORD), `${JSON.stringify(record, null, 2)}\n`);
    return { id: m.id, ...record, serialLog };
  })));
  await writeIndex(opts.outDir);
  return outcomes.filter((o) => o !== undefined);
}
