/**
 * `Engine` over a real Docker engine, through dockerode. Errors are wrapped once, here, with
 * what was being done; "already stopped" and "already gone" answers are not errors.
 */
import Docker from 'dockerode';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { CancelledError, EngineError, EngineLostError } from '../errors.ts';
import type {
  Container,
  ContainerSpec,
  Engine,
  EngineInfo,
  ExitStatus,
  ImageBuild,
  LabelledResources,
  PullAttempt,
  StdinWriter,
  Terminal,
} from './engine.ts';

interface HttpError {
  statusCode?: number;
  code?: string;
  message?: string;
  json?: { message?: string };
}

const statusOf = (err: unknown): number | undefined => (err as HttpError)?.statusCode;

function engineMessage(err: unknown): string {
  const e = err as HttpError;
  return (e?.json?.message ?? e?.message ?? String(err)).trim();
}

const describeHost = (): string => process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';

/** Socket-level failures: the engine is not there (any more), as opposed to refusing a request. */
const CONNECTION_LOST = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);

/** The socket-level error code of a failed request, if it failed below HTTP. */
export function connectionFailure(err: unknown): string | undefined {
  const e = err as HttpError;
  if (e?.statusCode !== undefined) return undefined;
  if (e?.code && CONNECTION_LOST.has(e.code)) return e.code;
  return /socket hang up/i.test(e?.message ?? '') ? 'ECONNRESET' : undefined;
}

/**
 * Runs `fn`; turns a failure into an EngineError saying what was being done (an EngineLostError
 * when the engine itself went away). HTTP statuses in `ok` mean "nothing to do" and give undefined.
 */
async function door<T>(what: string, fn: () => Promise<T>, ok: readonly number[] = []): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    const status = statusOf(err);
    if (status !== undefined && ok.includes(status)) return undefined;
    const lost = connectionFailure(err);
    if (lost) throw new EngineLostError(describeHost(), what, lost, { cause: err });
    throw new EngineError(`${what}: ${engineMessage(err)}`, undefined, { cause: err });
  }
}

/** Follows a JSON progress stream; rejects on the first `error` event. */
function followProgress(docker: Docker, stream: NodeJS.ReadableStream, onEvent: (e: Record<string, unknown>) => void): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    let failed: Error | undefined;
    docker.modem.followProgress(
      stream,
      (err: Error | null, events: Record<string, unknown>[]) => (err || failed ? reject(err ?? failed) : resolve(events)),
      (event: Record<string, unknown>) => {
        if (typeof event.error === 'string' && !failed) failed = new Error(event.error);
        onEvent(event);
      },
    );
  });
}

export class DockerEngine implements Engine {
  readonly #docker: Docker;

  constructor(docker = new Docker()) {
    this.#docker = docker;
  }

  async ping(): Promise<EngineInfo> {
    try {
      const v = await this.#docker.version();
      return { version: v.Version, apiVersion: v.ApiVersion };
    } catch (err) {
      const code = (err as HttpError).code;
      const unreachable = code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'EACCES' || code === 'ETIMEDOUT';
      throw new EngineError(
        unreachable
          ? `no container engine answers at ${describeHost()} (${code})`
          : `the container engine at ${describeHost()} failed: ${engineMessage(err)}`,
        'start one with `sudo scripts/setup-host.sh` (installs and starts Docker), or set DOCKER_HOST',
        { cause: err },
      );
    }
  }

  async imageId(ref: string): Promise<string | undefined> {
    const info = await door(`inspecting image ${ref}`, () => this.#docker.getImage(ref).inspect(), [404]);
    return info?.Id;
  }

  async tryPull(ref: string, signal: AbortSignal): Promise<PullAttempt> {
    try {
      const stream = await this.#docker.pull(ref, { abortSignal: signal });
      await followProgress(this.#docker, stream, () => {});
      return { pulled: true };
    } catch (err) {
      if (signal.aborted) throw new CancelledError();
      const lost = connectionFailure(err);
      if (lost) throw new EngineLostError(describeHost(), `pulling ${ref}`, lost, { cause: err });
      // The registry's refusal, or why none was reached: the caller tells them apart.
      return { pulled: false, reason: engineMessage(err) };
    }
  }

  async importRootfs(tar: Readable, ref: string): Promise<string> {
    const [repo, tag] = splitRef(ref);
    const events = await door(`importing ${ref}`, async () => {
      const stream = await this.#docker.importImage(tar as unknown as string, { repo, tag });
      return followProgress(this.#docker, stream, () => {});
    });
    const id = await this.imageId(ref);
    if (!id) throw new EngineError(`importing ${ref}: the engine reported ${JSON.stringify(events?.at(-1))} but has no such image`);
    return id;
  }

  async buildImage(build: ImageBuild, signal: AbortSignal): Promise<string> {
    await door(`building image ${build.tag}`, async () => {
      const stream = await this.#docker.buildImage(build.context as unknown as NodeJS.ReadableStream, {
        t: build.tag,
        buildargs: { ...build.buildArgs },
        labels: { ...build.labels },
        networkmode: build.network,
        rm: true,
        forcerm: true,
        abortSignal: signal,
      } as Docker.ImageBuildOptions);
      return followProgress(this.#docker, stream, (e) => {
        if (typeof e.stream === 'string') for (const line of e.stream.split('\n')) if (line.trim()) build.onLine(line);
      });
    });
    const id = await this.imageId(build.tag);
    if (!id) throw new EngineError(`building image ${build.tag}: finished without an image`);
    return id;
  }

  async volumeExists(name: string): Promise<boolean> {
    return (await door(`inspecting volume ${name}`, () => this.#docker.getVolume(name).inspect(), [404])) !== undefined;
  }

  async createVolume(name: string, labels: Readonly<Record<string, string>>): Promise<void> {
    await door(`creating volume ${name}`, () => this.#docker.createVolume({ Name: name, Labels: { ...labels } }));
  }

  async removeVolume(name: string): Promise<void> {
    await door(`removing volume ${name}`, () => this.#docker.getVolume(name).remove(), [404]);
  }

  async createContainer(spec: ContainerSpec): Promise<Container> {
    const c = await door(`creating a container from ${spec.image}`, () => this.#docker.createContainer(containerOptions(spec)));
    return new DockerContainer(this.#docker, c!);
  }

  async runInTerminal(spec: ContainerSpec, terminal: Terminal, signal: AbortSignal): Promise<number> {
    if (signal.aborted) throw new CancelledError();
    const c = (await door(`creating a container from ${spec.image}`, () => this.#docker.createContainer({
      ...containerOptions(spec),
      Tty: true, OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true,
    })))!;
    const container = new DockerContainer(this.#docker, c);
    const { input, output } = terminal;
    const onAbort = () => void container.kill().catch(() => {});
    let restore = () => {};
    try {
      const stream = (await door(container.what('attaching to'), () =>
        c.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true }),
      )) as unknown as NodeJS.ReadWriteStream & { destroy(): void };
      // With a terminal, the output comes as one raw stream (no multiplexing).
      stream.on('error', () => {});
      stream.pipe(output, { end: false });
      const forward = (chunk: Buffer) => void stream.write(chunk);
      const resize = () => void c.resize({ h: output.rows, w: output.columns }).catch(() => {});
      const wasRaw = input.isRaw;
      // Raw: every key (Ctrl-C, Ctrl-D, arrows) goes to the shell in the container, not to this process.
      input.setRawMode?.(true);
      input.on('data', forward);
      input.resume();
      output.on('resize', resize);
      restore = () => {
        output.off('resize', resize);
        input.off('data', forward);
        input.setRawMode?.(wasRaw ?? false);
        input.pause();
        stream.unpipe(output);
        stream.destroy();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      await container.start();
      resize();
      const status = await container.wait();
      // What the shell printed last may still be on its way.
      await Promise.race([finished(stream).catch(() => {}), new Promise((r) => setTimeout(r, 500))]);
      if (signal.aborted) throw new CancelledError();
      return status.exitCode;
    } finally {
      signal.removeEventListener('abort', onAbort);
      restore();
      await container.remove().catch(() => {});
    }
  }

  async findLabelled(labels: Readonly<Record<string, string>>): Promise<LabelledResources> {
    const label = Object.entries(labels).map(([k, v]) => (v === '' ? k : `${k}=${v}`));
    const containers = await door('listing containers', () => this.#docker.listContainers({ all: true, filters: { label } }));
    const volumes = await door('listing volumes', () => this.#docker.listVolumes({ filters: { label } }));
    const images = await door('listing images', () => this.#docker.listImages({ filters: { label } }));
    return {
      containers: (containers ?? []).map((c) => ({ id: c.Id, labels: c.Labels ?? {} })),
      volumes: (volumes?.Volumes ?? []).map((v) => ({ id: v.Name, labels: v.Labels ?? {} })),
      images: (images ?? []).map((i) => ({ id: i.Id, labels: i.Labels ?? {} })),
    };
  }

  async removeImage(id: string): Promise<void> {
    await door(`removing image ${id.slice(7, 19)}`, () => this.#docker.getImage(id).remove(), [404, 409]);
  }

  async removeContainerById(id: string): Promise<void> {
    await door(`removing container ${id.slice(0, 12)}`, () => this.#docker.getContainer(id).remove({ force: true, v: true }), [404, 409]);
  }
}

/** The engine's creation options for `spec`: a container without a terminal. */
function containerOptions(spec: ContainerSpec): Docker.ContainerCreateOptions {
  const options: Docker.ContainerCreateOptions = {
    Image: spec.image,
    Cmd: [...spec.cmd],
    Env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
    Labels: { ...spec.labels },
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    ...(spec.watchdog || spec.interactive ? { AttachStdin: true, OpenStdin: true, StdinOnce: true } : {}),
    HostConfig: {
      Mounts: [
        ...(spec.mounts ?? []).map((m) => ({ Type: 'volume' as const, Source: m.volume, Target: m.target, ReadOnly: m.readOnly })),
        ...(spec.binds ?? []).map((b) => ({ Type: 'bind' as const, Source: b.source, Target: b.target, ReadOnly: b.readOnly })),
      ],
      Tmpfs: { ...spec.tmpfs },
      NetworkMode: spec.network,
      ...(spec.hardened ? { ReadonlyRootfs: true, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'] } : {}),
      ...(spec.memoryBytes ? { Memory: spec.memoryBytes, MemorySwap: spec.memoryBytes } : {}),
      ...(spec.pidsLimit ? { PidsLimit: spec.pidsLimit } : {}),
      ...(spec.watchdog ? { Init: true } : {}),
    },
  };
  if (spec.user) options.User = spec.user;
  if (spec.workingDir) options.WorkingDir = spec.workingDir;
  return options;
}

class DockerContainer implements Container {
  constructor(
    readonly docker: Docker,
    readonly c: Docker.Container,
  ) {}

  get id(): string {
    return this.c.id;
  }

  what(action: string): string {
    return `${action} container ${this.c.id.slice(0, 12)}`;
  }

  async start(): Promise<void> {
    await door(this.what('starting'), () => this.c.start(), [304]);
  }

  async holdStdin(): Promise<() => void> {
    const stream = (await door(this.what('attaching to the stdin of'), () =>
      this.c.attach({ stream: true, stdin: true, stdout: false, stderr: false, hijack: true }),
    )) as unknown as NodeJS.ReadWriteStream & { destroy(): void; on(e: 'error', f: () => void): unknown };
    // Nothing is ever written: the open connection is the signal. When this process dies the
    // engine closes the container's stdin (StdinOnce), and its watchdog stops the build.
    stream.on('error', () => {});
    return () => stream.destroy();
  }

  async attachStdio(sink: Writable): Promise<StdinWriter & { readonly outputEnded: Promise<void> }> {
    const stream = (await door(this.what('attaching to'), () =>
      this.c.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true }),
    )) as unknown as Readable & NodeJS.WritableStream;
    stream.on('error', () => {});
    const through = new PassThrough();
    through.pipe(sink, { end: false });
    this.docker.modem.demuxStream(stream, through, through);
    const outputEnded = finished(stream).catch(() => {}).then(() => {
      through.end();
      return finished(through).catch(() => {});
    });
    return { write: (text) => void stream.write(text), close: () => stream.destroy(), outputEnded };
  }

  async streamOutput(sink: Writable): Promise<void> {
    const stream = (await door(this.what('following the output of'), () =>
      this.c.logs({ follow: true, stdout: true, stderr: true }),
    )) as unknown as Readable;
    const through = new PassThrough();
    through.pipe(sink, { end: false });
    this.docker.modem.demuxStream(stream, through, through);
    try {
      await finished(stream);
    } catch {
      // The engine closed the log stream (container removed, engine gone): wait() reports it.
    } finally {
      stream.destroy();
      through.end();
      await finished(through).catch(() => {});
    }
  }

  async wait(): Promise<ExitStatus> {
    const result = (await door(this.what('waiting for'), () => this.c.wait())) as { StatusCode: number };
    const info = await door(this.what('inspecting'), () => this.c.inspect(), [404]);
    return { exitCode: result.StatusCode, oomKilled: info?.State?.OOMKilled ?? false };
  }

  async cpuNanos(): Promise<number | undefined> {
    const stats = (await door(this.what('reading statistics of'), () =>
      this.c.stats({ stream: false, 'one-shot': true } as { stream: false }), [404, 409])) as
      { cpu_stats?: { cpu_usage?: { total_usage?: number } } } | undefined;
    const ns = stats?.cpu_stats?.cpu_usage?.total_usage;
    return ns ? ns : undefined;
  }

  async getArchive(path: string): Promise<Readable | undefined> {
    const stream = await door(`${this.what('copying')} ${path} out of`, () => this.c.getArchive({ path }), [404]);
    return stream as unknown as Readable | undefined;
  }

  async putArchive(path: string, tar: Readable): Promise<void> {
    await door(`${this.what('copying')} files to ${path} in`, () => this.c.putArchive(tar as unknown as NodeJS.ReadableStream, { path }));
  }

  async kill(): Promise<void> {
    await door(this.what('killing'), () => this.c.kill(), [304, 404, 409]);
  }

  async remove(): Promise<void> {
    await door(this.what('removing'), () => this.c.remove({ force: true, v: true }), [404, 409]);
  }
}

function splitRef(ref: string): [string, string] {
  const at = ref.lastIndexOf(':');
  return at > ref.lastIndexOf('/') ? [ref.slice(0, at), ref.slice(at + 1)] : [ref, 'latest'];
}
