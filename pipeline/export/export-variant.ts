/**
 * From a finished build container to a variant's files, as its recipe says: outputs copied
 * out and padded, descriptors and launch scripts as rendered, a manifest listing every file's
 * digest, and the run records. Publishing them is a separate, atomic step.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuildPlan, BuilderImage, Log, PreparedSource, RecipeOutput } from '../domain.ts';
import type { Container } from '../engine/engine.ts';
import { ExportError } from '../errors.ts';
import { BUILD_LOG, BUILD_RECORD, FAILED_DIR, FAILURE_REASON, fileMode, MANIFEST_FILE, SECOND_BUILD_LOG } from '../layout.ts';
import { readContainerFile } from './copy-out.ts';
import { describeFile, makeBuildRecord, makeManifest, type NamedData } from './manifest.ts';
import { padImage } from './pad.ts';
import { certificateFiles } from '../plan/recipe.ts';
import { enrolledStores } from './enrolled-stores.ts';
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
  /** BuildRecord.start. */
  readonly start?: string;
}

/** One of the recipe's outputs, copied out of the stopped build container and padded; undefined when an optional one is absent. */
async function copyOut(container: Container, id: string, out: RecipeOutput): Promise<NamedData | undefined> {
  let data: Buffer | undefined;
  try {
    data = await readContainerFile(container, out.from);
  } catch (err) {
    throw new ExportError(id, `cannot copy ${out.from} out of the build container: ${(err as Error).message}`, undefined, { cause: err });
  }
  if (!data) {
    if (out.optional) return undefined;
    throw new ExportError(id, `the build finished without ${out.from}`, 'check the platform table (pipeline/platforms.ts) for this DSC');
  }
  if (out.padTo !== undefined) {
    if (data.length > out.padTo) {
      throw new ExportError(id, `${out.from} is ${data.length} bytes, larger than the ${out.padTo}-byte pflash`);
    }
    data = padImage(data, out.padTo);
  }
  return { name: out.name, data };
}

/**
 * Every file of the variant directory: the recipe's outputs and rendered files, the manifest,
 * and the run records (build.log, build-record.json), which the manifest does not list.
 */
export async function collectVariantFiles(job: ExportJob, reproducible?: boolean): Promise<PublishFile[]> {
  const { recipe } = job.plan;
  const copied: NamedData[] = [];
  for (const out of recipe.outputs) {
    const f = await copyOut(job.container, recipe.id, out);
    if (f) copied.push(f);
  }
  const rendered = recipe.rendered.map((r) => ({ name: r.name, data: Buffer.from(r.text) }));
  const files = [...copied, ...rendered].sort((a, b) => a.name.localeCompare(b.name));
  const manifest = makeManifest({
    plan: job.plan, source: job.source, image: job.image, files: files.map(describeFile), enrolled: await enrolledStores(job.container, recipe, certificateFiles(job.plan.variant)),
  });
  const record = makeBuildRecord({ plan: job.plan, seconds: job.seconds, image: job.image, reproducible, start: job.start });
  return [
    ...files.map((f) => ({ name: f.name, data: f.data, mode: fileMode(f.name) })),
    { name: BUILD_LOG, data: await readFile(job.logPath), mode: fileMode(BUILD_LOG) },
    { name: BUILD_RECORD, data: `${JSON.stringify(record, null, 2)}\n`, mode: fileMode(BUILD_RECORD) },
    { name: MANIFEST_FILE, data: `${JSON.stringify(manifest, null, 2)}\n`, mode: fileMode(MANIFEST_FILE) },
  ];
}

/** Publishes the files as `<outDir>/<id>/` at once, and forgets an earlier failure of it. */
export async function publishVariant(outDir: string, id: string, key: string, files: readonly PublishFile[], log: Log): Promise<string> {
  if (!(await isOursOrAbsent(join(outDir, id)))) {
    throw new ExportError(id, `${join(outDir, id)} exists and was not written by edk2-matrix`, 'move it away; a run replaces only variant directories it published');
  }
  let dir: string;
  try {
    dir = await publishDirectory(outDir, id, files);
    await rm(join(outDir, FAILED_DIR, id), { recursive: true, force: true });
  } catch (err) {
    throw new ExportError(id, `cannot publish ${id}/: ${(err as Error).message}`,
      'check free space and permissions of the output directory; the previous version was left in place', { cause: err });
  }
  // What a rerun compares instead of hashing again (see fingerprint.ts). Without it the next
  // run hashes the files once more: slower, never wrong, so a failure here is only reported.
  await recordFingerprint(dir, key, files.map((f) => f.name)).catch((err: unknown) =>
    log.warn(`${id}: published, but its fingerprint could not be written (${(err as Error).message}); the next run hashes its files again`));
  return dir;
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
