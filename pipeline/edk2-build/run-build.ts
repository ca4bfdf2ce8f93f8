/**
 * One variant = one container: source read-only, a private work volume, no network, no
 * capabilities, read-only root, memory and pids limits, the shared compiler cache if any.
 * Output streams to the variant's log file; CPU use is sampled for the summary. The container
 * and its volume are removed afterwards, whatever happened (with `--keep-failed`, a failed
 * build's workspace is first copied into a kept volume: kept-workspace.ts), unless the build
 * ran in a kept build tree (build-tree.ts), which stays for the next incremental build.
 */
import type { BuildPlan, BuilderImage, PreparedSource } from '../domain.ts';
import type { Container } from '../engine/engine.ts';
import { followOutputToFile, type FollowedOutput } from '../engine/output-log.ts';
import { LABEL_VARIANT, type RunScope } from '../engine/run-scope.ts';
import { BuildError, CancelledError, describeError, type BuildFailure } from '../errors.ts';
import { keepWorkspace, shellCommand } from './kept-workspace.ts';
import { SOURCE_MOUNT } from '../source/prepare.ts';
import { BUILD_WRAPPER, buildArguments, WORKSPACE } from '../plan/build-command.ts';

export const CCACHE_MOUNT = '/ccache';

export interface BuildLimits {
  readonly memoryBytes: number;
  readonly pidsLimit: number;
  readonly timeoutMs: number;
}

export interface BuildJob {
  readonly plan: BuildPlan;
  readonly image: BuilderImage;
  readonly source: PreparedSource;
  readonly limits: BuildLimits;
  /** Compiler cache volume, or undefined for a build from nothing (reproducibility checks). */
  readonly ccacheVolume: string | undefined;
  readonly logPath: string;
  readonly onLine: (line: string) => void;
  /** `--keep-failed`: when edk2's build fails, keep a copy of its workspace for `--shell`. */
  readonly keepFailed?: boolean;
  /**
   * A kept build tree (build-tree.ts) to build in, as it is: made and emptied by its owner, and
   * left in place afterwards. Without it the build gets a work volume of its own, removed after.
   */
  readonly workVolume?: string;
}

/** What `use` gets: the stopped container and its work volume. */
export interface FinishedBuild {
  readonly container: Container;
  readonly workVolume: string;
}

const STATS_EVERY_MS = 3000;

/** Samples a running container's CPU time; the last sample is its total. */
function sampleCpu(container: Container): { stop: () => number } {
  let last = 0;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    container.cpuNanos().then((ns) => {
      if (ns !== undefined) last = Math.max(last, ns);
    }, () => {}).finally(() => {
      busy = false;
    });
  }, STATS_EVERY_MS);
  return {
    stop: () => {
      clearInterval(timer);
      return last;
    },
  };
}

function failure(status: { exitCode: number; oomKilled: boolean }, stopReason: string | undefined, limits: BuildLimits): [BuildFailure, string] {
  if (stopReason === 'timeout') return ['timeout', `timed out after ${limits.timeoutMs / 60_000} min (--timeout)`];
  if (status.oomKilled) return ['out-of-memory', `out of memory (limit ${(limits.memoryBytes / 2 ** 30).toFixed(2)} GiB; --memory)`];
  if (status.exitCode === 137) return ['killed', 'killed (SIGKILL) while building'];
  return ['exit-status', `edk2 build exited with status ${status.exitCode}`];
}

/**
 * Keeps the failed build's workspace; says so (and how to enter it), or why it could not, in
 * words the failure's reason ends with. An interrupt while copying is the run's interrupt.
 */
async function keepFailed(scope: RunScope, job: BuildJob, workVolume: string, signal: AbortSignal): Promise<string> {
  const { plan } = job;
  try {
    const { problems } = await keepWorkspace(scope, workVolume, {
      variantId: plan.variant.id,
      key: plan.key,
      image: { id: job.image.id, tag: job.image.tag },
      sourceVolume: job.source.volume,
      ccacheVolume: job.ccacheVolume,
      env: plan.recipe.build.env,
      args: buildArguments(plan),
    }, signal);
    const earlier = problems.length ? `; an earlier kept workspace could not be removed (${problems.join('; ')})` : '';
    return `; workspace kept, enter it with \`${shellCommand(plan.variant.id)}\`${earlier}`;
  } catch (err) {
    if (signal.aborted) throw new CancelledError();
    return `; its workspace could not be kept: ${describeError(err)}`;
  }
}

/**
 * Builds the plan's variant, then hands the stopped container to `use` (to copy files out).
 * Returns what `use` returned and the CPU time the build took.
 */
export async function withBuild<T>(
  scope: RunScope,
  job: BuildJob,
  signal: AbortSignal,
  use: (build: FinishedBuild) => Promise<T>,
): Promise<{ result: T; cpuNanos: number }> {
  const { plan, limits } = job;
  const { variant } = plan;
  const temporary = job.workVolume === undefined;
  const workVolume = job.workVolume ?? `edk2-matrix-work-${scope.runId}-${variant.id}-${Math.random().toString(36).slice(2, 8)}`;
  if (temporary) await scope.createTemporaryVolume(workVolume, { [LABEL_VARIANT]: variant.id });
  let container: Container | undefined;
  try {
    container = await scope.createContainer({
      image: job.image.id,
      cmd: [BUILD_WRAPPER, ...buildArguments(plan)],
      // The recipe's environment, and two that only change speed and robustness.
      env: { ...plan.recipe.build.env, EDK2_MATRIX_CCACHE: job.ccacheVolume ? '1' : '0', EDK2_MATRIX_WATCHDOG: '1' },
      user: 'builder',
      workingDir: WORKSPACE,
      mounts: [
        { volume: job.source.volume, target: SOURCE_MOUNT, readOnly: true },
        { volume: workVolume, target: WORKSPACE, readOnly: false },
        ...(job.ccacheVolume ? [{ volume: job.ccacheVolume, target: CCACHE_MOUNT, readOnly: false }] : []),
      ],
      tmpfs: { '/tmp': 'rw,exec,size=2g' },
      network: 'none',
      hardened: true,
      memoryBytes: limits.memoryBytes,
      pidsLimit: limits.pidsLimit,
      watchdog: true,
    }, 'build', { [LABEL_VARIANT]: variant.id });
    // Ctrl-C while the container was being created: the abort cleanup did not know it yet.
    if (signal.aborted) throw new CancelledError();

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
    let output: FollowedOutput;
    let cpuNanos = 0;
    // Held until the build ends: if this process dies (even by SIGKILL), the build stops itself.
    const letGo = await container.holdStdin();
    try {
      await container.start();
      const cpu = sampleCpu(container);
      try {
        output = await followOutputToFile(container, job.logPath, job.onLine);
        status = await container.wait();
      } finally {
        cpuNanos = cpu.stop();
      }
    } finally {
      letGo();
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
    if (stopReason === 'cancelled' || signal.aborted) throw new CancelledError();
    const { writeError, lastLines } = output;
    if (writeError) throw new BuildError(variant.id, 'log-write', `cannot write its log: ${writeError.message}`, status.exitCode, undefined, [...lastLines]);
    if (status.exitCode !== 0 || stopReason) {
      const [kind, reason] = failure(status, stopReason, limits);
      const kept = job.keepFailed ? await keepFailed(scope, job, workVolume, signal) : '';
      throw new BuildError(variant.id, kind, `${reason}${kept}`, status.exitCode, job.logPath, [...lastLines]);
    }
    return { result: await use({ container, workVolume }), cpuNanos };
  } finally {
    // What cannot be removed now stays tracked by the scope, whose cleanup at the end of the run
    // tries again and reports what is left (for `--clean`).
    if (container) await scope.removeContainer(container).catch(() => {});
    if (temporary) await scope.removeVolume(workVolume).catch(() => {});
  }
}
