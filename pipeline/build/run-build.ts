/**
 * One variant = one container: source read-only, a private work volume, no network, no
 * capabilities, read-only root, memory and pids limits. Output streams to the variant's log
 * file. The container and its volume are removed afterwards, whatever happened.
 */
import { createWriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { BuilderImage, PreparedSource, Variant } from '../domain.ts';
import type { Container } from '../engine/engine.ts';
import { LABEL_VARIANT, type RunScope } from '../engine/run-scope.ts';
import { BuildError, CancelledError } from '../errors.ts';
import { SOURCE_MOUNT } from '../source/prepare.ts';
import { buildArgs, buildEnv, WORKSPACE } from './command.ts';

export interface BuildLimits {
  readonly threads: number;
  readonly memoryBytes: number;
  readonly pidsLimit: number;
  readonly timeoutMs: number;
}

export interface BuildJob {
  readonly variant: Variant;
  readonly image: BuilderImage;
  readonly source: PreparedSource;
  readonly limits: BuildLimits;
  readonly logPath: string;
  readonly onLine: (line: string) => void;
}

const LAST_LINES = 20;

/** A Writable that writes to the log file and hands every complete line to `onLine`. */
function lineTap(file: Writable, onLine: (line: string) => void, last: string[]): Writable {
  let partial = '';
  const emit = (line: string) => {
    last.push(line);
    if (last.length > LAST_LINES) last.shift();
    onLine(line);
  };
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      const text = partial + chunk.toString();
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) emit(l.replace(/\r$/, ''));
      if (!file.write(chunk)) file.once('drain', () => done());
      else done();
    },
    final(done) {
      if (partial) emit(partial);
      file.end(done);
    },
  });
}

/** Builds the variant, then hands the stopped container to `use` (to copy files out). */
export async function withBuild<T>(scope: RunScope, job: BuildJob, signal: AbortSignal, use: (container: Container, argv: readonly string[]) => Promise<T>): Promise<T> {
  const { variant, limits } = job;
  const workVolume = `edk2-matrix-work-${scope.runId}-${variant.id}`;
  const argv = ['build', ...buildArgs(variant, limits.threads)];
  await scope.createTemporaryVolume(workVolume, { [LABEL_VARIANT]: variant.id });
  let container: Container | undefined;
  try {
    container = await scope.createContainer({
      image: job.image.id,
      cmd: ['edk2-build-variant', ...argv.slice(1)],
      env: buildEnv(variant),
      user: 'builder',
      workingDir: WORKSPACE,
      mounts: [
        { volume: job.source.volume, target: SOURCE_MOUNT, readOnly: true },
        { volume: workVolume, target: WORKSPACE, readOnly: false },
      ],
      tmpfs: { '/tmp': 'rw,exec,size=2g' },
      network: 'none',
      hardened: true,
      memoryBytes: limits.memoryBytes,
      pidsLimit: limits.pidsLimit,
    }, 'build', { [LABEL_VARIANT]: variant.id });

    const last: string[] = [];
    const logFile = createWriteStream(job.logPath);
    const tap = lineTap(logFile, job.onLine, last);
    let stopReason: 'timeout' | 'cancelled' | undefined;
    const c = container;
    const stop = (reason: 'timeout' | 'cancelled') => {
      stopReason ??= reason;
      void c.kill().catch(() => {});
    };
    const onAbort = () => stop('cancelled');
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => stop('timeout'), limits.timeoutMs);
    let status;
    try {
      await container.start();
      await container.streamOutput(tap);
      status = await container.wait();
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      tap.end();
      await finished(tap).catch(() => {});
    }
    if (stopReason === 'cancelled' || signal.aborted) throw new CancelledError();
    if (status.exitCode !== 0 || stopReason) {
      const reason = stopReason === 'timeout'
        ? `timed out after ${limits.timeoutMs / 60_000} min (--timeout)`
        : status.oomKilled
          ? `out of memory (limit ${(limits.memoryBytes / 2 ** 30).toFixed(1)} GiB)`
          : status.exitCode === 137
            ? 'killed (SIGKILL) while building'
            : `edk2 build exited with status ${status.exitCode}`;
      throw new BuildError(variant.id, reason, status.exitCode, job.logPath, [...last]);
    }
    return await use(container, argv);
  } finally {
    if (container) await scope.removeContainer(container).catch(() => {});
    await scope.removeVolume(workVolume).catch(() => {});
  }
}
