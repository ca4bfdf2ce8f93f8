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
import type { BuilderImage, BuildPlan, EnrolledCert, KeySet } from '../domain.ts';
import { runToCompletion } from '../engine/run-to-completion.ts';
import { LABEL_VARIANT, type RunScope } from '../engine/run-scope.ts';
import { BuildError } from '../errors.ts';
import { enrolledVarsName } from '../layout.ts';
import { fvDir, WORKSPACE } from '../plan/build-command.ts';

const CERTS_DIR = `${WORKSPACE}/.edk2-matrix/keys`;

/** Where a certificate is inside the container: copied in (by its digest), or the image's own. */
function certPath(set: KeySet, cert: EnrolledCert): string {
  return cert.source.kind === 'image' ? cert.source.path : `${CERTS_DIR}/${set.name}/${cert.source.sha256}.pem`;
}

/** virt-fw-vars' arguments for one set: every certificate with its owner, Secure Boot on. */
export function enrollArgv(plan: BuildPlan, set: KeySet): string[] {
  const fv = fvDir(plan.variant);
  const vars = plan.variant.platform.vars.built;
  const add = (flag: string, certs: readonly EnrolledCert[]) => certs.flatMap((c) => [flag, c.owner, certPath(set, c)]);
  return [
    'virt-fw-vars', '--input', `${fv}/${vars}`, '--output', `${fv}/${enrolledVarsName(vars, set.name)}`,
    '--set-pk', set.pk.owner, certPath(set, set.pk), ...add('--add-kek', set.kek), ...add('--add-db', set.db), '--secure-boot',
  ];
}

/** The set's files under `.edk2-matrix/keys/<set>/`, as a tar to unpack at the workspace root. */
async function certsTar(set: KeySet): Promise<Readable> {
  const tar = pack();
  const owner = { uid: 1000, gid: 1000 };
  for (const dir of ['.edk2-matrix/', '.edk2-matrix/keys/', `.edk2-matrix/keys/${set.name}/`]) tar.entry({ name: dir, type: 'directory', mode: 0o755, ...owner });
  const seen = new Set<string>();
  for (const c of [set.pk, ...set.kek, ...set.db]) {
    if (c.source.kind !== 'file' || seen.has(c.source.sha256)) continue;
    seen.add(c.source.sha256);
    const data = await readFile(c.source.path);
    tar.entry({ name: `.edk2-matrix/keys/${set.name}/${c.source.sha256}.pem`, mode: 0o644, ...owner }, data);
  }
  tar.finalize();
  return tar as unknown as Readable;
}

export async function enrollKeySets(scope: RunScope, image: BuilderImage, plan: BuildPlan, workVolume: string, logPath: string, signal: AbortSignal): Promise<void> {
  const { variant } = plan;
  for (const set of variant.keySets) {
    const { exitCode, lastLines } = await runToCompletion(scope, {
      image: image.id,
      cmd: enrollArgv(plan, set),
      user: 'builder',
      workingDir: WORKSPACE,
      mounts: [{ volume: workVolume, target: WORKSPACE, readOnly: false }],
      tmpfs: { '/tmp': 'rw,size=64m' },
      network: 'none',
      hardened: true,
    }, {
      role: 'build', labels: { [LABEL_VARIANT]: variant.id }, signal,
      put: async (c) => c.putArchive(WORKSPACE, await certsTar(set)),
      log: { path: logPath, append: true },
    });
    if (exitCode !== 0) {
      throw new BuildError(variant.id, 'exit-status', `enrolling the ${set.name} keys failed (virt-fw-vars exited ${exitCode}): ${lastLines.slice(-2).join(' | ')}`, exitCode, logPath, [...lastLines]);
    }
  }
}
