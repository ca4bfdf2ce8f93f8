/**
 * Builds small firmware images the way edk2's GenFv/GenFfs/GenSec lay them out (PI spec vol. 3):
 * volumes of FFS files of sections, with erase polarity 1 (free space is 0xFF).
 */
import lzma from 'lzma-native';
import type { Transform } from 'node:stream';

export const FILE_TYPE = { raw: 0x01, freeform: 0x02, sec: 0x03, peim: 0x06, driver: 0x07, fvImage: 0x0b, pad: 0xf0 } as const;
export const SECTION_TYPE = { compression: 0x01, guidDefined: 0x02, pe32: 0x10, ui: 0x15, fvImage: 0x17, raw: 0x19 } as const;
export const LZMA_GUID = 'ee4e5898-3914-4259-9d6e-dc7bd79403cf';
export const LZMA_F86_GUID = 'd42ae6bd-1352-4bfb-909a-ca72a6eae889';
export const CRC32_GUID = 'fc1bcdb0-7d31-49aa-936a-a4600d9dd083';
const FFS2_GUID = '8c8ce578-8a3d-4f1c-9935-896185c32dd3';

/** EFI_GUID bytes of a registry-format GUID. */
export function guidBytes(guid: string): Buffer {
  const h = guid.replace(/-/g, '');
  const swap = (s: string): string => s.match(/../g)!.reverse().join('');
  return Buffer.from(swap(h.slice(0, 8)) + swap(h.slice(8, 12)) + swap(h.slice(12, 16)) + h.slice(16), 'hex');
}

/** EFI_COMMON_SECTION_HEADER (or the extended one past 16 MiB) and the body. */
export function section(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(body.length + 4, 0, 3);
  header[3] = type;
  return Buffer.concat([header, body]);
}

/** Sections one after another, each started at a 4-byte boundary. */
export function sections(...list: Buffer[]): Buffer {
  return Buffer.concat(list.map((s, i) => (i < list.length - 1 ? pad(s, 4, 0) : s)));
}

export function uiSection(name: string): Buffer {
  return section(SECTION_TYPE.ui, Buffer.from(`${name}\0`, 'utf16le'));
}

export function guidedSection(definition: string, attributes: number, data: Buffer): Buffer {
  const fields = Buffer.alloc(20);
  guidBytes(definition).copy(fields, 0);
  fields.writeUInt16LE(24, 16);
  fields.writeUInt16LE(attributes, 18);
  return section(SECTION_TYPE.guidDefined, Buffer.concat([fields, data]));
}

/** A GUID-defined LZMA section holding `inner` (sections), compressed in LZMA-alone format as edk2's LzmaCompress does. */
export async function lzmaSection(inner: Buffer): Promise<Buffer> {
  return guidedSection(LZMA_GUID, 0x01, await runCoder(lzma.createStream('aloneEncoder', { preset: 6 }), inner));
}

/** An LZMA-F86 section: `inner` run through liblzma's x86 branch converter, then LZMA-alone compressed. */
export async function lzmaF86Section(inner: Buffer): Promise<Buffer> {
  return guidedSection(LZMA_F86_GUID, 0x01, await runCoder(lzma.createStream('aloneEncoder', { preset: 6 }), await x86Filter(inner)));
}

/** `data` with liblzma's x86 branch converter applied (compressed through it, then decompressed without it). */
export async function x86Filter(data: Buffer): Promise<Buffer> {
  return runCoder(lzma.createStream('rawDecoder', { filters: [{ id: lzma.FILTER_LZMA2 }] }),
    await runCoder(lzma.createStream('rawEncoder', { filters: [{ id: lzma.FILTER_X86 }, { id: lzma.FILTER_LZMA2 }] }), data));
}

/** An FFS file (EFI_FFS_FILE_HEADER, state "data valid" under erase polarity 1). */
export function ffsFile(guid: string, type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(24);
  guidBytes(guid).copy(header, 0);
  header[17] = 0xaa; // IntegrityCheck.File: no file checksum
  header[18] = type;
  header.writeUIntLE(body.length + 24, 20, 3);
  header[23] = 0xf8;
  let sum = 0;
  for (let i = 0; i < 24; i++) if (i !== 17 && i !== 23) sum += header[i]!;
  header[16] = (0x100 - (sum & 0xff)) & 0xff;
  return Buffer.concat([header, body]);
}

/** A module: an FFS file with a PE32 section (the "binary") and a UI section naming it. */
export function moduleFile(guid: string, name: string, pe32: Buffer, type: number = FILE_TYPE.driver): Buffer {
  return ffsFile(guid, type, sections(section(SECTION_TYPE.pe32, pe32), uiSection(name)));
}

/** A firmware volume (FFS2) of `files`, 8-byte aligned, with an extended header naming it when `name` is given. */
export function volume(files: Buffer[], options: { readonly name?: string; readonly length?: number } = {}): Buffer {
  const headerLength = 72;
  const ext = options.name ? Buffer.concat([guidBytes(options.name), u32(20)]) : Buffer.alloc(0);
  const body = Buffer.concat([pad(ext, 8, 0xff), ...files.map((f) => pad(f, 8, 0xff))]);
  const length = options.length ?? headerLength + body.length;
  if (length < headerLength + body.length) throw new Error(`volume of 0x${length.toString(16)} bytes cannot hold its files`);
  const header = Buffer.alloc(headerLength);
  guidBytes(FFS2_GUID).copy(header, 16);
  header.writeBigUInt64LE(BigInt(length), 32);
  header.write('_FVH', 40, 'latin1');
  header.writeUInt32LE(0x0004feff, 44); // the attributes GenFv writes, erase polarity 1 among them
  header.writeUInt16LE(headerLength, 48);
  header.writeUInt16LE(options.name ? headerLength : 0, 52);
  header[55] = 2; // revision
  header.writeUInt32LE(1, 56); // block map: one block of the whole length, then the terminator
  header.writeUInt32LE(length, 60);
  let sum = 0;
  for (let i = 0; i < headerLength; i += 2) sum = (sum + header.readUInt16LE(i)) & 0xffff;
  header.writeUInt16LE((0x10000 - sum) & 0xffff, 50);
  const out = Buffer.alloc(length, 0xff);
  header.copy(out, 0);
  body.copy(out, headerLength); // the extended header, if any, then the files
  return out;
}

/** A section holding a whole volume. */
export function fvSection(fv: Buffer): Buffer {
  return section(SECTION_TYPE.fvImage, fv);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

function pad(b: Buffer, to: number, fill: number): Buffer {
  const extra = (to - (b.length % to)) % to;
  return extra ? Buffer.concat([b, Buffer.alloc(extra, fill)]) : b;
}

/** Runs `input` through an lzma-native coder and collects what comes out. */
export function runCoder(stream: Transform, input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', reject);
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.end(input);
  });
}
