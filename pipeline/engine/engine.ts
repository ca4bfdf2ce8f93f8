/**
 * The one narrow door to the container engine. Every stage talks to this interface, never to
 * dockerode; `DockerEngine` implements it against a real engine.
 */
import type { Readable, Writable } from 'node:stream';

export interface VolumeMount {
  readonly volume: string;
  readonly target: string;
  readonly readOnly: boolean;
}

/** A host directory seen in the container (at the same path, for QEMU's arguments to hold). */
export interface BindMount {
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

export interface ContainerSpec {
  readonly image: string;
  readonly cmd: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly user?: string;
  readonly workingDir?: string;
  readonly mounts?: readonly VolumeMount[];
  readonly binds?: readonly BindMount[];
  /** Mount point → tmpfs options, e.g. `{ '/tmp': 'rw,exec,size=1g' }`. */
  readonly tmpfs?: Readonly<Record<string, string>>;
  /** Docker network mode: `none` for builds. */
  readonly network: string;
  /** Hardening: read-only root, no capabilities, no new privileges. */
  readonly hardened: boolean;
  readonly memoryBytes?: number;
  readonly pidsLimit?: number;
  /**
   * Gives the container a stdin that stays open while this process holds it (`holdStdin`) and
   * closes when it is gone, however it went (SIGKILL included): the container's own watchdog
   * then stops it. With an init process as PID 1, so that the stop reaches every process.
   */
  readonly watchdog?: boolean;
  /** Gives the container a stdin this process writes to (`openStdin`), as QEMU's serial console. */
  readonly interactive?: boolean;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ExitStatus {
  readonly exitCode: number;
  readonly oomKilled: boolean;
}

export interface Container {
  readonly id: string;
  start(): Promise<void>;
  /** Attaches to the stdin of a `watchdog` container, before `start`; the returned function lets go. */
  holdStdin(): Promise<() => void>;
  /**
   * Attaches to stdin, stdout and stderr of an `interactive` container, before `start`: what is
   * written reaches its process, and its output goes to `sink` as it comes (not line by line,
   * as the log does), until `outputEnded`.
   */
  attachStdio(sink: Writable): Promise<StdinWriter & { readonly outputEnded: Promise<void> }>;
  /** Streams stdout and stderr (demultiplexed) into `sink` until the container stops. */
  streamOutput(sink: Writable): Promise<void>;
  wait(): Promise<ExitStatus>;
  /** CPU time the container has used so far, in nanoseconds; undefined once it stopped. */
  cpuNanos(): Promise<number | undefined>;
  /** A tar stream of `path` (a file or directory) inside the container; undefined if there is none. */
  getArchive(path: string): Promise<Readable | undefined>;
  /** Unpacks the (uncompressed) tar stream `tar` at `path` inside the container. */
  putArchive(path: string, tar: Readable): Promise<void>;
  /** Stops it now (SIGKILL); a container that already stopped is fine. */
  kill(): Promise<void>;
  /** Removes it, with its anonymous volumes; one already gone is fine. */
  remove(): Promise<void>;
}

export interface StdinWriter {
  write(text: string): void;
  close(): void;
}

export type PullAttempt = { readonly pulled: true } | { readonly pulled: false; readonly reason: string };

export interface ImageBuild {
  readonly context: Readable;
  readonly tag: string;
  readonly buildArgs: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly network: string;
  /** Each line the build prints. */
  readonly onLine: (line: string) => void;
}

export interface Labelled {
  /** Container id or volume name. */
  readonly id: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface LabelledResources {
  readonly containers: readonly Labelled[];
  readonly volumes: readonly Labelled[];
  /** Image ids. */
  readonly images: readonly Labelled[];
}

export interface EngineInfo {
  readonly version: string;
  readonly apiVersion: string;
}

/** The terminal a container is connected to (`runInTerminal`): this process's, normally. */
export interface Terminal {
  readonly input: NodeJS.ReadStream;
  readonly output: NodeJS.WriteStream;
}

export interface Engine {
  /** Throws EngineError with a hint on how to start an engine when none answers. */
  ping(): Promise<EngineInfo>;
  /** Image id for a reference, or undefined when the engine does not have it. */
  imageId(ref: string): Promise<string | undefined>;
  /**
   * Tries a registry pull. A failure comes back with the engine's words for it (a registry's
   * refusal, or why none was reached), for the caller to tell the two apart.
   */
  tryPull(ref: string, signal: AbortSignal): Promise<PullAttempt>;
  /** Imports a root filesystem tar as image `ref`; returns its id. */
  importRootfs(tar: Readable, ref: string): Promise<string>;
  buildImage(build: ImageBuild, signal: AbortSignal): Promise<string>;
  volumeExists(name: string): Promise<boolean>;
  createVolume(name: string, labels: Readonly<Record<string, string>>): Promise<void>;
  removeVolume(name: string): Promise<void>;
  createContainer(spec: ContainerSpec): Promise<Container>;
  /**
   * Runs `spec` with a pseudo-terminal connected to `terminal` (raw mode, its size followed)
   * until its process ends; then, or on `signal`, restores the terminal and removes the
   * container. Returns its exit code.
   */
  runInTerminal(spec: ContainerSpec, terminal: Terminal, signal: AbortSignal): Promise<number>;
  /** Containers and volumes whose labels include every given `key=value`. */
  findLabelled(labels: Readonly<Record<string, string>>): Promise<LabelledResources>;
  removeContainerById(id: string): Promise<void>;
  /** Removes an image (by id); one in use by a container stays, one already gone is fine. */
  removeImage(id: string): Promise<void>;
}
