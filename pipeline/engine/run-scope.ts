/**
 * Everything one run creates in the engine, labelled and tracked, so that it is removed when
 * the run ends, fails or is interrupted, and so that `--clean` finds what a crashed run left.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Container, ContainerSpec, Engine } from './engine.ts';
import { runToCompletion, type Role } from './run-to-completion.ts';

export const LABEL = 'edk2-matrix';
export const LABEL_RUN = 'edk2-matrix.run';
export const LABEL_OWNER = 'edk2-matrix.owner';
export const LABEL_ROLE = 'edk2-matrix.role';
export const LABEL_VARIANT = 'edk2-matrix.variant';
export const LABEL_KEY = 'edk2-matrix.key';

/**
 * Roles: `build`, `prepare`, `probe`, `shell` and `boot` (QEMU) containers and `work` volumes
 * live for one run; `source` and `ccache` volumes and `builder` and `qemu` images are caches; a `kept` volume is a failed
 * build's workspace kept for `--shell` (`--keep-failed`), which only `--clean` removes.
 */
export type { Role };

export function newRunId(): string {
  return `${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}-${randomBytes(3).toString('hex')}`;
}

export class RunScope {
  readonly #containers = new Map<string, Container>();
  readonly #volumes = new Set<string>();

  constructor(
    readonly engine: Engine,
    readonly runId: string,
  ) {}

  /** Labels every resource of this run carries; the owner lets `--clean` spare live runs. */
  labels(role: Role, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
    return {
      [LABEL]: '1',
      [LABEL_RUN]: this.runId,
      [LABEL_OWNER]: `${hostname()}:${process.pid}`,
      [LABEL_ROLE]: role,
      ...extra,
    };
  }

  async createContainer(spec: Omit<ContainerSpec, 'labels'>, role: Role, extra: Record<string, string> = {}): Promise<Container> {
    const container = await this.engine.createContainer({ ...spec, labels: this.labels(role, extra) });
    this.#containers.set(container.id, container);
    return container;
  }

  async removeContainer(container: Container): Promise<void> {
    await container.remove();
    this.#containers.delete(container.id);
  }

  /** Runs a short command to completion and returns its exit code and output (stdout + stderr). */
  async capture(spec: Omit<ContainerSpec, 'labels'>, role: Role, signal?: AbortSignal): Promise<{ exitCode: number; output: string }> {
    const { exitCode, output } = await runToCompletion(this, spec, { role, signal });
    return { exitCode, output };
  }

  /** A volume that lives only as long as this run. */
  async createTemporaryVolume(name: string, extra: Record<string, string> = {}): Promise<void> {
    await this.engine.createVolume(name, this.labels('work', extra));
    this.#volumes.add(name);
  }

  async removeVolume(name: string): Promise<void> {
    await this.engine.removeVolume(name);
    this.#volumes.delete(name);
  }

  /** Kills and removes every container and temporary volume still tracked. Never throws. */
  async cleanup(): Promise<string[]> {
    const problems: string[] = [];
    await Promise.all(
      [...this.#containers.values()].map(async (c) => {
        try {
          await c.kill();
          await c.remove();
          this.#containers.delete(c.id);
        } catch (err) {
          problems.push(`container ${c.id.slice(0, 12)}: ${(err as Error).message}`);
        }
      }),
    );
    for (const v of [...this.#volumes]) {
      try {
        await this.removeVolume(v);
      } catch (err) {
        problems.push(`volume ${v}: ${(err as Error).message}`);
      }
    }
    return problems;
  }
}
