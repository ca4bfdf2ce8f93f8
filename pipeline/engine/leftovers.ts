/**
 * What runs that died left in the engine (containers, work volumes), found by label and
 * removed: by `--clean`, and at the start of every run for runs of this host (a killed CLI's
 * containers stop by themselves; this removes them). Resources of a run still alive on this
 * host are spared; prepared source volumes are a cache and stay.
 */
import { hostname } from 'node:os';
import { describeError } from '../errors.ts';
import { pidAlive } from '../host/pid-alive.ts';
import type { Engine, Labelled } from './engine.ts';
import { LABEL, LABEL_OWNER, LABEL_ROLE } from './run-scope.ts';

function ownerAlive(labels: Readonly<Record<string, string>>): boolean {
  const [host, pid] = (labels[LABEL_OWNER] ?? '').split(':');
  return host === hostname() && !!pid && pidAlive(Number(pid));
}

const ownedHere = (labels: Readonly<Record<string, string>>) => (labels[LABEL_OWNER] ?? '').split(':')[0] === hostname();

export interface CleanResult {
  readonly containers: number;
  readonly volumes: number;
  readonly spared: number;
  /** What could not be removed, and why; the rest was removed all the same. */
  readonly problems: readonly string[];
}

/**
 * `thisHostOnly`: only what runs of this host left (their owner's pid is gone); runs of other
 * hosts sharing the engine cannot be told dead or alive from here, and only `--clean` takes them.
 */
export async function cleanLeftovers(engine: Engine, opts: { readonly thisHostOnly?: boolean } = {}): Promise<CleanResult> {
  const found = await engine.findLabelled({ [LABEL]: '1' });
  const dead = (r: Labelled) => !ownerAlive(r.labels) && (!opts.thisHostOnly || ownedHere(r.labels));
  const problems: string[] = [];
  const removeAll = async (what: string, items: readonly Labelled[], remove: (id: string) => Promise<void>) => {
    let removed = 0;
    for (const item of items) {
      try {
        await remove(item.id);
        removed += 1;
      } catch (err) {
        problems.push(`${what} ${item.id.slice(0, 64)}: ${describeError(err)}`);
      }
    }
    return removed;
  };
  const containers = found.containers.filter(dead);
  const volumes = found.volumes.filter((v) => dead(v) && v.labels[LABEL_ROLE] === 'work');
  const spared = found.containers.length - containers.length + found.volumes.filter((v) => v.labels[LABEL_ROLE] === 'work').length - volumes.length;
  return {
    containers: await removeAll('container', containers, (id) => engine.removeContainerById(id)),
    // After the containers: a volume still mounted cannot go.
    volumes: await removeAll('volume', volumes, (id) => engine.removeVolume(id)),
    spared,
    problems,
  };
}
