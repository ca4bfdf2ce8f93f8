/**
 * What a command takes from its surroundings: the container engine and the streams it writes
 * to. The entry points pass nothing (the real engine, the process's streams); tests pass an
 * engine in memory and streams they read back.
 */
import { DockerEngine } from '../engine/docker-engine.ts';
import type { Engine } from '../engine/engine.ts';

export interface CommandContext {
  /** The container engine (default: the Docker engine of DOCKER_HOST, made when first needed). */
  readonly engine?: Engine;
  /** Results (lists, tables to pipe on). */
  readonly stdout?: NodeJS.WriteStream;
  /** Progress, warnings, summaries. */
  readonly stderr?: NodeJS.WriteStream;
  /** What the user types (`--shell`). */
  readonly stdin?: NodeJS.ReadStream;
}

export interface CommandIo {
  readonly engine: () => Engine;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  readonly stdin: NodeJS.ReadStream;
}

export function commandIo(ctx: CommandContext = {}): CommandIo {
  let engine: Engine | undefined;
  return {
    engine: () => (engine ??= ctx.engine ?? new DockerEngine()),
    stdout: ctx.stdout ?? process.stdout,
    stderr: ctx.stderr ?? process.stderr,
    stdin: ctx.stdin ?? process.stdin,
  };
}

/** A command as main.ts runs it: exit status from arguments, an interrupt signal and its surroundings. */
export type Command = (argv: readonly string[], signal: AbortSignal, ctx?: CommandContext) => Promise<number>;
