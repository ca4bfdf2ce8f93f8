/**
 * The tag a CI run releases under: the pushed tag, or for scheduled and manual runs
 * `nightly-<digest>`, where the digest covers everything that decides the firmware (the
 * matrix file, the builder's context, the pipeline's code and its locked dependencies). A
 * nightly run whose tag already has a release has nothing new to build.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { sha256Hex } from '../checksums.ts';

/** Directories and files under the repository root that decide a release's bytes. */
export const RELEASE_INPUTS = ['dockerfiles', 'pipeline', 'package-lock.json'] as const;

async function files(root: string, path: string): Promise<string[]> {
  const full = join(root, path);
  const entries = await readdir(full, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return [path];
  const out: string[] = [];
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) out.push(...(await files(root, join(path, e.name))));
  return out;
}

/** sha256 over the matrix file's and every input file's path and digest. */
export async function inputsDigest(root: string, configFile: string): Promise<string> {
  const lines = [`matrix ${sha256Hex(await readFile(configFile))}`];
  for (const input of RELEASE_INPUTS) {
    for (const f of await files(root, input)) lines.push(`${relative(root, join(root, f))} ${sha256Hex(await readFile(join(root, f)))}`);
  }
  return sha256Hex(lines.join('\n'));
}

export function releaseTag(env: NodeJS.ProcessEnv, digest: string): string {
  if (env.GITHUB_REF_TYPE === 'tag' && env.GITHUB_REF_NAME) return env.GITHUB_REF_NAME;
  return `nightly-${digest.slice(0, 16)}`;
}
