/**
 * One short container, run to completion: created with the run's labels, given its files,
 * started, its output followed (into a log file, or kept in memory), waited for, and removed
 * whatever happened. An abort kills it; the caller then gets a CancelledError, not its exit
 * status. What cannot be removed at the end stays tracked by the scope, whose cleanup tries
 * again and reports it.
 */
import { Writable } from 'node:stream';
import { CancelledError } from '../errors.ts';
import type { Container, ContainerSpec } from './engine.ts';
import { followOutputToFile, LAST_LINES } from './output-log.ts';

/** Labels a run gives what it creates, by what it is for (see run-scope.ts). */
export type Role = 'build' | 'prepare' | 'probe' | 'work' | 'source' | 'ccache' | 'builder' | 'kept' | 'build-tree' | 'shell' | 'qemu' | 'boot';

/** What running a container to completion needs of the run's scope (a RunScope): labelled creation and removal. */
export interface ContainerOwner {
  createContainer(spec: Omit<ContainerSpec, 'labels'>, role: Role, extra?: Record<string, string>): Promise<Container>;
  removeContainer(container: Container): Promise<void>;
}

export interface RunToCompletion {
  readonly role: Role;
  /** Labels besides the run's own (e.g. the variant). */
  readonly labels?: Record<string, string>;
  /** Puts files into the created container before it starts. */
  readonly put?: (container: Container) => Promise<void>;
  /**
   * Follows the output into this file (`append`: after what it holds), each complete line also
   * to `onLine` as it comes; without, the output is kept in `output`.
   */
  readonly log?: { readonly path: string; readonly append?: boolean; readonly onLine?: (line: string) => void };
  readonly signal?: AbortSignal;
}

export interface Completed {
  readonly exitCode: number;
  readonly oomKilled: boolean;
  /** The whole output (stdout and stderr), when it went to no log file. */
  readonly output: string;
  /** The last lines it printed (at most `LAST_LINES`). */
  readonly lastLines: readonly string[];
  /** Why the log file could not be written, if it could not. */
  readonly writeError: Error | undefined;
}

export async function runToCompletion(scope: ContainerOwner, spec: Omit<ContainerSpec, 'labels'>, opts: RunToCompletion): Promise<Completed> {
  const { signal } = opts;
  if (signal?.aborted) throw new CancelledError();
  const container = await scope.createContainer(spec, opts.role, opts.labels);
  const onAbort = () => void container.kill().catch(() => {});
  try {
    // Ctrl-C while the container was being created: the abort cleanup did not know it yet.
    if (signal?.aborted) throw new CancelledError();
    signal?.addEventListener('abort', onAbort, { once: true });
    await opts.put?.(container);
    await container.start();
    const followed = opts.log
      ? { ...(await followOutputToFile(container, opts.log.path, opts.log.onLine, opts.log.append)), output: '' }
      : await followInMemory(container);
    const status = await container.wait();
    if (signal?.aborted) throw new CancelledError();
    return { ...status, ...followed };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await scope.removeContainer(container).catch(() => {});
  }
}

async function followInMemory(container: Container): Promise<Omit<Completed, 'exitCode' | 'oomKilled'>> {
  let output = '';
  await container.streamOutput(new Writable({
    write(chunk: Buffer, _enc, done) {
      output += chunk.toString();
      done();
    },
  }));
  const lines = output.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return { output, lastLines: lines.slice(-LAST_LINES), writeError: undefined };
}
