/**
 * A variant's recipe: everything that decides its published files, computed once here from
 * the variant (config), the platform facts (platforms.ts) and the source's date. The build
 * runs `recipe.build`, export copies `recipe.outputs` and writes `recipe.rendered`, the
 * manifest and verification take `recipe.qemu`; none of them recomputes a part of it, and the
 * content key is its hash (cache-key.ts), so nothing that shapes the output can be left out.
 */
import type { EnrolledCert, KeySet, Recipe, RecipeCert, RecipeEnrolment, RecipeOutput, RenderedFile, Variant } from '../domain.ts';
import { enrolledLaunchScript, enrolledVarsName, LAUNCH_SCRIPT, SHELL_FILE } from '../layout.ts';
import { buildArgs, buildEnv, fvDir, platformBuildDir, WORKSPACE } from './build-command.ts';
import { descriptorFileName, enrolledDescriptor, enrolledDescriptorFileName, firmwareDescriptor, installDir } from './firmware-descriptor.ts';
import { launchScript, type LaunchFacts } from './launch-script.ts';
import { descriptorJson } from './qemu-firmware-schema.ts';
import { qemuLaunch } from './qemu-launch.ts';

export interface RecipeInputs {
  /** SOURCE_DATE_EPOCH of the builds: the source's own date. */
  readonly sourceDateEpoch: number;
  /** matrix.yaml's install.prefix (`{id}`, `{arch}` placeholders). */
  readonly installPrefix: string;
}

/** Where enrolment finds the certificates copied into the workspace (by digest). */
export const CERTS_DIR = `${WORKSPACE}/.edk2-matrix/keys`;

/** Where a certificate is inside the container: copied in (by its digest), or the image's own. */
function certPath(set: KeySet, cert: EnrolledCert): string {
  return cert.source.kind === 'image' ? cert.source.path : `${CERTS_DIR}/${set.name}/${cert.source.sha256}.pem`;
}

/** The repository's or the matrix's certificate files of a variant's key sets, by sha256: where a recipe's `file` certificates are on this machine. */
export function certificateFiles(v: Variant): ReadonlyMap<string, string> {
  return new Map(v.keySets.flatMap((set) => [set.pk, ...set.kek, ...set.db]).flatMap((c) => (c.source.kind === 'file' ? [[c.source.sha256, c.source.path] as const] : [])));
}

function recipeCert(set: KeySet, variable: RecipeCert['variable'], c: EnrolledCert): RecipeCert {
  const source = c.source.kind === 'file' ? { kind: 'file' as const, sha256: c.source.sha256 } : { kind: 'image' as const, path: c.source.path };
  return { variable, owner: c.owner, source, path: certPath(set, c) };
}

function enrolment(v: Variant, set: KeySet): RecipeEnrolment {
  const fv = fvDir(v);
  const vars = v.platform.vars.built;
  const certs: RecipeCert[] = [
    recipeCert(set, 'PK', set.pk),
    ...set.kek.map((c) => recipeCert(set, 'KEK', c)),
    ...set.db.map((c) => recipeCert(set, 'db', c)),
  ];
  const add = (variable: RecipeCert['variable'], flag: string) => certs.filter((c) => c.variable === variable).flatMap((c) => [flag, c.owner, c.path]);
  return {
    keySet: set.name,
    argv: [
      'virt-fw-vars', '--input', `${fv}/${vars}`, '--output', `${fv}/${enrolledVarsName(vars, set.name)}`,
      ...add('PK', '--set-pk'), ...add('KEK', '--add-kek'), ...add('db', '--add-db'), '--secure-boot',
    ],
    certificates: certs,
    varsTemplate: enrolledVarsName(v.platform.vars.published, set.name),
    descriptor: enrolledDescriptorFileName(v, set.name),
    launch: enrolledLaunchScript(set.name),
  };
}

function outputs(v: Variant, enrolments: readonly RecipeEnrolment[]): RecipeOutput[] {
  const fv = fvDir(v);
  const { code, vars } = v.platform;
  // The UEFI Shell of the last architecture built (DXE's), for verifying firmware that does not boot it itself.
  const shellArch = v.platform.buildArches.at(-1)!;
  return [
    { from: `${fv}/${code.built}`, name: code.published, padTo: code.padTo, optional: false },
    { from: `${fv}/${vars.built}`, name: vars.published, padTo: vars.padTo, optional: false },
    ...enrolments.map((e) => ({ from: `${fv}/${enrolledVarsName(vars.built, e.keySet)}`, name: e.varsTemplate, padTo: vars.padTo, optional: false })),
    { from: `${fv.replace(/\/FV$/, '')}/${shellArch}/${SHELL_FILE}`, name: SHELL_FILE, padTo: undefined, optional: true },
  ];
}

function rendered(v: Variant, prefix: string, facts: LaunchFacts, enrolments: readonly RecipeEnrolment[]): RenderedFile[] {
  return [
    { name: descriptorFileName(v), text: descriptorJson(firmwareDescriptor(v, prefix)) },
    { name: LAUNCH_SCRIPT, text: launchScript(facts) },
    ...enrolments.flatMap((e) => [
      { name: e.descriptor, text: descriptorJson(enrolledDescriptor(v, prefix, e.keySet)) },
      { name: e.launch, text: launchScript(facts, { name: e.keySet, varsTemplate: e.varsTemplate }) },
    ]),
  ];
}

export function makeRecipe(v: Variant, i: RecipeInputs): Recipe {
  const qemu = qemuLaunch(v, v.platform.code.published, v.platform.vars.published);
  const enrolments = v.keySets.map((set) => enrolment(v, set));
  return {
    id: v.id,
    arch: v.arch,
    target: v.target,
    toolchain: v.toolchain,
    features: v.features,
    dsc: v.platform.dsc,
    defines: v.defines,
    pcds: v.pcds,
    build: { args: buildArgs(v), env: buildEnv(v, i.sourceDateEpoch), dir: platformBuildDir(v) },
    outputs: outputs(v, enrolments),
    enrolments,
    qemu,
    install: { prefix: i.installPrefix, dir: installDir(i.installPrefix, v) },
    descriptor: descriptorFileName(v),
    rendered: rendered(v, i.installPrefix, { id: v.id, arch: v.arch, target: v.target, features: v.features, qemu }, enrolments),
  };
}
