/**
 * Boots a published variant with its manifest's own argv and a fresh copy of the vars
 * template: passes when the UEFI Shell prompt appears on the serial console, after which
 * `reset -s` must make QEMU exit 0. QEMU runs on the host, or in the QEMU image (`launch`).
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Manifest } from '../domain.ts';
import { fillArgv } from '../plan/qemu-launch.ts';
import { launchOnHost, type QemuLaunch, type QemuProcess } from './qemu-process.ts';

/** The prompt, possibly wrapped in colour escapes: `ESC[1mESC[33mESC[40mShell> `. */
export const SHELL_PROMPT = /Shell> /;
/** Colour, cursor and mode escapes (`ESC [ =3h` too) the firmware interleaves with its text. */
// eslint-disable-next-line no-control-regex -- matching the escape character is the point
const ANSI = /\x1b\[[0-9;=?]*[A-Za-z]/g;

export interface BootResult {
  readonly ok: boolean;
  /** Seconds from QEMU's start to the prompt. */
  readonly secondsToShell: number | undefined;
  readonly exitCode: number | null;
  /** What went wrong, for people; undefined when ok. */
  readonly reason: string | undefined;
  /** Everything on the serial console, escapes removed. */
  readonly serial: string;
}

export interface BootOptions {
  readonly timeoutMs: number;
  /** Extra QEMU arguments (e.g. `-accel kvm`), appended like a user would. */
  readonly extraArgs?: readonly string[];
  readonly signal?: AbortSignal;
  /** Output that means the boot cannot succeed (e.g. a KVM internal error): stop at once. */
  readonly giveUpOn?: RegExp;
  /** Where QEMU runs: on the host (the default) or in the QEMU image. */
  readonly launch?: QemuLaunch;
  /** Directories `extraArgs` name besides the variant's (a Shell disk): QEMU in a container must see them. */
  readonly readOnlyDirs?: readonly string[];
}

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

export async function bootToShell(manifest: Manifest, variantDir: string, opts: BootOptions): Promise<BootResult> {
  const scratch = await mkdtemp(join(tmpdir(), `edk2-matrix-boot-${manifest.id}-`));
  try {
    const vars = join(scratch, 'VARS.fd');
    await copyFile(join(variantDir, manifest.qemu.varsTemplate), vars);
    const argv = [...fillArgv(manifest.qemu.argv, join(variantDir, manifest.qemu.code), vars), ...(opts.extraArgs ?? [])];
    const launch = opts.launch ?? launchOnHost;
    let raw = '';
    let secondsToShell: number | undefined;
    let reason: string | undefined;
    // Set once QEMU runs (output may come a moment before: what it asked for is done then).
    const running: { qemu?: QemuProcess } = {};
    let resetSent = false;
    const started = performance.now();
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      raw += text;
      // Only the new output (and what a match could straddle) is searched: DEBUG firmware
      // writes megabytes to the console, and rescanning it all per chunk is quadratic.
      const recent = raw.slice(-(text.length + 1024));
      if (!reason && opts.giveUpOn?.test(recent)) {
        reason = `QEMU reported: ${opts.giveUpOn.exec(recent)![0]}`;
        running.qemu?.kill();
      }
      if (secondsToShell === undefined && SHELL_PROMPT.test(stripAnsi(recent))) {
        secondsToShell = (performance.now() - started) / 1000;
        if (running.qemu) {
          running.qemu.write('reset -s\r');
          resetSent = true;
        }
      }
    };
    const qemu = (running.qemu = await launch(argv, { readOnly: [variantDir, ...(opts.readOnlyDirs ?? [])], writable: [scratch] }, onData));
    if (reason) qemu.kill();
    else if (secondsToShell !== undefined && !resetSent) qemu.write('reset -s\r');
    const timer = setTimeout(() => {
      reason = secondsToShell === undefined
        ? `no UEFI Shell prompt within ${opts.timeoutMs / 1000}s`
        : `QEMU did not exit within ${opts.timeoutMs / 1000}s after reset -s`;
      qemu.kill();
    }, opts.timeoutMs);
    const onAbort = () => {
      reason = 'cancelled';
      qemu.kill();
    };
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const { code, error } = await qemu.exited;
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    reason ??= error;
    if (!reason && secondsToShell === undefined) reason = `QEMU exited with ${code} before the UEFI Shell prompt`;
    if (!reason && code !== 0) reason = `QEMU exited with ${code} after reset -s (expected 0)`;
    return { ok: !reason, secondsToShell, exitCode: code, reason, serial: stripAnsi(raw) };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
