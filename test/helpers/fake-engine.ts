/**
 * An `Engine` in memory, for the orchestration's tests: images, volumes and containers that
 * do what a test's `behave` says (exit code, output, how long, the files a build leaves) in
 * milliseconds. It keeps what a real engine keeps (labels, what was removed), so a test can ask
 * what a run left behind. The real-engine drills (test/integration) prove the same with Docker.
 */
import type { Readable, Writable } from 'node:stream';
import { pack } from 'tar-stream';
import type { Container, ContainerSpec, Engine, EngineInfo, ExitStatus, ImageBuild, LabelledResources, PullAttempt, Terminal } from '../../pipeline/engine/engine.ts';
import { EngineLostError } from '../../pipeline/errors.ts';

export interface Behaviour {
  readonly exitCode?: number;
  readonly output?: readonly string[];
  /** Milliseconds the container runs (0: it ends at once). */
  readonly ms?: number;
  /** Files a `getArchive` of that path returns (a finished build's firmware). */
  readonly files?: (path: string) => Buffer | undefined;
}

export class FakeContainer implements Container {
  readonly id: string;
  running = false;
  removed = false;
  killed = false;
  #done: Promise<ExitStatus> | undefined;
  #finish: ((s: ExitStatus) => void) | undefined;

  constructor(readonly engine: FakeEngine, readonly spec: ContainerSpec, readonly behaviour: Behaviour) {
    this.id = `c${engine.containers.size + 1}`.padEnd(12, '0');
  }

  async start(): Promise<void> {
    this.engine.check('starting a container');
    this.running = true;
    this.#done = new Promise((resolve) => {
      this.#finish = resolve;
      setTimeout(() => this.#stop({ exitCode: this.behaviour.exitCode ?? 0, oomKilled: false }), this.behaviour.ms ?? 0);
    });
  }

  #stop(status: ExitStatus): void {
    if (!this.running) return;
    this.running = false;
    this.#finish?.(status);
  }

  async holdStdin(): Promise<() => void> {
    return () => {};
  }

  /** What was written to the container's stdin. */
  stdin = '';

  async attachStdio(sink: Writable): Promise<{ write(text: string): void; close(): void; outputEnded: Promise<void> }> {
    return { write: (text) => void (this.stdin += text), close: () => {}, outputEnded: this.streamOutput(sink) };
  }

  async streamOutput(sink: Writable): Promise<void> {
    for (const line of this.behaviour.output ?? []) sink.write(`${line}\n`);
    await this.#done;
  }

  async wait(): Promise<ExitStatus> {
    this.engine.check('waiting for a container');
    return this.#done ?? { exitCode: 0, oomKilled: false };
  }

  async cpuNanos(): Promise<number | undefined> {
    return this.running ? 1e9 : undefined;
  }

  async getArchive(path: string): Promise<Readable | undefined> {
    this.engine.check('copying out of a container');
    const data = this.behaviour.files?.(path);
    if (!data) return undefined;
    const tar = pack();
    tar.entry({ name: path.split('/').pop()!, size: data.length }, data);
    tar.finalize();
    return tar as unknown as Readable;
  }

  async putArchive(_path: string, tar: Readable): Promise<void> {
    tar.resume();
    await new Promise((r) => tar.on('end', r).on('close', r));
  }

  async kill(): Promise<void> {
    this.killed = true;
    this.#stop({ exitCode: 137, oomKilled: false });
  }

  async remove(): Promise<void> {
    this.#stop({ exitCode: 137, oomKilled: false });
    this.removed = true;
  }
}

export class FakeEngine implements Engine {
  readonly images = new Map<string, string>();
  readonly volumes = new Map<string, Record<string, string>>();
  readonly containers = new Map<string, FakeContainer>();
  /** The key each source volume was prepared with (what its ready marker says). */
  readonly readyKeys = new Map<string, string>();
  lost = false;

  constructor(readonly behave: (spec: ContainerSpec) => Behaviour, images: readonly string[] = []) {
    for (const ref of images) this.images.set(ref, `sha256:${ref.length.toString(16).padStart(64, '0')}`);
  }

  /** Every request fails as a real engine that went away does. */
  check(doing: string): void {
    if (this.lost) throw new EngineLostError('unix:///fake.sock', doing, 'ECONNREFUSED');
  }

  /** Containers and volumes of runs not cleaned up. */
  leftovers(): { containers: number; volumes: number } {
    const work = [...this.volumes.values()].filter((l) => l['edk2-matrix.role'] === 'work');
    return { containers: [...this.containers.values()].filter((c) => !c.removed).length, volumes: work.length };
  }

  async ping(): Promise<EngineInfo> {
    this.check('ping');
    return { version: 'fake', apiVersion: '1.41' };
  }

  async imageId(ref: string): Promise<string | undefined> {
    this.check(`inspecting ${ref}`);
    if ([...this.images.values()].includes(ref)) return ref;
    return this.images.get(ref) ?? (ref.startsWith('edk2-matrix/builder:') ? this.#add(ref) : undefined);
  }

  #add(ref: string): string {
    const id = `sha256:${Buffer.from(ref).toString('hex').padEnd(64, '0').slice(0, 64)}`;
    this.images.set(ref, id);
    return id;
  }

  /** What a pull gets: by default no registry, as on an offline host. */
  pullAttempt: PullAttempt = { pulled: false, reason: 'Get "https://registry.invalid/v2/": dial tcp: lookup registry.invalid: no such host' };

  async tryPull(): Promise<PullAttempt> {
    return this.pullAttempt;
  }

  async importRootfs(_tar: Readable, ref: string): Promise<string> {
    return this.#add(ref);
  }

  async buildImage(build: ImageBuild): Promise<string> {
    return this.#add(build.tag);
  }

  async volumeExists(name: string): Promise<boolean> {
    this.check(`inspecting volume ${name}`);
    return this.volumes.has(name);
  }

  async createVolume(name: string, labels: Readonly<Record<string, string>>): Promise<void> {
    this.check(`creating volume ${name}`);
    this.volumes.set(name, { ...labels });
  }

  async removeVolume(name: string): Promise<void> {
    this.check(`removing volume ${name}`);
    this.volumes.delete(name);
  }

  async createContainer(spec: ContainerSpec): Promise<Container> {
    this.check('creating a container');
    const c = new FakeContainer(this, spec, this.behave(spec));
    this.containers.set(c.id, c);
    // What the prepare step writes, the ready-marker probe reads back.
    if (spec.cmd[0] === 'edk2-prepare-source') this.readyKeys.set(spec.mounts![0]!.volume, spec.cmd[2]!);
    return c;
  }

  /** Containers run with a terminal (`runInTerminal`), as they were asked for; each is gone once it ended. */
  readonly terminalRuns: ContainerSpec[] = [];

  async runInTerminal(spec: ContainerSpec, terminal: Terminal): Promise<number> {
    this.check('creating a container');
    this.terminalRuns.push(spec);
    const behaviour = this.behave(spec);
    for (const line of behaviour.output ?? []) terminal.output.write(`${line}\n`);
    return behaviour.exitCode ?? 0;
  }

  async findLabelled(labels: Readonly<Record<string, string>>): Promise<LabelledResources> {
    const match = (l: Readonly<Record<string, string>>) => Object.entries(labels).every(([k, v]) => l[k] === v);
    return {
      containers: [...this.containers.values()].filter((c) => !c.removed && match(c.spec.labels)).map((c) => ({ id: c.id, labels: c.spec.labels })),
      volumes: [...this.volumes].filter(([, l]) => match(l)).map(([id, l]) => ({ id, labels: l })),
      images: [],
    };
  }

  async removeContainerById(id: string): Promise<void> {
    await this.containers.get(id)?.remove();
  }

  async removeImage(id: string): Promise<void> {
    for (const [ref, i] of this.images) if (i === id) this.images.delete(ref);
  }
}

