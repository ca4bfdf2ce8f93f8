/**
 * A running QEMU, wherever it runs: a child process of this one (the host's QEMU), or a
 * container of the QEMU image. Either way its serial console is its stdin and stdout, so that
 * the boot can wait for the Shell prompt and type `reset -s`. In a container it runs as this
 * process's user, with no network, a read-only root, no capabilities and no /dev/kvm (TCG);
 * the directories its arguments name are mounted at the same paths (read-only but for the
 * scratch directory of its VARS copy), so the manifest's argv needs no rewriting. The
 * container carries the run's labels (role `boot`), is removed when QEMU exits or is killed,
 * and `timeout` inside it ends QEMU even if this process dies without cleaning up.
 */
import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import type { RunScope } from '../engine/run-scope.ts';

export interface QemuProcess {
  /** Types into the serial console. */
  write(text: string): void;
  /** Stops QEMU now. */
  kill(): void;
  /** How it ended: its exit code, and why it could not run at all when it could not. */
  readonly exited: Promise<{ readonly code: number | null; readonly error?: string }>;
}

export interface QemuDirs {
  readonly readOnly: readonly string[];
  readonly writable: readonly string[];
}

/** Starts `argv` (binary first); every chunk of its stdout and stderr goes to `onOutput`. */
export type QemuLaunch = (argv: readonly string[], dirs: QemuDirs, onOutput: (chunk: Buffer) => void) => Promise<QemuProcess>;

export const launchOnHost: QemuLaunch = async (argv, _dirs, onOutput) => {
  const [binary, ...args] = argv;
  const child = spawn(binary!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdout.on('data', onOutput);
  child.stderr.on('data', onOutput);
  child.stdin.on('error', () => {});
  let error: string | undefined;
  const exited = new Promise<{ code: number | null; error?: string }>((resolve) => {
    child.on('error', (err) => {
      error = `cannot start ${binary}: ${err.message}`;
    });
    child.on('close', (code) => resolve(error ? { code, error } : { code }));
  });
  return { write: (text) => void child.stdin.write(text), kill: () => void child.kill('SIGKILL'), exited };
};

/** Seconds a QEMU container may live at most, beyond the boot's own timeout. */
const CONTAINER_GRACE_S = 60;

/** QEMU in a container of `imageId`, created through `scope` (labelled, removed at the end). */
export function launchInImage(scope: RunScope, imageId: string, lifetimeMs: number, labels: Record<string, string> = {}): QemuLaunch {
  return async (argv, dirs, onOutput) => {
    const binds = [
      ...[...new Set(dirs.readOnly)].map((d) => ({ source: d, target: d, readOnly: true })),
      ...[...new Set(dirs.writable)].map((d) => ({ source: d, target: d, readOnly: false })),
    ];
    const container = await scope.createContainer({
      image: imageId,
      cmd: ['timeout', '--signal=KILL', `${Math.ceil(lifetimeMs / 1000) + CONTAINER_GRACE_S}`, ...argv],
      user: `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`,
      binds,
      network: 'none',
      hardened: true,
      interactive: true,
    }, 'boot', labels);
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        onOutput(chunk);
        done();
      },
    });
    let stdio: Awaited<ReturnType<typeof container.attachStdio>>;
    try {
      // Attached, not following the log: the log holds back a line until it ends, and the
      // Shell's prompt does not end its line.
      stdio = await container.attachStdio(sink);
      await container.start();
    } catch (err) {
      await scope.removeContainer(container).catch(() => {});
      throw err;
    }
    const exited = (async () => {
      try {
        const { exitCode } = await container.wait();
        // What QEMU printed last may still be on its way.
        await Promise.race([stdio.outputEnded, new Promise((r) => setTimeout(r, 1000))]);
        return { code: exitCode };
      } catch (err) {
        return { code: null, error: `the QEMU container failed: ${(err as Error).message}` };
      } finally {
        stdio.close();
        await scope.removeContainer(container).catch(() => {});
      }
    })();
    return { write: (text) => stdio.write(text), kill: () => void container.kill().catch(() => {}), exited };
  };
}
