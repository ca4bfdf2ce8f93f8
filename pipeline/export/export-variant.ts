/**
 * From a finished build container to a variant's files: firmware copied out, ARM images
 * padded, the build's Shell, the QEMU firmware descriptor, launch.sh, build.log and a manifest
 * listing every file's digest. Publishing them is a separate, atomic step.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuildPlan, BuilderImage, FirmwareOutput, PreparedSource, Variant } from '../domain.ts';
import type { Container } from '../engine/engine.ts';
import { ExportError } from '../errors.ts';
import { fvDir } from '../plan/build-command.ts';
import { BUILD_LOG, FAILED_DIR, FAILURE_REASON, fileMode, LAUNCH_SCRIPT, MANIFEST_FILE, SECOND_BUILD_LOG, SHELL_FILE } from '../layout.ts';
import { readContainerFile } from './copy-out.ts';
import { descriptorFileName, firmwareDescriptor } from './firmware-descriptor.ts';
import { descriptorJson } from './qemu-firmware-schema.ts';
import { launchScript } from './launch-script.ts';
import { describeFile, launchFacts, makeManifest, type NamedData } from './manifest.ts';
import { padImage } from './pad.ts';
import { collectEnrolled } from './enrolled-stores.ts';
import { publishDirectory, type PublishFile } from '../host/atomic-publish.ts';
import { isFailureRecord, isOursOrAbsent } from './ownership.ts';
import { recordFingerprint } from './fingerprint.ts';


export interface ExportJob {
  readonly plan: BuildPlan;
  readonly container: Container;
  readonly seconds: number;
  readonly source: PreparedSource;
  readonly image: BuilderImage;
  readonly logPath: string;
}

async function firmware(container: Container, variant: Variant, out: FirmwareOutput): Promise<NamedData> {
  const path = `${fvDir(variant)}/${out.built}`;
  let data: Buffer | undefined;
  try {
    data = await readContainerFile(container, path);
  } catch (err) {
    throw new ExportError(variant.id, `cannot copy ${path} out of the build container: ${(err as Error).message}`, undefined, { cause: err });
  }
  if (!data) {
    throw new ExportError(variant.id, `the build finished without ${path}`, 'check the platform table (pipeline/platforms.ts) for this DSC');
  }
  if (out.padTo !== undefined) {
    if (data.length > out.padTo) {
      throw new ExportError(variant.id, `${out.built} is ${data.length} bytes, larger than the ${out.padTo}-byte pflash`);
    }
    data = padImage(data, out.padTo);
  }
  return { name: out.published, data };
}

/** The build's own UEFI Shell, for verifying firmware that does not boot it by itself. */
async function shell(container: Container, variant: Variant): Promise<NamedData[]> {
  const arch = variant.platform.buildArches.at(-1)!;
  const path = `${fvDir(variant).replace(/\/FV$/, '')}/${arch}/${SHELL_FILE}`;
  const data = await readContainerFile(container, path);
  return data ? [{ name: SHELL_FILE, data }] : [];
}

/** Every file of the variant directory, manifest last; `reproducible` goes into the manifest. */
export async function collectVariantFiles(job: ExportJob, reproducible?: boolean): Promise<PublishFile[]> {
  const { variant } = job.plan;
  const code = await firmware(job.container, variant, variant.platform.code);
  const vars = await firmware(job.container, variant, variant.platform.vars);
  const enrolled = await collectEnrolled(job.container, variant, job.plan.installPrefix,
    (built, published) => firmware(job.container, variant, { ...variant.platform.vars, built, published }));
  const shellFiles = await shell(job.container, variant);
  const descriptor = { name: descriptorFileName(variant), data: Buffer.from(descriptorJson(firmwareDescriptor(variant, job.plan.installPrefix))) };
  const log = { name: BUILD_LOG, data: await readFile(job.logPath) };
  const inputs = {
    plan: job.plan, seconds: job.seconds, source: job.source, image: job.image, reproducible, enrolled: enrolled.stores,
  };
  const facts = launchFacts(variant);
  const scripts = [
    { name: LAUNCH_SCRIPT, data: Buffer.from(launchScript(facts)) },
    ...enrolled.stores.map((s) => ({ name: s.launch, data: Buffer.from(launchScript(facts, { name: s.keySet, varsTemplate: s.varsTemplate })) })),
  ];
  const files = [code, vars, ...enrolled.files, ...shellFiles, descriptor, log, ...scripts].sort((a, b) => a.name.localeCompare(b.name));
  const manifest = makeManifest({ ...inputs, files: files.map(describeFile) });
  return [
    ...files.map((f) => ({ name: f.name, data: f.data, mode: fileMode(f.name) })),
    { name: MANIFEST_FILE, data: `${JSON.stringify(manifest, null, 2)}\n` },
  ];
}

/** Publishes the files as `<outDir>/<id>/` at once, and forgets an earlier failure of it. */
export async function publishVariant(outDir: string, id: string, files: readonly PublishFile[]): Promise<string> {
  if (!(await isOursOrAbsent(join(outDir, id)))) {
    throw new ExportError(id, `${join(outDir, id)} exists and was not written by edk2-matrix`, 'move it away; a run replaces only variant directories it published');
  }
  try {
    const dir = await publishDirectory(outDir, id, files);
    await rm(join(outDir, FAILED_DIR, id), { recursive: true, force: true });
    // What a rerun compares instead of hashing again (see fingerprint.ts).
    const manifest = files.find((f) => f.name === MANIFEST_FILE);
    if (manifest) {
      const { key } = JSON.parse(manifest.data.toString()) as { key: string };
      await recordFingerprint(dir, key, files.map((f) => f.name)).catch(() => {});
    }
    return dir;
  } catch (err) {
    throw new ExportError(id, `cannot publish ${id}/: ${(err as Error).message}`,
      'check free space and permissions of the output directory; the previous version was left in place', { cause: err });
  }
}

/** Keeps a failed variant's log and reason under failed/<id>/, replacing an older failure. */
export async function recordFailure(outDir: string, id: string, reason: string, logPath: string | undefined, secondLogPath?: string): Promise<string> {
  // A build that failed before it wrote anything has no log file: an empty one is kept.
  const read = (path: string | undefined) => (path ? readFile(path).catch(() => Buffer.from('')) : Buffer.from(''));
  if (!(await isFailureRecord(join(outDir, FAILED_DIR, id)))) {
    throw new ExportError(id, `${join(outDir, FAILED_DIR, id)} exists and is not a failure record of edk2-matrix`, 'move it away');
  }
  const dir = await publishDirectory(join(outDir, FAILED_DIR), id, [
    { name: BUILD_LOG, data: await read(logPath) },
    ...(secondLogPath ? [{ name: SECOND_BUILD_LOG, data: await read(secondLogPath) }] : []),
    { name: FAILURE_REASON, data: `${reason}\n` },
  ]);
  return join(dir, BUILD_LOG);
}
