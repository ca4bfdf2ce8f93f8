/**
 * What `npm run rebuild` concludes from a published variant and its rebuild: every file byte
 * for byte, the assets by digest, the modules of a firmware image that differs, and the table
 * it prints. (The rebuild itself, against the real engine, runs in the release rehearsal.)
 */
import { describe, expect, it } from 'vitest';
import type { ReleaseAsset, ReleaseIndex } from '../../pipeline/domain.ts';
import { compareVariant } from '../../pipeline/rebuild/compare-variant.ts';
import type { RebuildReport } from '../../pipeline/rebuild/rebuild-release.ts';
import { rebuildTable } from '../../pipeline/rebuild/rebuild-table.ts';
import { moduleFile, volume } from '../helpers/firmware-image.ts';

const PARTITION = '1fa1f39e-feff-4aae-bd7b-38a070a3b609';
const asset = (name: string, sha256: string): ReleaseAsset => ({ name, kind: 'archive', variant: 'x64-debug', sha256, size: 1 });
const firmware = (code: number) => volume([moduleFile(PARTITION, 'PartitionDxe', Buffer.alloc(256, code))], { length: 0x2000 });
const published = (files: Record<string, Buffer>) => ({ files: new Map(Object.entries(files)), assets: [asset('x64-debug.tar.xz', 'a'.repeat(64))] });
const rebuilt = (files: Record<string, Buffer>, digest = 'a'.repeat(64)) =>
  ({ files: Object.entries(files).map(([name, data]) => ({ name, data })), assets: [asset('x64-debug.tar.xz', digest)] });

describe('comparing a published variant with its rebuild', () => {
  it('finds it identical only when every file and every asset is', async () => {
    const files = { 'OVMF_CODE.fd': firmware(1), 'manifest.json': Buffer.from('{}') };
    const same = await compareVariant('x64-debug', published(files), rebuilt(files));
    expect(same).toMatchObject({ identical: true, filesCompared: 2, differences: [] });
    const otherAsset = await compareVariant('x64-debug', published(files), rebuilt(files, 'b'.repeat(64)));
    expect(otherAsset.identical).toBe(false);
    expect(otherAsset.differences).toEqual([]);
  });

  it('names the modules of a firmware image that differs, from the images themselves', async () => {
    const c = await compareVariant('x64-debug', published({ 'OVMF_CODE.fd': firmware(1) }), rebuilt({ 'OVMF_CODE.fd': firmware(2) }));
    expect(c.differences).toEqual([{ file: 'OVMF_CODE.fd', reason: 'differs', modules: ['PartitionDxe'] }]);
  });

  it('says why the modules are unknown when an image is not firmware volumes', async () => {
    const c = await compareVariant('x64-debug', published({ 'OVMF_CODE.fd': firmware(1) }), rebuilt({ 'OVMF_CODE.fd': firmware(1).subarray(0, 0x800) }));
    expect(c.differences[0]).toMatchObject({ file: 'OVMF_CODE.fd', reason: 'differs', modulesUnknown: expect.stringMatching(/offset 0x/) });
  });

  it('lists a file the rebuild did not make, and one only the rebuild made', async () => {
    const c = await compareVariant('x64-debug', published({ 'Shell.efi': Buffer.from('s') }), rebuilt({ 'launch.sh': Buffer.from('l') }));
    expect(c.differences).toEqual([{ file: 'Shell.efi', reason: 'not rebuilt' }, { file: 'launch.sh', reason: 'only in the rebuild' }]);
  });
});

describe('the rebuild table', () => {
  const index = { release: { tag: 'v2026.12.0' } } as unknown as ReleaseIndex;
  const report = (over: Partial<RebuildReport>): RebuildReport => ({
    index, location: '/releases/v2026.12.0', out: '/tmp/rebuild', comparisons: [], failed: [], otherKeys: [], passed: true, attestation: undefined, ...over,
  });

  it('shows each variant, its first difference with modules, and the verdict', async () => {
    const differs = await compareVariant('x64-debug', published({ 'OVMF_CODE.fd': firmware(1) }), rebuilt({ 'OVMF_CODE.fd': firmware(2) }));
    const same = await compareVariant('ia32-debug', published({ a: Buffer.from('x') }), rebuilt({ a: Buffer.from('x') }));
    const text = rebuildTable(report({ comparisons: [same, differs], passed: false, failed: [{ id: 'arm-debug', reason: 'edk2 build exited with status 1\nmore' }] }));
    expect(text).toMatch(/^ia32-debug\s+1\s+identical\s*$/m);
    expect(text).toMatch(/^x64-debug\s+1\s+DIFFERS\s+OVMF_CODE\.fd differs \(modules: PartitionDxe\)$/m);
    expect(text).toMatch(/^arm-debug\s+-\s+NOT BUILT\s+edk2 build exited with status 1$/m);
    expect(text).toMatch(/^FAILED: 1 of 3 variant\(s\) identical/m);
  });

  it('says PASSED and where the attestation is, and notes keys this version plans differently', () => {
    const text = rebuildTable(report({ attestation: '/tmp/rebuild/rebuild-AB.intoto.json', otherKeys: ['x64-debug'] }));
    expect(text).toMatch(/^PASSED: 0 of 0/m);
    expect(text).toContain('attestation: /tmp/rebuild/rebuild-AB.intoto.json');
    expect(text).toMatch(/note: x64-debug planned with other keys/);
  });
});
