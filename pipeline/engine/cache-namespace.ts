/**
 * Engine resources that outlive a run (prepared source and compiler cache volumes) belong to
 * one cache directory: pointing --cache-dir elsewhere starts from nothing, as a benchmark's
 * cold run needs, without touching the others.
 */
import { resolve } from 'node:path';
import { sha256Hex } from '../checksums.ts';

export function cacheNamespace(cacheDir: string): string {
  return sha256Hex(resolve(cacheDir)).slice(0, 8);
}
