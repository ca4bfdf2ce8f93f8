/**
 * What a release must carry beside the firmware, read from the verified source it was built
 * from: the licence texts at the top of the tree and of every bundled library, and the patches
 * applied to it (Debian's series, then the matrix's extra patches), in order. Read from the
 * source archives (downloaded again, and checked, when the download cache lacks them) and cached
 * by the source's digests under `<cache>/source-facts/`.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '../checksums.ts';
import type { Log, SourceSpec } from '../domain.ts';
import { bundledComponents, LICENCE_FILE } from './bundled-components.ts';
import { EXTRA_PATCH_DIR, materializeSource, sourceIdentity } from './materialize.ts';
import { scanSource } from './meta-files.ts';

/** Bump when what is collected changes. */
const NOTICES_VERSION = 1;

export interface SourceNotices {
  /** The source's digests (as in every manifest): which source these texts belong to. */
  readonly digests: readonly { readonly name: string; readonly sha256: string }[];
  /** Licence files by path in the tree: the tree's own and each bundled library's (top level only). */
  readonly licenceFiles: Readonly<Record<string, string>>;
  /** Patches applied, in order, by path in the tree (`debian/patches/x.patch`). */
  readonly patches: readonly string[];
}

const seriesEntries = (text: string | undefined) =>
  (text ?? '').split('\n').map((l) => l.replace(/#.*/, '').trim().split(/\s+/)[0]!).filter(Boolean);

/** Pure: from the scanned files (meta-files, component files) of one source. */
export function sourceNotices(digests: SourceNotices['digests'], files: ReadonlyMap<string, string>, paths: readonly string[]): SourceNotices {
  const dirs = ['', 'OvmfPkg', ...bundledComponents(files, paths).map((c) => c.path)];
  const licenceFiles: Record<string, string> = {};
  for (const [path, text] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const slash = path.lastIndexOf('/');
    if (LICENCE_FILE.test(path) && dirs.includes(slash === -1 ? '' : path.slice(0, slash))) licenceFiles[path] = text;
  }
  const patches = [
    ...seriesEntries(files.get('debian/patches/series')).map((p) => `debian/patches/${p}`),
    ...seriesEntries(files.get(`${EXTRA_PATCH_DIR}/series`)).map((p) => `${EXTRA_PATCH_DIR}/${p}`),
  ];
  return { digests, licenceFiles, patches };
}

export async function loadSourceNotices(spec: SourceSpec, cacheDir: string, log: Log, signal: AbortSignal): Promise<SourceNotices> {
  const identity = await sourceIdentity(spec, cacheDir, log);
  const key = sha256Hex(JSON.stringify({ v: NOTICES_VERSION, digests: identity.digests }));
  const file = join(cacheDir, 'source-facts', `${key.slice(0, 32)}.notices.json`);
  try {
    return JSON.parse(await readFile(file, 'utf8')) as SourceNotices;
  } catch {
    // Not read yet.
  }
  const inputs = await materializeSource(spec, cacheDir, log, signal);
  log.info(`source ${identity.description}: reading licence texts and the patch series`);
  const scanned = await scanSource(inputs);
  const notices = sourceNotices(identity.digests, scanned.files, scanned.paths);
  await mkdir(join(cacheDir, 'source-facts'), { recursive: true });
  await writeFile(file, `${JSON.stringify(notices, null, 1)}\n`);
  return notices;
}
