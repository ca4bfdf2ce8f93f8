/**
 * The pinned builder image: built from `builder.dockerfile` on top of the base image, tagged
 * by the digest of its context and base, so an unchanged context is never rebuilt. Records the
 * exact package versions inside for the manifests.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuilderImage, BuilderSpec } from '../domain.ts';
import { LABEL, LABEL_ROLE, type Role, type RunScope } from '../engine/run-scope.ts';
import { ImageError } from '../errors.ts';
import type { Log } from '../report/reporter.ts';
import { ensureBaseImage } from './base-image.ts';
import { contextDigest, packContext, readContext } from './build-context.ts';
import { sha256Hex } from '../checksums.ts';

export const BUILDER_REPO = 'edk2-matrix/builder';

export function builderTag(contextSha: string, baseId: string): string {
  const key = sha256Hex(`${contextSha}\0${baseId}`);
  return `${BUILDER_REPO}:${key.slice(0, 16)}`;
}

export async function ensureBuilderImage(
  scope: RunScope,
  spec: BuilderSpec,
  cacheDir: string,
  log: Log,
  signal: AbortSignal,
): Promise<BuilderImage> {
  const engine = scope.engine;
  const files = readContext(spec.context);
  const base = await ensureBaseImage(engine, spec, log, signal);
  const tag = builderTag(contextDigest(files), base.id);
  let id = await engine.imageId(tag);
  if (id) {
    log.info(`builder image ${tag}: up to date`);
  } else {
    log.info(`builder image ${tag}: building from ${spec.context} on ${base.ref}`);
    const tail: string[] = [];
    try {
      id = await engine.buildImage({
        context: packContext(files),
        tag,
        buildArgs: { BASE: base.ref },
        labels: { [LABEL]: '1', [LABEL_ROLE]: 'builder' satisfies Role },
        network: spec.network,
        onLine: (line) => {
          tail.push(line);
          if (tail.length > 8) tail.shift();
          if (/^Step \d+\/\d+/.test(line)) log.info(`builder image: ${line.trim()}`);
        },
      }, signal);
    } catch (err) {
      throw new ImageError(`building ${tag} failed: ${(err as Error).message}`,
        `last output: ${tail.join(' | ').slice(-300)}; a pinned package version may have left the mirror: update it in ${spec.context}/Dockerfile`,
        { cause: err });
    }
  }
  return { id, tag, packages: await installedPackages(scope, id, cacheDir) };
}

/** `name=version` of every package in the image, probed once per image id and cached. */
async function installedPackages(scope: RunScope, imageId: string, cacheDir: string): Promise<string[]> {
  const file = join(cacheDir, 'images', `${imageId.replace(/^sha256:/, '')}.packages`);
  try {
    return (await readFile(file, 'utf8')).split('\n').filter(Boolean);
  } catch {
    // Not probed yet.
  }
  const { exitCode, output } = await scope.capture(
    { image: imageId, cmd: ['dpkg-query', '-W', '-f', '${Package}=${Version}\\n'], network: 'none', hardened: true },
    'probe',
  );
  if (exitCode !== 0) throw new ImageError(`dpkg-query in ${imageId.slice(7, 19)} exited ${exitCode}: ${output.slice(-200)}`);
  const packages = output.split('\n').map((l) => l.trim()).filter(Boolean).sort();
  await mkdir(join(cacheDir, 'images'), { recursive: true });
  await writeFile(file, `${packages.join('\n')}\n`);
  return packages;
}
