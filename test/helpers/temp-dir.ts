import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

/** A fresh directory for the calling test, removed when that test finishes. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `edk2-matrix-test-${prefix}`));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
