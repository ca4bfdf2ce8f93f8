/**
 * `--keep-failed`: a failed build's workspace, kept for `npm run matrix -- --shell ID`. Engine
 * labels cannot change once a volume exists, so the run's temporary work volume (which the run
 * and the leftover sweep remove) is copied into a volume of its own, labelled `kept` with all
 * the shell needs: the variant, run, content key, builder image, source and compiler cache
 * volumes, and the exact build command. The sweep at run start leaves `kept` volumes alone;
 * `--clean` removes them; a later kept workspace of the same variant replaces the earlier one.
 */
import type { KeptWorkspace } from '../domain.ts';
import type { Engine, Labelled } from '../engine/engine.ts';
import { LABEL, LABEL_KEY, LABEL_ROLE, LABEL_RUN, LABEL_VARIANT, type RunScope } from '../engine/run-scope.ts';
import { describeError } from '../errors.ts';
import { WORKSPACE } from '../plan/build-command.ts';

export const LABEL_KEPT = 'edk2-matrix.kept';
const LABEL_IMAGE = 'edk2-matrix.image';
const LABEL_IMAGE_TAG = 'edk2-matrix.image-tag';
const LABEL_SOURCE = 'edk2-matrix.source';
const LABEL_CCACHE = 'edk2-matrix.ccache';
/** JSON: `{ env, args }` of edk2's `build`. */
const LABEL_COMMAND = 'edk2-matrix.command';

/** Where the copy reads the failed build's workspace from. */
const FROM = '/kept-from';

/** How to enter a kept workspace (in failure lines and messages). */
export const shellCommand = (variantId: string): string => `npm run matrix -- --shell ${variantId}`;

function labelsOf(kept: Omit<KeptWorkspace, 'volume' | 'runId'>): Record<string, string> {
  return {
    [LABEL_KEPT]: '1',
    [LABEL_VARIANT]: kept.variantId,
    [LABEL_KEY]: kept.key,
    [LABEL_IMAGE]: kept.image.id,
    [LABEL_IMAGE_TAG]: kept.image.tag,
    [LABEL_SOURCE]: kept.sourceVolume,
    [LABEL_CCACHE]: kept.ccacheVolume ?? '',
    [LABEL_COMMAND]: JSON.stringify({ env: kept.env, args: kept.args }),
  };
}

/** A kept workspace from its volume's labels; undefined when they are not all there. */
export function keptFromLabels(volume: Labelled): KeptWorkspace | undefined {
  const l = volume.labels;
  const need = [LABEL_VARIANT, LABEL_RUN, LABEL_KEY, LABEL_IMAGE, LABEL_SOURCE, LABEL_COMMAND];
  if (l[LABEL_KEPT] !== '1' || need.some((k) => !l[k])) return undefined;
  let command: { env?: unknown; args?: unknown };
  try {
    command = JSON.parse(l[LABEL_COMMAND]!) as typeof command;
  } catch {
    return undefined;
  }
  const env = command.env;
  const args = command.args;
  if (typeof env !== 'object' || env === null || !Array.isArray(args)) return undefined;
  return {
    volume: volume.id,
    variantId: l[LABEL_VARIANT]!,
    runId: l[LABEL_RUN]!,
    key: l[LABEL_KEY]!,
    image: { id: l[LABEL_IMAGE]!, tag: l[LABEL_IMAGE_TAG] ?? '' },
    sourceVolume: l[LABEL_SOURCE]!,
    ccacheVolume: l[LABEL_CCACHE] || undefined,
    env: Object.fromEntries(Object.entries(env as Record<string, unknown>).map(([k, v]) => [k, String(v)])),
    args: args.map(String),
  };
}

/** Every kept workspace of `variantId` (every one when undefined), newest run first. */
export async function findKeptWorkspaces(engine: Engine, variantId?: string): Promise<Labelled[]> {
  const found = await engine.findLabelled({ [LABEL]: '1', [LABEL_KEPT]: '1', ...(variantId ? { [LABEL_VARIANT]: variantId } : {}) });
  return found.volumes
    .filter((v) => v.labels[LABEL_ROLE] === 'kept')
    .sort((a, b) => (b.labels[LABEL_RUN] ?? '').localeCompare(a.labels[LABEL_RUN] ?? ''));
}

/**
 * Copies the failed build's `workVolume` into a new kept volume (as the builder user, so the
 * files keep their owner and times, and edk2 can carry on incrementally), then removes the
 * variant's earlier kept workspaces. Returns the kept volume's name and what went wrong
 * removing the earlier ones. A copy that fails or is interrupted leaves no kept volume.
 */
export async function keepWorkspace(
  scope: RunScope,
  workVolume: string,
  kept: Omit<KeptWorkspace, 'volume' | 'runId'>,
  signal: AbortSignal,
): Promise<{ volume: string; problems: string[] }> {
  const volume = `edk2-matrix-kept-${kept.variantId}-${scope.runId}`;
  await scope.engine.createVolume(volume, scope.labels('kept', labelsOf(kept)));
  try {
    const { exitCode, output } = await scope.capture({
      image: kept.image.id,
      cmd: ['cp', '-a', `${FROM}/.`, `${WORKSPACE}/`],
      user: 'builder',
      // Mounted at the workspace, the new volume takes the image's owner for it, as the work volume did.
      mounts: [{ volume: workVolume, target: FROM, readOnly: true }, { volume, target: WORKSPACE, readOnly: false }],
      network: 'none',
      hardened: true,
    }, 'build', signal);
    if (exitCode !== 0) throw new Error(`copying it failed (exit ${exitCode}): ${output.trim().split('\n').slice(-2).join(' | ')}`);
  } catch (err) {
    await scope.engine.removeVolume(volume).catch(() => {});
    throw err;
  }
  const problems: string[] = [];
  for (const earlier of await findKeptWorkspaces(scope.engine, kept.variantId)) {
    if (earlier.id === volume) continue;
    await scope.engine.removeVolume(earlier.id).catch((err: unknown) => problems.push(`${earlier.id}: ${describeError(err)}`));
  }
  return { volume, problems };
}

/** `--clean`: removes every kept workspace (one a shell still uses stays, with the reason). */
export async function removeKeptWorkspaces(engine: Engine): Promise<{ removed: number; problems: string[] }> {
  let removed = 0;
  const problems: string[] = [];
  for (const v of await findKeptWorkspaces(engine)) {
    try {
      await engine.removeVolume(v.id);
      removed += 1;
    } catch (err) {
      problems.push(`kept workspace ${v.id}: ${describeError(err)}`);
    }
  }
  return { removed, problems };
}
