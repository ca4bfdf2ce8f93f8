/**
 * From a finished build container to a published variant directory: firmware copied out,
 * ARM images padded, every file hashed, manifest and launch script written, all at once.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuilderImage, FirmwareOutput, PreparedSource, Variant } from '../domain.ts';
import type { Container } from '../engine/engine.ts';
import { ExportError } from '../errors.ts';
import { fvDir } from '../build/command.ts';
import { MANIFEST_FILE, FAILED_DIR } from './artifacts-index.ts';
import { readContainerFile } from './copy-out.ts';
import { descriptorFileName, firmwareDescriptor } from './firmware-descriptor.ts';
import { launchScript } from './launch-script.ts';
import { describeFile, makeManifest, type NamedData } from './manifest.ts';
import { padImage } from './pad.ts';
import { publishDirectory } from './publish.ts';

export const BUILD_LOG = 'build.log';
export const LAUNCH_SCRIPT = 'launch.sh';
/** The build's UEFI Shell application, published when the build made one. */
export const SHELL_FILE = 'Shell.efi';

export interface ExportJob {
  readonly variant: Variant;
  readonly container: Container;
  readonly buildArgv: readonly string[];
  readonly seconds: number;
  readonly source: PreparedSource;
  readonly image: BuilderImage;
  readonly logPath: string;
  readonly outDir: string;
  readonly installPrefix: string;
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
    throw new ExportError(variant.id, `the build finished without ${path}`, 'check the platform table (pipeline/config/platforms.ts) for this DSC');
  }
  if (out.padTo !== undefined) {
    if (data.length > out.padTo) {
      throw new ExportError(variant.id, `${out.built} is ${data.length} bytes, larger than the ${out.padTo}-byte pflash`);
    }
    data = padImage(data, out.padTo);
  }
  return { name: out.published, data };
}

/** The build's own UEFI Shell, for verifying releases that no longer boot it by themselves. */
async function shell(container: Container, variant: Variant): Promise<NamedData[]> {
  const arch = variant.platform.buildArches.at(-1)!;
  const path = `${fvDir(variant).replace(/\/FV$/, '')}/${arch}/${SHELL_FILE}`;
  const data = await readContainerFile(container, path);
  return data ? [{ name: SHELL_FILE, data }] : [];
}

export async function exportVariant(job: ExportJob): Promise<string> {
  const { variant } = job;
  const code = await firmware(job.container, variant, variant.platform.code);
  const vars = await firmware(job.container, variant, variant.platform.vars);
  const shellFiles = await shell(job.container, variant);
  const log = await readFile(job.logPath);
  const descriptor = { name: descriptorFileName(variant), data: Buffer.from(`${JSON.stringify(firmwareDescriptor(variant, job.installPrefix), null, 4)}\n`) };
  const base = [code, vars, ...shellFiles, descriptor, { name: BUILD_LOG, data: log }];
  // The launch script is derived from the manifest, and the manifest lists the script's digest:
  // render it once from a manifest without itself, then the final manifest with it.
  const draft = makeManifest({ ...job, files: base.map(describeFile) });
  const script = { name: LAUNCH_SCRIPT, data: Buffer.from(launchScript(draft)) };
  const files = [...base, script].sort((a, b) => a.name.localeCompare(b.name));
  const manifest = makeManifest({ ...job, files: files.map(describeFile) });
  try {
    const dir = await publishDirectory(job.outDir, variant.id, [
      ...files.map((f) => ({ name: f.name, data: f.data, mode: f.name === LAUNCH_SCRIPT ? 0o755 : 0o644 })),
      { name: MANIFEST_FILE, data: `${JSON.stringify(manifest, null, 2)}\n` },
    ]);
    await rm(join(job.outDir, FAILED_DIR, variant.id), { recursive: true, force: true });
    return dir;
  } catch (err) {
    throw new ExportError(variant.id, `cannot publish ${variant.id}/: ${(err as Error).message}`,
      'check free space and permissions of the output directory; the previous version was left in place', { cause: err });
  }
}

/** Keeps a failed variant's log and reason under failed/<id>/, replacing an older failure. */
export async function recordFailure(outDir: string, id: string, reason: string, logPath: string | undefined): Promise<string> {
  const log = logPath ? await readFile(logPath).catch(() => Buffer.from('')) : Buffer.from('');
  const dir = await publishDirectory(join(outDir, FAILED_DIR), id, [
    { name: BUILD_LOG, data: log },
    { name: 'error.txt', data: `${reason}\n` },
  ]);
  return join(dir, BUILD_LOG);
}
