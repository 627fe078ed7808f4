// A minimal, bounded zip reader (PKWARE APPNOTE 6.3: end of central directory, central directory,
// local headers) for stored and deflated entries; enough for PyTorch's zip checkpoints.

import { closeSync, fstatSync, openSync } from "node:fs";
import { inflateRawSync } from "node:zlib";
import { readAt } from "./fileio.js";

export interface ZipEntry {
  readonly name: string;
  /** 0 = stored, 8 = deflate. */
  readonly method: 0 | 8;
  readonly compressedSize: number;
  readonly size: number;
  readonly crc32: number;
  readonly localHeaderOffset: number;
}

export interface ZipArchive {
  readonly entries: ReadonlyMap<string, ZipEntry>;
  /**
   * The entry's bytes. Stored entries are read straight into `into` (or a new array) when given;
   * deflated entries are inflated and checked against their CRC-32. `into` must hold `entry.size` bytes.
   */
  read(entry: ZipEntry, into?: Uint8Array): Uint8Array;
  close(): void;
}

const EOCD_SIG = 0x06054b50;
const EOCD_SIZE = 22;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const CENTRAL_SIG = 0x02014b50;
const CENTRAL_SIZE = 46;
const LOCAL_SIG = 0x04034b50;
const LOCAL_SIZE = 30;
const MAX_COMMENT = 0xffff;
/** Deflate cannot expand data by more than about 1032:1, so larger claimed sizes are lies. */
const MAX_DEFLATE_RATIO = 1032;
/** Largest central directory we accept (about a million entries of typical size). */
const MAX_CENTRAL_BYTES = 256 * 1024 * 1024;

function fail(msg: string): never {
  throw new Error(`zip: ${msg}`);
}

function readExactly(fd: number, dst: Uint8Array, pos: number, what: string): void {
  if (readAt(fd, dst, pos) !== dst.byteLength) fail(`unexpected end of file while reading ${what}`);
}

export function openZip(path: string): ZipArchive {
  const fd = openSync(path, "r");
  try {
    const { entries, cdOffset } = readCentralDirectory(fd, fstatSync(fd).size);
    let closed = false;
    return {
      entries,
      read(entry, into) {
        if (closed) fail("archive is closed");
        return readEntry(fd, entry, cdOffset, into);
      },
      close() {
        if (!closed) closeSync(fd);
        closed = true;
      },
    };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

function readCentralDirectory(
  fd: number,
  fileSize: number,
): { entries: Map<string, ZipEntry>; cdOffset: number } {
  if (fileSize < EOCD_SIZE) fail(`file is too small (${fileSize} bytes) to be a zip archive`);
  const tailLen = Math.min(fileSize, EOCD_SIZE + MAX_COMMENT);
  const tailPos = fileSize - tailLen;
  const tail = new Uint8Array(tailLen);
  readExactly(fd, tail, tailPos, "the end of central directory");
  const tv = new DataView(tail.buffer);
  let at = -1;
  for (let i = tailLen - EOCD_SIZE; i >= 0; i--) {
    if (tv.getUint32(i, true) === EOCD_SIG && i + EOCD_SIZE + tv.getUint16(i + 20, true) <= tailLen) {
      at = i;
      break;
    }
  }
  if (at < 0) fail("no end of central directory record (not a zip archive, or truncated)");
  const disk = tv.getUint16(at + 4, true);
  const cdDisk = tv.getUint16(at + 6, true);
  const countHere = tv.getUint16(at + 8, true);
  const count = tv.getUint16(at + 10, true);
  const cdSize = tv.getUint32(at + 12, true);
  const cdOffset = tv.getUint32(at + 16, true);
  // PyTorch writes a zip64 record even for small archives; it only matters when the classic fields
  // are saturated, which is what a real zip64 archive needs.
  if (count === 0xffff || countHere === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const hasLocator = at >= 20 && tv.getUint32(at - 20, true) === ZIP64_LOCATOR_SIG;
    fail(`zip64 archives are not supported${hasLocator ? "" : " (and its zip64 locator is missing)"}`);
  }
  if (disk !== 0 || cdDisk !== 0 || countHere !== count) fail("multi-disk archives are not supported");
  const eocdPos = tailPos + at;
  if (cdOffset + cdSize > eocdPos) {
    fail(`central directory (offset ${cdOffset}, ${cdSize} bytes) runs past the end record at ${eocdPos}`);
  }
  if (cdSize > MAX_CENTRAL_BYTES) fail(`central directory of ${cdSize} bytes is too large`);
  if (count * CENTRAL_SIZE > cdSize)
    fail(`${count} entries cannot fit in a ${cdSize}-byte central directory`);

  const cd = new Uint8Array(cdSize);
  readExactly(fd, cd, cdOffset, "the central directory");
  const v = new DataView(cd.buffer);
  const decoder = new TextDecoder("utf-8");
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + CENTRAL_SIZE > cdSize) fail(`central directory entry ${i} runs past the directory`);
    if (v.getUint32(p, true) !== CENTRAL_SIG) fail(`bad signature for central directory entry ${i}`);
    const flags = v.getUint16(p + 8, true);
    const method = v.getUint16(p + 10, true);
    const crc32 = v.getUint32(p + 16, true);
    const compressedSize = v.getUint32(p + 20, true);
    const size = v.getUint32(p + 24, true);
    const nameLen = v.getUint16(p + 28, true);
    const extraLen = v.getUint16(p + 30, true);
    const commentLen = v.getUint16(p + 32, true);
    const localHeaderOffset = v.getUint32(p + 42, true);
    const end = p + CENTRAL_SIZE + nameLen + extraLen + commentLen;
    if (end > cdSize) fail(`central directory entry ${i} runs past the directory`);
    const name = decoder.decode(cd.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLen));
    if (compressedSize === 0xffffffff || size === 0xffffffff || localHeaderOffset === 0xffffffff) {
      fail(`entry "${name}" needs zip64, which is not supported`);
    }
    if (flags & 1) fail(`entry "${name}" is encrypted`);
    if (method !== 0 && method !== 8)
      fail(`entry "${name}" uses compression method ${method} (only stored and deflate)`);
    if (method === 0 && compressedSize !== size) fail(`stored entry "${name}" has different sizes`);
    if (method === 8 && size > compressedSize * MAX_DEFLATE_RATIO + 64) {
      fail(
        `entry "${name}" claims ${size} bytes from ${compressedSize} compressed, beyond what deflate can produce`,
      );
    }
    if (localHeaderOffset + LOCAL_SIZE + compressedSize > cdOffset) {
      fail(
        `entry "${name}" (offset ${localHeaderOffset}, ${compressedSize} bytes) runs into the central directory`,
      );
    }
    if (entries.has(name)) fail(`duplicate entry "${name}"`);
    entries.set(name, { name, method, compressedSize, size, crc32, localHeaderOffset });
    p = end;
  }
  return { entries, cdOffset };
}

/** Reads one entry; its data must end before `limit` (the central directory's offset). */
function readEntry(fd: number, e: ZipEntry, limit: number, into?: Uint8Array): Uint8Array {
  const head = new Uint8Array(LOCAL_SIZE);
  readExactly(fd, head, e.localHeaderOffset, `the local header of "${e.name}"`);
  const hv = new DataView(head.buffer);
  if (hv.getUint32(0, true) !== LOCAL_SIG) fail(`bad local header signature for "${e.name}"`);
  const dataPos = e.localHeaderOffset + LOCAL_SIZE + hv.getUint16(26, true) + hv.getUint16(28, true);
  if (dataPos + e.compressedSize > limit) fail(`entry "${e.name}" runs into the central directory`);
  if (into && into.byteLength < e.size)
    fail(`buffer of ${into.byteLength} bytes is too small for "${e.name}"`);
  if (e.method === 0) {
    const dst = (into ?? new Uint8Array(e.size)).subarray(0, e.size);
    readExactly(fd, dst, dataPos, `entry "${e.name}"`);
    return dst;
  }
  const packed = new Uint8Array(e.compressedSize);
  readExactly(fd, packed, dataPos, `entry "${e.name}"`);
  let raw: Uint8Array;
  try {
    raw = inflateRawSync(packed, { maxOutputLength: Math.max(e.size, 1) });
  } catch (err) {
    fail(`cannot inflate "${e.name}": ${(err as Error).message}`);
  }
  if (raw.byteLength !== e.size)
    fail(`entry "${e.name}" inflates to ${raw.byteLength} bytes, expected ${e.size}`);
  if (crc32(raw) !== e.crc32) fail(`CRC-32 mismatch in "${e.name}"`);
  if (!into) return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  into.set(raw);
  return into.subarray(0, e.size);
}

let crcTable: Uint32Array | null = null;

/** CRC-32 (IEEE 802.3, as zip uses it). */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
