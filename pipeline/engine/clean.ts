/**
 * `--clean`: removes what runs that died left in the engine (containers, work volumes),
 * found by label. Resources of a run that is still alive on this host are spared; prepared
 * source volumes are a cache and stay.
 */
import { hostname } from 'node:os';
import type { Engine, Labelled } from './engine.ts';
import { LABEL, LABEL_OWNER, LABEL_ROLE } from './run-scope.ts';

function ownerAlive(labels: Readonly<Record<string, string>>): boolean {
  const [host, pid] = (labels[LABEL_OWNER] ?? '').split(':');
  if (host !== hostname() || !pid) return false;
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface CleanResult {
  readonly containers: number;
  readonly volumes: number;
  readonly spared: number;
}

export async function cleanLeftovers(engine: Engine): Promise<CleanResult> {
  const found = await engine.findLabelled({ [LABEL]: '1' });
  const dead = (r: Labelled) => !ownerAlive(r.labels);
  const containers = found.containers.filter(dead);
  for (const c of containers) await engine.removeContainerById(c.id);
  const volumes = found.volumes.filter((v) => dead(v) && v.labels[LABEL_ROLE] === 'work');
  for (const v of volumes) await engine.removeVolume(v.id);
  const spared = found.containers.length - containers.length + found.volumes.filter((v) => v.labels[LABEL_ROLE] === 'work').length - volumes.length;
  return { containers: containers.length, volumes: volumes.length, spared };
}
