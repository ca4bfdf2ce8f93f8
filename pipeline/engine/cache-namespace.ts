/**
 * Engine resources that outlive a run (prepared source and compiler cache volumes) belong to
 * one cache directory: pointing --cache-dir elsewhere starts from nothing, as a benchmark's
 * cold run needs, without touching the others.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';

export function cacheNamespace(cacheDir: string): string {
  return createHash('sha256').update(resolve(cacheDir)).digest('hex').slice(0, 8);
}
