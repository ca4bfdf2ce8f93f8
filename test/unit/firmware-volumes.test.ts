import { describe, expect, it } from 'vitest';
import { FirmwareFormatError } from '../../pipeline/errors.ts';
import { differingModules, firmwareModules, OUTSIDE_MODULES, x86Decode } from '../../pipeline/rebuild/firmware-volumes.ts';
import {
  CRC32_GUID, FILE_TYPE, ffsFile, fvSection, guidedSection, lzmaF86Section, lzmaSection, moduleFile, section, SECTION_TYPE, sections, uiSection, volume, x86Filter,
} from '../helpers/firmware-image.ts';

const OUTER = '9e21fd93-9c72-4c15-8c4b-e77f1db2d792';
const INNER = '7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1';
const PARTITION = '1fa1f39e-feff-4aae-bd7b-38a070a3b609';
const CONTAINER = '20bc8ac9-94d1-4208-ab28-5d673fd73486';
const DXE_CORE = 'd6a2cb7f-6a18-4e2f-b43b-9920a733700a';
const EXTRA = '6d33944a-ec75-4855-a54d-809c75241f6c';
const FV_AT = 0x1000;

/** Deterministic bytes that look like code: plenty of E8/E9 (call/jmp) opcodes for the x86 filter to convert. */
function codeBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = (x >>> 24) % 5 === 0 ? 0xe8 + ((x >>> 8) & 1) : (x >>> 16) % 7 === 0 ? 0xff : x >>> 16;
  }
  return out;
}

interface Options {
  readonly dxeCore?: Buffer;
  readonly extra?: boolean;
  readonly resetVector?: Buffer;
}

/** A pflash-like image: a reset-vector page, an outer volume with PartitionDxe and a container
 * file holding an LZMA-compressed volume with DxeCore, then erased flash. */
async function image(options: Options = {}): Promise<Buffer> {
  const inner = volume([moduleFile(DXE_CORE, 'DxeCore', options.dxeCore ?? codeBytes(600, 1), 0x05)], { name: INNER });
  const container = ffsFile(CONTAINER, FILE_TYPE.fvImage, await lzmaSection(fvSection(inner)));
  const files = [moduleFile(PARTITION, 'PartitionDxe', codeBytes(300, 2)), container];
  if (options.extra) files.push(moduleFile(EXTRA, 'BdsDxe', codeBytes(200, 3)));
  const outer = volume(files, { name: OUTER, length: 0x4000 });
  return Buffer.concat([options.resetVector ?? Buffer.alloc(FV_AT), outer, Buffer.alloc(0x2000, 0xff)]);
}

async function rejection(promise: Promise<unknown>): Promise<FirmwareFormatError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(FirmwareFormatError);
  return err as FirmwareFormatError;
}

describe('firmwareModules', () => {
  it('lists every FFS file of every volume, nested compressed ones included, with UI names and volume paths', async () => {
    const modules = await firmwareModules(await image());
    expect(modules.map(({ path, guid, name, type }) => ({ path, guid, name, type }))).toEqual([
      { path: `${OUTER}/${PARTITION}`, guid: PARTITION, name: 'PartitionDxe', type: FILE_TYPE.driver },
      { path: `${OUTER}/${CONTAINER}`, guid: CONTAINER, name: undefined, type: FILE_TYPE.fvImage },
      { path: `${OUTER}/${CONTAINER}/${INNER}/${DXE_CORE}`, guid: DXE_CORE, name: 'DxeCore', type: 0x05 },
    ]);
    expect(new Set(modules.map((m) => m.sha256)).size).toBe(3);
    for (const m of modules) expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('names a volume without an extended header by its offset', async () => {
    const fv = volume([moduleFile(PARTITION, 'PartitionDxe', codeBytes(64, 4))]);
    const modules = await firmwareModules(Buffer.concat([Buffer.alloc(0x800), fv]));
    expect(modules.map((m) => m.path)).toEqual([`fv@0x800/${PARTITION}`]);
  });

  it('finds nothing in an image without a firmware volume, even one with a stray "_FVH"', async () => {
    expect(await firmwareModules(Buffer.alloc(0x10000, 0xff))).toEqual([]);
    const stray = Buffer.alloc(0x1000);
    stray.write('_FVH', 40, 'latin1'); // no valid header around it: checksum and length are wrong
    expect(await firmwareModules(stray)).toEqual([]);
  });

  it('opens sections a GUID-defined section needs no processing for, and keeps others opaque', async () => {
    const named = ffsFile(PARTITION, FILE_TYPE.driver, guidedSection(CRC32_GUID, 0x02, sections(section(SECTION_TYPE.pe32, codeBytes(40, 5)), uiSection('PartitionDxe'))));
    const opaque = ffsFile(EXTRA, FILE_TYPE.driver, guidedSection('3d532050-5cda-4fd0-879e-0f7f630d5afb', 0x01, codeBytes(40, 6)));
    const modules = await firmwareModules(volume([named, opaque]));
    expect(modules.map((m) => [m.guid, m.name])).toEqual([[PARTITION, 'PartitionDxe'], [EXTRA, undefined]]);
  });

  it('opens LZMA-F86 sections: the x86 branch filter is undone before the sections are read', async () => {
    const pe32 = codeBytes(4096, 7);
    // In UCS-2 "è" + "A" + NUL is E8 00 41 00 00 00: a call the filter converts, so the name only reads back if it is undone.
    const name = 'DxeCoreèA';
    const f86 = await firmwareModules(volume([ffsFile(DXE_CORE, 0x05, await lzmaF86Section(sections(section(SECTION_TYPE.pe32, pe32), uiSection(name))))]));
    expect(f86.map((m) => m.name)).toEqual([name]);
    const changed = Buffer.from(pe32);
    changed[100] = changed[100]! ^ 1;
    const other = await firmwareModules(volume([ffsFile(DXE_CORE, 0x05, await lzmaF86Section(sections(section(SECTION_TYPE.pe32, changed), uiSection(name))))]));
    expect(other[0]!.sha256).not.toBe(f86[0]!.sha256);
  });

  it('undoes the x86 branch converter exactly as liblzma applies it', async () => {
    const original = codeBytes(20000, 8);
    const filtered = await x86Filter(original);
    expect(filtered.equals(original)).toBe(false);
    x86Decode(filtered);
    expect(filtered.equals(original)).toBe(true);
  });

  it('refuses a truncated image, naming the offset of the volume that runs past its end', async () => {
    const full = await image();
    const err = await rejection(firmwareModules(full.subarray(0, FV_AT + 0x2000)));
    expect(err.message).toMatch(/^offset 0x1000: firmware volume claims 0x4000 bytes but only 0x2000 follow/);
  });

  it('refuses a section that runs past its file, naming the section offset', async () => {
    const full = await image();
    const firstSection = FV_AT + 72 + 24 + 24; // header, extended header (padded to 24), PartitionDxe's file header
    expect(full[firstSection + 3]).toBe(SECTION_TYPE.pe32);
    full.writeUIntLE(0x7fff, firstSection, 3);
    const err = await rejection(firmwareModules(full));
    expect(err.message).toMatch(new RegExp(`^offset 0x${firstSection.toString(16)}: section claims 0x7fff bytes`));
  });

  it('refuses LZMA data that does not decompress, naming where it sits', async () => {
    const broken = await lzmaSection(uiSection('DxeCore'));
    broken.fill(0x55, 24 + 13); // keep the headers, spoil the stream
    const err = await rejection(firmwareModules(volume([ffsFile(DXE_CORE, 0x05, broken)])));
    expect(err.message).toMatch(/^offset 0x[0-9a-f]+: LZMA data does not decompress/);
  });
});

describe('differingModules', () => {
  it('names exactly the module whose PE32 changed inside the compressed nested volume and the module only one image has', async () => {
    const changed = codeBytes(600, 1);
    changed[10] = changed[10]! ^ 0x40;
    expect(await differingModules(await image(), await image({ dxeCore: changed, extra: true }))).toEqual(['BdsDxe', 'DxeCore']);
  });

  it('finds nothing between two identical images', async () => {
    expect(await differingModules(await image(), await image())).toEqual([]);
  });

  it('skips erased pad files, whatever their size', async () => {
    const padded = (n: number): Buffer => volume([ffsFile('ffffffff-ffff-ffff-ffff-ffffffffffff', FILE_TYPE.pad, Buffer.alloc(n, 0xff)), moduleFile(PARTITION, 'PartitionDxe', codeBytes(64, 9))], { length: 0x1000 });
    expect((await firmwareModules(padded(40))).map((m) => m.name)).toEqual(['PartitionDxe']);
    expect(await differingModules(padded(40), padded(200))).toEqual([]);
  });

  it('says when bytes outside every module differ', async () => {
    const resetVector = Buffer.alloc(FV_AT);
    resetVector.writeUInt32LE(0x14000400);
    expect(await differingModules(await image(), await image({ resetVector }))).toEqual([OUTSIDE_MODULES]);
  });
});

