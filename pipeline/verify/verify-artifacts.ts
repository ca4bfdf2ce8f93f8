/**
 * Boots every variant of an artifacts directory with its own manifest argv, in parallel
 * through the queue, with the host's QEMU or the QEMU image's (qemu-choice.ts), and records
 * the outcome beside the variant: `boot.json` (seconds to the Shell, accelerator, which QEMU),
 * and on failure `boot-serial.log`. The index then carries the results.
 */
import { accessSync, constants } from 'node:fs';
import { rm } from 'node:fs/promises';
import { arch as hostArch } from 'node:os';
import { join } from 'node:path';
import PQueue from 'p-queue';
import type { BootAttempt, BootRecord, BuilderSpec, Manifest, QemuLaunch as LaunchFacts } from '../domain.ts';
import type { Engine } from '../engine/engine.ts';
import { newRunId, RunScope } from '../engine/run-scope.ts';
import { ImageError } from '../errors.ts';
import { ensureQemuImage, imageQemuVersionText } from '../image/qemu-image.ts';
import { archFacts } from '../platforms.ts';
import { chooseQemu, formatMin, hostQemuVersion, parseQemuVersion, whyNotHost, type QemuChoice } from './qemu-choice.ts';
import { launchInImage, launchOnHost, type QemuLaunch } from './qemu-process.ts';
import type { QemuUsed } from '../domain.ts';
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

/** One boot of one variant with one QEMU. */
export interface VerifyOutcome extends BootAttempt {
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

export function chooseAccel(qemu: Pick<LaunchFacts, 'kvmHostArch'>, wanted: Accel, usable = kvmUsable()): 'tcg' | 'kvm' {
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

/** One QEMU to boot with: where it is, its version, how to start it. */
interface QemuRunner {
  readonly used: QemuUsed;
  readonly launch: QemuLaunch;
}

async function bootOne(m: Manifest, dir: string, qemu: QemuRunner, accel: 'tcg' | 'kvm', timeoutMs: number, signal: AbortSignal): Promise<{ result: BootResult; shellDisk: boolean }> {
  const accelArgs = ['-accel', accel];
  const first = await bootToShell(m, dir, { timeoutMs, extraArgs: accelArgs, signal, launch: qemu.launch, giveUpOn: new RegExp(`${KVM_BROKEN.source}|${NOTHING_TO_BOOT.source}`) });
  if (first.ok || !reachedBootManagerOnly(first) || signal.aborted) return { result: first, shellDisk: false };
  // Offer the variant's own Shell.efi as the removable-media boot file, as edk2's CI does.
  const disk = await shellDiskArgs(m, dir);
  if (!disk) return { result: first, shellDisk: false };
  try {
    const second = await bootToShell(m, dir, { timeoutMs, extraArgs: [...accelArgs, ...disk.args], readOnlyDirs: [disk.dir], signal, launch: qemu.launch });
    return { result: second, shellDisk: true };
  } finally {
    await disk.cleanup();
  }
}

/** The QEMU image, for boots that need it. */
export interface QemuImageSource {
  readonly engine: Engine;
  readonly spec: BuilderSpec;
  readonly cacheDir: string;
}

export interface VerifyOptions {
  readonly outDir: string;
  readonly only: ReadonlySet<string> | undefined;
  readonly jobs: number;
  readonly timeoutMs: number;
  readonly accel: Accel;
  /** Which QEMU boots each variant (see qemu-choice.ts); default `auto`. */
  readonly qemu?: QemuChoice;
  /** Where the QEMU image comes from; without it, only the host's QEMU boots. */
  readonly qemuImage?: QemuImageSource;
  /** Where each boot is recorded, when the run draws its timeline. */
  readonly timeline?: Timeline;
}

export async function verifyArtifacts(opts: VerifyOptions, log: Log, signal: AbortSignal): Promise<VerifyOutcome[]> {
  const dirs = (await readVariantDirs(opts.outDir)).filter((d) => !opts.only || opts.only.has(d.manifest.id));
  const queue = new PQueue({ concurrency: opts.jobs });
  const choice = opts.qemu ?? 'auto';
  const image = imageQemus(opts, log, signal);
  let kvmBroken = false;

  /** Boots `m` with one QEMU, retrying under TCG when KVM cannot run it. */
  const bootWith = async (m: Manifest, dir: string, qemu: QemuRunner): Promise<BootAttempt & { serial: string }> => {
    // QEMU in the image has no /dev/kvm: TCG.
    let accel = qemu.used.where === 'image' ? 'tcg' : kvmBroken && opts.accel === 'auto' ? 'tcg' : chooseAccel(m.qemu, opts.accel);
    log.info(`${m.id}: booting (${accel}, QEMU ${qemu.used.version} ${qemu.used.where === 'host' ? 'on the host' : 'in the QEMU image'})`);
    let { result, shellDisk } = await bootOne(m, dir, qemu, accel, opts.timeoutMs, signal);
    if (!result.ok && accel === 'kvm' && opts.accel === 'auto' && !signal.aborted) {
      // /dev/kvm is there but may not run this firmware (nested virtualisation, no SMM): the
      // boot is retried under TCG, and when that works KVM is not tried again in this run.
      const why = qemuComplaint(result.serial) ?? result.reason;
      accel = 'tcg';
      ({ result, shellDisk } = await bootOne(m, dir, qemu, accel, opts.timeoutMs, signal));
      if (result.ok && !kvmBroken) {
        log.warn(`KVM does not run this firmware here (${why}); using TCG`);
        kvmBroken = true;
      }
    }
    return {
      ok: result.ok,
      secondsToShell: result.secondsToShell === undefined ? undefined : Math.round(result.secondsToShell * 10) / 10,
      accel,
      shellDisk,
      reason: result.reason,
      qemu: qemu.used,
      serial: result.serial,
    };
  };

  try {
    // Like the build queue: the signal is checked at each turn (p-queue would drop running boots on
    // abort), and an interrupted boot records nothing, so an earlier boot.json stays as it was.
    const outcomes = await Promise.all(dirs.map(({ manifest: m }) => queue.add(async (): Promise<VerifyOutcome[] | undefined> => {
      if (signal.aborted) return undefined;
      const dir = join(opts.outDir, m.id);
      const binary = m.qemu.binary;
      const min = archFacts(m.arch).qemuMinVersion;
      const hostVersion = await hostQemuVersion(binary);
      const wheres = chooseQemu(choice, hostVersion, min);
      const why = choice === 'auto' ? whyNotHost(binary, hostVersion, min) : undefined;
      if (why) log.info(`${m.id}: ${why} (${m.arch} wants at least ${formatMin(min)}): booting in the QEMU image`);
      opts.timeline?.enter(m.id, 'boot');
      const attempts: (BootAttempt & { serial: string })[] = [];
      try {
        for (const where of wheres) {
          if (signal.aborted) break;
          const qemu = where === 'host'
            ? { used: { version: hostVersion ?? 'none', where }, launch: launchOnHost }
            : await image.runner(binary);
          attempts.push(await bootWith(m, dir, qemu));
        }
      } finally {
        opts.timeline?.leave(m.id);
      }
      if (signal.aborted) return undefined;
      const failed = attempts.find((a) => !a.ok);
      const { serial, ...verdict } = failed ?? attempts[0]!;
      const boots = attempts.map(({ serial: _, ...a }) => a);
      const record: BootRecord = { ...verdict, at: new Date().toISOString(), boots: boots.length > 1 ? boots : undefined };
      let serialLog: string | undefined;
      if (failed) {
        serialLog = join(dir, BOOT_SERIAL_LOG);
        await publishFile(serialLog, serial);
      } else {
        await rm(join(dir, BOOT_SERIAL_LOG), { force: true });
      }
      for (const a of boots) {
        const qemu = `QEMU ${a.qemu!.version}, ${a.qemu!.where}`;
        if (a.ok) log.info(`${m.id}: UEFI Shell after ${a.secondsToShell}s (${qemu})${a.shellDisk ? ' (Shell from disk)' : ''}`);
        else log.warn(`${m.id}: boot FAILED (${qemu}): ${a.reason}; serial log: ${serialLog}`);
      }
      await publishFile(join(dir, BOOT_RECORD), `${JSON.stringify(record, null, 2)}\n`);
      return boots.map((a) => ({ id: m.id, ...a, serialLog: a.ok ? undefined : serialLog }));
    })));
    await writeIndex(opts.outDir);
    return outcomes.flatMap((o) => o ?? []);
  } finally {
    for (const p of await image.cleanup()) log.warn(`could not remove ${p}; \`npm run matrix -- --clean\` will`);
  }
}

/**
 * The QEMU image's runners, made when the first boot needs one: the image is found or built
 * once, each binary asked its version once. Its containers live in one run scope, removed at
 * the end and on abort.
 */
function imageQemus(opts: VerifyOptions, log: Log, signal: AbortSignal): { runner: (binary: string) => Promise<QemuRunner>; cleanup: () => Promise<string[]> } {
  let scope: RunScope | undefined;
  let imageId: Promise<string> | undefined;
  const versions = new Map<string, Promise<string>>();
  const onAbort = () => void scope?.cleanup();
  const runner = async (binary: string): Promise<QemuRunner> => {
    const source = opts.qemuImage;
    if (!source) {
      throw new ImageError(`${binary}: this run has no QEMU image to boot with`, 'use the host\'s QEMU (--qemu host)');
    }
    if (!scope) {
      scope = new RunScope(source.engine, newRunId());
      signal.addEventListener('abort', onAbort, { once: true });
    }
    const s = scope;
    imageId ??= (async () => {
      await source.engine.ping();
      return (await ensureQemuImage(s, source.spec, source.cacheDir, log, signal)).id;
    })();
    const id = await imageId;
    let version = versions.get(binary);
    if (!version) {
      version = imageQemuVersionText(s, id, binary, signal).then((text) => parseQemuVersion(text) ?? 'unknown');
      versions.set(binary, version);
    }
    return { used: { version: await version, where: 'image' }, launch: launchInImage(s, id, opts.timeoutMs) };
  };
  return {
    runner,
    cleanup: async () => {
      signal.removeEventListener('abort', onAbort);
      return scope ? scope.cleanup() : [];
    },
  };
}
