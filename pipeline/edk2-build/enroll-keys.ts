/**
 * Enrolls each of a secure-boot variant's key sets into a copy of its empty variable store,
 * after the build, in the build's workspace: one short container per set, running
 * python3-virt-firmware's virt-fw-vars (pinned by the builder's lock) with no network. The
 * certificates of this repository or the matrix are copied in, those the image carries are
 * used in place. virt-fw-vars dates each authenticated variable by its newest certificate, so
 * the same keys give the same bytes.
 */
import { readFile } from 'node:fs/promises';
import { pack } from 'tar-stream';
import type { Readable } from 'node:stream';
import type { BuilderImage, BuildPlan, RecipeEnrolment } from '../domain.ts';
import { runToCompletion } from '../engine/run-to-completion.ts';
import { LABEL_VARIANT, type RunScope } from '../engine/run-scope.ts';
import { BuildError } from '../errors.ts';
import { WORKSPACE } from '../plan/build-command.ts';
import { certificateFiles } from '../plan/recipe.ts';

/** The set's certificate files where the recipe reads them (under CERTS_DIR), as a tar to unpack at the workspace root. */
async function certsTar(set: RecipeEnrolment, files: ReadonlyMap<string, string>): Promise<Readable> {
  const tar = pack();
  const owner = { uid: 1000, gid: 1000 };
  const inWorkspace = (path: string) => path.slice(WORKSPACE.length + 1);
  const dirs = new Set<string>();
  for (const c of set.certificates) {
    if (c.source.kind !== 'file') continue;
    const parts = inWorkspace(c.path).split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(`${parts.slice(0, i).join('/')}/`);
  }
  for (const dir of [...dirs].sort()) tar.entry({ name: dir, type: 'directory', mode: 0o755, ...owner });
  const seen = new Set<string>();
  for (const c of set.certificates) {
    if (c.source.kind !== 'file' || seen.has(c.path)) continue;
    seen.add(c.path);
    tar.entry({ name: inWorkspace(c.path), mode: 0o644, ...owner }, await readFile(files.get(c.source.sha256)!));
  }
  tar.finalize();
  return tar as unknown as Readable;
}

export async function enrollKeySets(scope: RunScope, image: BuilderImage, plan: BuildPlan, workVolume: string, logPath: string, signal: AbortSignal): Promise<void> {
  const { variant } = plan;
  for (const set of plan.recipe.enrolments) {
    const { exitCode, lastLines } = await runToCompletion(scope, {
      image: image.id,
      cmd: [...set.argv],
      user: 'builder',
      workingDir: WORKSPACE,
      mounts: [{ volume: workVolume, target: WORKSPACE, readOnly: false }],
      tmpfs: { '/tmp': 'rw,size=64m' },
      network: 'none',
      hardened: true,
    }, {
      role: 'build', labels: { [LABEL_VARIANT]: variant.id }, signal,
      put: async (c) => c.putArchive(WORKSPACE, await certsTar(set, certificateFiles(variant))),
      log: { path: logPath, append: true },
    });
    if (exitCode !== 0) {
      throw new BuildError(variant.id, 'exit-status', `enrolling the ${set.keySet} keys failed (virt-fw-vars exited ${exitCode}): ${lastLines.slice(-2).join(' | ')}`, exitCode, logPath, [...lastLines]);
    }
  }
}
