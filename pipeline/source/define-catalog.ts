/**
 * The define catalog of a source (which `-D` names each platform DSC understands), computed
 * once from the verified archives on this host and cached by the source's digests.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SourceSpec } from '../domain.ts';
import { KNOWN_DSCS } from '../config/platforms.ts';
import { defineCatalog, type DefineCatalog } from '../plan/check-defines.ts';
import type { Log } from '../report/reporter.ts';
import { materializeSource, sourceIdentity } from './materialize.ts';
import { collectMetaFiles } from './meta-files.ts';

/** Bump when the scan changes what it finds. */
const SCAN_VERSION = 1;

export async function loadDefineCatalog(spec: SourceSpec, cacheDir: string, log: Log, signal: AbortSignal): Promise<DefineCatalog> {
  const identity = await sourceIdentity(spec);
  const key = createHash('sha256').update(JSON.stringify({ v: SCAN_VERSION, digests: identity.digests, dscs: KNOWN_DSCS })).digest('hex');
  const file = join(cacheDir, 'defines', `${key.slice(0, 32)}.json`);
  try {
    return JSON.parse(await readFile(file, 'utf8')) as DefineCatalog;
  } catch {
    // Not scanned yet.
  }
  const inputs = await materializeSource(spec, cacheDir, log, signal);
  log.info(`source ${identity.description}: reading platform DSCs for the define check`);
  const catalog = defineCatalog(KNOWN_DSCS, await collectMetaFiles(inputs));
  await mkdir(join(cacheDir, 'defines'), { recursive: true });
  await writeFile(file, `${JSON.stringify(catalog, null, 1)}\n`);
  return catalog;
}
