/**
 * What a verified source says about itself — which `-D` names each platform DSC understands,
 * and its date for SOURCE_DATE_EPOCH — computed once on this host and cached by its digests.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { absentOr, readCachedJson, type JsonFileKind, type Holds, type SameShape } from '../host/read-json.ts';
import type { SourceFacts, SourceSpec } from '../domain.ts';
import { KNOWN_DSCS } from '../platforms.ts';
import { defineCatalog } from './dsc-scan.ts';
import type { Log } from '../domain.ts';
import { materializeSource, sourceIdentity } from './materialize.ts';
import { scanSource } from './meta-files.ts';
import { bundledComponents } from './bundled-components.ts';
import { sha256Hex } from '../checksums.ts';

/** A bundled library as recorded (in this cache and in manifests). */
export const sourceComponentSchema = z.object({ name: z.string(), path: z.string(), url: absentOr(z.string()), version: absentOr(z.string()) });

const sourceFactsSchema = z.object({
  defines: z.record(z.string(), z.array(z.string()).readonly()),
  epoch: z.number().int().nonnegative(),
  components: z.array(sourceComponentSchema).readonly(),
});
const SOURCE_FACTS_KIND: JsonFileKind = { what: 'source facts cache', hint: 'scanning the source again' };
export type SourceFactsSchemaIsSourceFacts = Holds<SameShape<z.output<typeof sourceFactsSchema>, SourceFacts>>;

/** Bump when the scan changes what it finds. */
const SCAN_VERSION = 3;

export async function loadSourceFacts(spec: SourceSpec, cacheDir: string, log: Log, signal: AbortSignal): Promise<SourceFacts> {
  const identity = await sourceIdentity(spec, cacheDir, log);
  const key = sha256Hex(JSON.stringify({ v: SCAN_VERSION, digests: identity.digests, dscs: KNOWN_DSCS }));
  const file = join(cacheDir, 'source-facts', `${key.slice(0, 32)}.json`);
  // A cache of what the scan finds: a damaged one is scanned again (and written anew).
  const cached = await readCachedJson(file, sourceFactsSchema, SOURCE_FACTS_KIND, log);
  if (cached) return cached;
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
