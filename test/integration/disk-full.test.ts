/**
 * A full disk while publishing: a real 1 MiB tmpfs as the artifacts dir (needs root to mount).
 * The write fails with ENOSPC, and neither a partial variant directory nor a temporary one
 * is left; the earlier publication stays whole.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { publishVariant } from '../../pipeline/export/export-variant.ts';

const log = { info: () => {}, warn: () => {} };

const isRoot = process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), 'edk2-matrix-full-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!isRoot)('publishing onto a full disk', () => {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
  afterAll(() => execFileSync('umount', [dir]));

  it('fails with ENOSPC and leaves the earlier variant directory as it was', async () => {
    await publishVariant(dir, 'x64-debug', 'k1', [{ name: 'OVMF_CODE.fd', data: Buffer.alloc(100_000, 1) }, { name: 'manifest.json', data: '{"generator":"edk2-matrix","key":"k1"}' }], log);
    const before = readdirSync(join(dir, 'x64-debug')).sort();
    expect(before).toEqual(expect.arrayContaining(['OVMF_CODE.fd', 'manifest.json']));
    await expect(publishVariant(dir, 'x64-debug', 'k2', [{ name: 'OVMF_CODE.fd', data: Buffer.alloc(4 * 1024 * 1024, 2) }], log))
      .rejects.toThrow(/x64-debug: cannot publish x64-debug\/: ENOSPC/);
    expect(readdirSync(dir)).toEqual(['x64-debug']);
    // Whatever the first publication wrote (its files and the fingerprint beside them) is still there.
    expect(readdirSync(join(dir, 'x64-debug')).sort()).toEqual(before);
    expect(readFileSync(join(dir, 'x64-debug', 'OVMF_CODE.fd'))).toEqual(Buffer.alloc(100_000, 1));
  });
});
