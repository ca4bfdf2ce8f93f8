/**
 * The edk2 modules inside a firmware image, read from the image itself (PI spec vol. 3): every
 * FFS file of every firmware volume, nested and LZMA-compressed volumes opened, each with a
 * digest of its contents. What a rebuild names when a published image differs from its rebuild;
 * nothing the publisher wrote about the image is trusted, only its bytes.
 */
import { createHash, type Hash } from 'node:crypto';
import lzma from 'lzma-native';
import { FirmwareFormatError } from '../errors.ts';

export interface FirmwareModule {
  /** Where it sits: the chain of firmware volumes (by FV name GUID or offset) and the file GUID, unique within one image. */
  readonly path: string;
  /** FFS file name GUID, lowercase registry format. */
  readonly guid: string;
  /** From the file's USER_INTERFACE section (UCS-2), e.g. "PartitionDxe". */
  readonly name: string | undefined;
  /** FFS file type. */
  readonly type: number;
  /** sha256 of the file's contents, with nested firmware volumes taken out (they are listed themselves). */
  readonly sha256: string;
}

/** What `differingModules` names when bytes outside every module differ (volume headers, padding, free space). */
export const OUTSIDE_MODULES = '(outside modules: volume headers, padding or free space)';

/** Every FFS file of every firmware volume in the image, nested and LZMA-compressed ones opened. */
export async function firmwareModules(image: Buffer): Promise<FirmwareModule[]> {
  return (await readImage(image)).modules;
}

/** Modules present in only one image or with different digests: display names (UI name, else GUID), sorted, unique. */
export async function differingModules(a: Buffer, b: Buffer): Promise<string[]> {
  const [left, right] = await Promise.all([readImage(a), readImage(b)]);
  const byPath = new Map(right.modules.map((m) => [m.path, m]));
  const names = new Set<string>();
  for (const m of left.modules) {
    const other = byPath.get(m.path);
    byPath.delete(m.path);
    if (other === undefined) names.add(displayName(m));
    else if (other.sha256 !== m.sha256) names.add(displayName(m)).add(displayName(other));
  }
  for (const m of byPath.values()) names.add(displayName(m));
  if (left.outside !== right.outside) names.add(OUTSIDE_MODULES);
  return [...names].sort();
}

function displayName(m: FirmwareModule): string {
  return m.name ?? m.guid;
}

// ---------------------------------------------------------------------------------------------
// Layouts (MdePkg/Include/Pi/PiFirmwareVolume.h, PiFirmwareFile.h)

const FV_SIGNATURE_AT = 40;
const FV_MIN_HEADER = 72; // 56 bytes, one block map entry and the terminating one
const FVB2_ERASE_POLARITY = 0x800;
const FFS_VOLUMES = new Set(['8c8ce578-8a3d-4f1c-9935-896185c32dd3', '5473c07a-3dcb-4dca-bd6f-1e9689e7349a']);
const FFS_ATTRIB_LARGE_FILE = 0x01;
const FILE_DELETED = 0x10;
const FILETYPE_PAD = 0xf0;
const SECTION_COMPRESSION = 0x01;
const SECTION_GUID_DEFINED = 0x02;
const SECTION_USER_INTERFACE = 0x15;
const SECTION_FIRMWARE_VOLUME_IMAGE = 0x17;
const GUIDED_PROCESSING_REQUIRED = 0x01;
const LZMA_GUID = 'ee4e5898-3914-4259-9d6e-dc7bd79403cf';
const LZMA_F86_GUID = 'd42ae6bd-1352-4bfb-909a-ca72a6eae889';
/** Volumes inside sections inside volumes ...: far deeper than edk2 ever nests. */
const MAX_DEPTH = 16;
/** No edk2 image decompresses to more than this; a larger claim is a decompression bomb. */
const MAX_DECOMPRESSED = 256 * 1024 * 1024;
/** All LZMA data of one image together: nested sections cannot multiply the cap above. */
const MAX_IMAGE_DECOMPRESSED = 512 * 1024 * 1024;

/** Bytes being read, and how to name an offset in them in an error. */
interface Bytes {
  readonly buf: Buffer;
  readonly where: (offset: number) => string;
}

interface ImageContents {
  readonly modules: FirmwareModule[];
  /** sha256 of the image's bytes outside every listed file, pad file and free space. */
  readonly outside: string;
}

/** A module's digest and name while its sections are read, and the volumes nested in it. */
interface FileContents {
  readonly hash: Hash;
  /** What is left of the image's decompression budget (shared by every file of the image). */
  readonly budget: { left: number };
  name: string | undefined;
  readonly volumes: { readonly bytes: Bytes; readonly start: number; readonly end: number }[];
}

/** Walk state of one image. */
interface Walk {
  readonly modules: FirmwareModule[];
  readonly budget: { left: number };
  readonly paths: Set<string>;
  /** Top-level [start, end) ranges that modules, pad files and free space account for, in order. */
  readonly covered: [number, number][];
}

async function readImage(image: Buffer): Promise<ImageContents> {
  const walk: Walk = { modules: [], paths: new Set(), covered: [], budget: { left: MAX_IMAGE_DECOMPRESSED } };
  const bytes: Bytes = { buf: image, where: (o) => `offset 0x${hex(o)}` };
  let at = image.indexOf('_FVH', FV_SIGNATURE_AT);
  while (at !== -1) {
    const start = at - FV_SIGNATURE_AT;
    if (start % 8 === 0 && isVolumeHeader(image, start)) {
      const end = await readVolume(bytes, start, image.length, '', walk, 0, true);
      at = image.indexOf('_FVH', end + FV_SIGNATURE_AT);
    } else {
      at = image.indexOf('_FVH', at + 1);
    }
  }
  const outside = createHash('sha256');
  let from = 0;
  for (const [start, end] of walk.covered) {
    outside.update(image.subarray(from, start));
    from = end;
  }
  outside.update(image.subarray(from));
  return { modules: walk.modules, outside: outside.digest('hex') };
}

/** A header with a sane length whose 16-bit words sum to zero: a volume, not a stray "_FVH". */
function isVolumeHeader(buf: Buffer, start: number): boolean {
  if (start + FV_MIN_HEADER > buf.length || buf.readUInt32LE(start + FV_SIGNATURE_AT) !== 0x4856465f) return false;
  const headerLength = buf.readUInt16LE(start + 48);
  if (headerLength < FV_MIN_HEADER || headerLength % 2 !== 0 || start + headerLength > buf.length) return false;
  let sum = 0;
  for (let i = 0; i < headerLength; i += 2) sum = (sum + buf.readUInt16LE(start + i)) & 0xffff;
  return sum === 0;
}

/** Reads the volume at `start` (its files become modules); returns where it ends. */
async function readVolume(bytes: Bytes, start: number, limit: number, parent: string, walk: Walk, depth: number, topLevel: boolean): Promise<number> {
  const { buf, where } = bytes;
  if (depth > MAX_DEPTH) throw new FirmwareFormatError(where(start), `firmware volumes nested more than ${MAX_DEPTH} deep`);
  if (!isVolumeHeader(buf, start) || start + FV_MIN_HEADER > limit) throw new FirmwareFormatError(where(start), 'not a firmware volume header (signature, length or checksum wrong)');
  const length = buf.readBigUInt64LE(start + 32);
  const headerLength = buf.readUInt16LE(start + 48);
  if (length < BigInt(headerLength) || length > BigInt(limit - start)) {
    throw new FirmwareFormatError(where(start), `firmware volume claims 0x${length.toString(16)} bytes but only 0x${hex(limit - start)} follow (truncated image?)`);
  }
  const end = start + Number(length);
  const erased = buf.readUInt32LE(start + 44) & FVB2_ERASE_POLARITY ? 0xff : 0x00;
  const fileSystem = guid(buf, start + 16);
  const extOffset = buf.readUInt16LE(start + 52);
  let name: string | undefined;
  let filesFrom = headerLength;
  if (extOffset !== 0) {
    if (extOffset < headerLength || start + extOffset + 20 > end) throw new FirmwareFormatError(where(start + 52), `extended header offset 0x${hex(extOffset)} is outside the volume`);
    name = guid(buf, start + extOffset);
    const extSize = buf.readUInt32LE(start + extOffset + 16);
    if (extSize < 20 || extOffset + extSize > end - start) throw new FirmwareFormatError(where(start + extOffset + 16), `extended header size 0x${hex(extSize)} runs past the volume`);
    filesFrom = extOffset + extSize;
  }
  const path = unique(walk.paths, `${parent}${name ?? `fv@0x${hex(start)}`}`);
  if (!FFS_VOLUMES.has(fileSystem)) return end; // a variable store or other non-FFS volume: no modules
  for (let at = start + align(filesFrom, 8); at + 24 <= end; ) {
    if (isErased(buf, at, at + 24, erased)) {
      if (topLevel && isErased(buf, at, end, erased)) walk.covered.push([at, end]);
      break;
    }
    const attributes = buf[at + 19]!;
    const large = (attributes & FFS_ATTRIB_LARGE_FILE) !== 0;
    const headerSize = large ? 32 : 24;
    const size = large ? (at + 32 <= end ? Number(buf.readBigUInt64LE(at + 24)) : 0) : buf.readUIntLE(at + 20, 3);
    if (size < headerSize || size > end - at) {
      throw new FirmwareFormatError(where(at), `FFS file claims 0x${hex(size)} bytes but its volume has 0x${hex(end - at)} left (truncated image?)`);
    }
    const type = buf[at + 18]!;
    const state = erased ? ~buf[at + 23]! & 0xff : buf[at + 23]!;
    const next = Math.min(end, start + align(at + size - start, 8));
    let accounted = isErased(buf, at + size, next, erased);
    if (type === FILETYPE_PAD) {
      accounted &&= isErased(buf, at + headerSize, at + size, erased);
    } else if ((state & FILE_DELETED) === 0) {
      await readFile(bytes, at, headerSize, size, `${path}/`, walk, depth);
    } else {
      accounted = false;
    }
    if (topLevel && accounted) walk.covered.push([at, next]);
    at = next;
  }
  return end;
}

/** Section-structured file types: everything from FREEFORM to MM_CORE_STANDALONE; RAW and OEM types are opaque. */
function hasSections(type: number): boolean {
  return type >= 0x02 && type <= 0x0f;
}

async function readFile(bytes: Bytes, at: number, headerSize: number, size: number, parent: string, walk: Walk, depth: number): Promise<void> {
  const fileGuid = guid(bytes.buf, at);
  const type = bytes.buf[at + 18]!;
  const contents: FileContents = { hash: createHash('sha256'), budget: walk.budget, name: undefined, volumes: [] };
  if (hasSections(type)) await readSections(bytes, at + headerSize, at + size, contents, depth);
  else contents.hash.update(bytes.buf.subarray(at + headerSize, at + size));
  const path = unique(walk.paths, `${parent}${fileGuid}`);
  walk.modules.push({ path, guid: fileGuid, name: contents.name, type, sha256: contents.hash.digest('hex') });
  for (const v of contents.volumes) await readVolume(v.bytes, v.start, v.end, `${path}/`, walk, depth + 1, false);
}

/** Reads the sections in [start, end) into `file`: leaves hashed, encapsulations opened, volumes set aside. */
async function readSections(bytes: Bytes, start: number, end: number, file: FileContents, depth: number): Promise<void> {
  const { buf, where } = bytes;
  if (depth > MAX_DEPTH) throw new FirmwareFormatError(where(start), `sections nested more than ${MAX_DEPTH} deep`);
  for (let at = start; at < end; ) {
    if (end - at < 4) throw new FirmwareFormatError(where(at), `${end - at} bytes after the last section`);
    const type = buf[at + 3]!;
    let size = buf.readUIntLE(at, 3);
    let header = 4;
    if (size === 0xffffff) {
      if (end - at < 8) throw new FirmwareFormatError(where(at), 'section header runs past its file');
      size = buf.readUInt32LE(at + 4);
      header = 8;
    }
    if (size < header || size > end - at) throw new FirmwareFormatError(where(at), `section claims 0x${hex(size)} bytes but 0x${hex(end - at)} are left in its file (truncated image?)`);
    const body = at + header;
    const stop = at + size;
    switch (type) {
      case SECTION_COMPRESSION: {
        if (stop - body < 5) throw new FirmwareFormatError(where(at), 'compression section too short for its header');
        const compression = buf[body + 4]!;
        marker(file.hash, type, String(compression));
        if (compression === 0) await readSections(bytes, body + 5, stop, file, depth + 1);
        else leaf(file.hash, type, buf.subarray(body + 5, stop)); // Tiano-compressed: opaque
        break;
      }
      case SECTION_GUID_DEFINED:
        await readGuided(bytes, at, header, stop, file, depth);
        break;
      case SECTION_FIRMWARE_VOLUME_IMAGE:
        marker(file.hash, type, 'volume');
        file.volumes.push({ bytes, start: body, end: stop });
        break;
      case SECTION_USER_INTERFACE:
        file.name = ucs2(buf, body, stop);
        leaf(file.hash, type, buf.subarray(body, stop));
        break;
      default:
        leaf(file.hash, type, buf.subarray(body, stop));
    }
    at = start + align(stop - start, 4);
  }
}

async function readGuided(bytes: Bytes, at: number, header: number, stop: number, file: FileContents, depth: number): Promise<void> {
  const { buf, where } = bytes;
  if (stop - at < header + 20) throw new FirmwareFormatError(where(at), 'GUID-defined section too short for its header');
  const definition = guid(buf, at + header);
  const dataOffset = buf.readUInt16LE(at + header + 16);
  const attributes = buf.readUInt16LE(at + header + 18);
  if (dataOffset < header + 20 || dataOffset > stop - at) throw new FirmwareFormatError(where(at + header + 16), `GUID-defined section's data offset 0x${hex(dataOffset)} is outside the section`);
  const data = buf.subarray(at + dataOffset, stop);
  marker(file.hash, SECTION_GUID_DEFINED, definition);
  if (definition === LZMA_GUID || definition === LZMA_F86_GUID) {
    const unpacked = await decompressLzmaAlone(data, where(at + dataOffset), file.budget);
    if (definition === LZMA_F86_GUID) x86Decode(unpacked);
    const inner: Bytes = { buf: unpacked, where: (o) => `offset 0x${hex(o)} of the LZMA data at ${where(at + dataOffset)}` };
    await readSections(inner, 0, unpacked.length, file, depth + 1);
  } else if ((attributes & GUIDED_PROCESSING_REQUIRED) === 0) {
    await readSections(bytes, at + dataOffset, stop, file, depth + 1);
  } else {
    leaf(file.hash, SECTION_GUID_DEFINED, data);
  }
}

/** edk2's LZMA sections are "LZMA alone": 5 bytes of properties, the 8-byte size, the stream. */
async function decompressLzmaAlone(data: Buffer, where: string, budget: { left: number }): Promise<Buffer> {
  if (data.length < 13) throw new FirmwareFormatError(where, 'LZMA data shorter than its 13-byte header');
  const limit = Math.min(MAX_DECOMPRESSED, budget.left);
  const declared = data.readBigUInt64LE(5);
  if (declared !== 0xffffffffffffffffn && declared > BigInt(limit)) {
    throw new FirmwareFormatError(where, `LZMA data claims 0x${declared.toString(16)} bytes uncompressed, more than any firmware image holds`);
  }
  const decoder = lzma.createStream('aloneDecoder', { memlimit: MAX_DECOMPRESSED, bufsize: 1 << 20 });
  const unpacked = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    decoder.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) decoder.destroy(new Error(`more than 0x${hex(limit)} bytes`));
      else chunks.push(chunk);
    });
    decoder.on('error', (err: Error) => reject(new FirmwareFormatError(where, `LZMA data does not decompress: ${err.message}`)));
    decoder.on('end', () => resolve(Buffer.concat(chunks, total)));
    decoder.end(data);
  });
  budget.left -= unpacked.length;
  return unpacked;
}

/**
 * Undoes the x86 branch converter (LZMA SDK Bra86.c, x86_Convert with encoding = 0, ip = 0) that
 * edk2's LZMA-F86 compressor applies before compressing, in place.
 */
export function x86Decode(data: Uint8Array): void {
  const allowed = [true, true, true, false, true, false, false, false];
  const bitNumber = [0, 1, 2, 2, 3, 3, 3, 3];
  const msByte = (b: number): boolean => b === 0 || b === 0xff;
  if (data.length < 5) return;
  const ip = 5;
  let pos = 0;
  let prevPos = -1;
  let prevMask = 0;
  const limit = data.length - 4;
  for (;;) {
    while (pos < limit && (data[pos]! & 0xfe) !== 0xe8) pos++;
    if (pos >= limit) break;
    const distance = pos - prevPos;
    if (distance > 3) {
      prevMask = 0;
    } else {
      prevMask = (prevMask << (distance - 1)) & 7;
      if (prevMask !== 0 && (!allowed[prevMask] || msByte(data[pos + 4 - bitNumber[prevMask]!]!))) {
        prevPos = pos;
        prevMask = ((prevMask << 1) & 7) | 1;
        pos++;
        continue;
      }
    }
    prevPos = pos;
    if (!msByte(data[pos + 4]!)) {
      prevMask = ((prevMask << 1) & 7) | 1;
      pos++;
      continue;
    }
    let src = (data[pos + 4]! << 24 | data[pos + 3]! << 16 | data[pos + 2]! << 8 | data[pos + 1]!) >>> 0;
    let dest: number;
    for (;;) {
      dest = (src - (ip + pos)) >>> 0;
      if (prevMask === 0) break;
      const index = bitNumber[prevMask]! * 8;
      if (!msByte((dest >>> (24 - index)) & 0xff)) break;
      src = (dest ^ ((2 ** (32 - index)) - 1)) >>> 0;
    }
    data[pos + 4] = (dest >>> 24) & 1 ? 0xff : 0x00;
    data[pos + 3] = (dest >>> 16) & 0xff;
    data[pos + 2] = (dest >>> 8) & 0xff;
    data[pos + 1] = dest & 0xff;
    pos += 5;
  }
}

// ---------------------------------------------------------------------------------------------

function leaf(hash: Hash, type: number, data: Buffer): void {
  const head = Buffer.alloc(5);
  head.writeUInt8(type, 0);
  head.writeUInt32LE(data.length, 1);
  hash.update(head).update(data);
}

/** An encapsulation's kind, so that wrapping the same leaves differently still changes the digest. */
function marker(hash: Hash, type: number, what: string): void {
  leaf(hash, type, Buffer.from(what, 'latin1'));
}

function ucs2(buf: Buffer, start: number, end: number): string {
  let stop = start;
  while (stop + 1 < end && buf.readUInt16LE(stop) !== 0) stop += 2;
  // The image's own text, shown on terminals and signed: no control characters (escape sequences).
  return [...buf.toString('utf16le', start, stop)].map((c) => (c.charCodeAt(0) < 0x20 || (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) < 0xa0) ? '?' : c)).join('');
}

function isErased(buf: Buffer, start: number, end: number, erased: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== erased) return false;
  return true;
}

/** EFI_GUID in registry format: the first three fields are little-endian. */
function guid(buf: Buffer, at: number): string {
  const h = buf.toString('hex', at, at + 16);
  const swap = (s: string): string => s.match(/../g)!.reverse().join('');
  return `${swap(h.slice(0, 8))}-${swap(h.slice(8, 12))}-${swap(h.slice(12, 16))}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function unique(paths: Set<string>, path: string): string {
  let candidate = path;
  for (let n = 2; paths.has(candidate); n++) candidate = `${path}#${n}`;
  paths.add(candidate);
  return candidate;
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

function hex(n: number): string {
  return n.toString(16);
}
