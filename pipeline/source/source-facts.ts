/**
 * What a verified source says about itself — which `-D` names each platform DSC understands,
 * and its date for SOURCE_DATE_EPOCH — computed once on this host and cached by its digests.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SourceFacts, SourceSpec } from '../domain.ts';
import { KNOWN_DSCS } from '../platforms.ts';
import { defineCatalog } from './dsc-scan.ts';
import type { Log } from '../domain.ts';
import { materializeSource, sourceIdentity } from './materialize.ts';
import { scanSource } from './meta-files.ts';
import { bundledComponents } from './bundled-components.ts';
import { sha256Hex } from '../checksums.ts';

/** Bump when the scan changes what it finds. */
const SCAN_VERSION = 3;

export async function loadSourceFacts(spec: SourceSpec, cacheDir: string, log: Log, signal: AbortSignal): Promise<SourceFacts> {
  const identity = await sourceIdentity(spec);
  const key = sha256Hex(JSON.stringify({ v: SCAN_VERSION, digests: identity.digests, dscs: KNOWN_DSCS }));
  const file = join(cacheDir, 'source-facts', `${key.slice(0, 32)}.json`);
  try {
    return JSON.parse(await readFile(file, 'utf8')) as SourceFacts;
  } catch {
    // Not scanned yet.
  }
  const inputs = await materializeSource(spec, cacheDir, log, signal);
  log.info(`source ${identity.description}: reading platform DSCs and dates`);
  const scanned = await scanSource(inputs);
  const facts: SourceFacts = {
    defines: defineCatalog(KNOWN_DSCS, scanned.files),
    epoch: scanned.epoch,
    components: bundledComponents(scanned.files, scanned.paths),
  };
  await mkdir(join(cacheDir, 'source-facts'), { recursive: true });
  await writeFile(file, `${JSON.stringify(facts, null, 1)}\n`);
  return facts;
}
