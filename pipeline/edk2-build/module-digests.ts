/**
 * sha256 of every edk2 module binary (.efi) a finished build left in its work volume, read by
 * a short container: what a reproducibility check names when two builds differ.
 */
import type { BuildPlan, BuilderImage } from '../domain.ts';
import type { RunScope } from '../engine/run-scope.ts';
import { WORKSPACE } from '../plan/build-command.ts';

export async function moduleDigests(scope: RunScope, image: BuilderImage, plan: BuildPlan, workVolume: string): Promise<Map<string, string>> {
  const root = `${WORKSPACE}/${plan.recipe.build.dir}`;
  const { exitCode, output } = await scope.capture({
    image: image.id,
    cmd: ['find', root, '-name', '*.efi', '-path', '*/OUTPUT/*', '-exec', 'sha256sum', '{}', '+'],
    mounts: [{ volume: workVolume, target: WORKSPACE, readOnly: true }],
    network: 'none',
    hardened: true,
  }, 'probe');
  const digests = new Map<string, string>();
  if (exitCode !== 0) return digests;
  for (const line of output.split('\n')) {
    const m = /^([0-9a-f]{64})\s+(.+)$/.exec(line.trim());
    if (m) digests.set(m[2]!.slice(root.length + 1), m[1]!);
  }
  return digests;
}
