// GGUF reader (ggml's model container, versions 2 and 3, little endian). Every count and length from
// the file is checked against the bytes that remain before anything is allocated; errors start "GGUF:".

import { DTYPES, type DType } from "../tensor/dtype.js";
import { readAt, withOpenFile } from "./fileio.js";
import { getAllocator, type Allocator } from "../tensor/storage.js";
import { Tensor } from "../tensor/tensor.js";
import {
  DTYPE_OF_GGML,
  GGML_TYPE_NAMES,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_MAX_DIMS,
  GGUF_VALUE_TYPES,
  type GGUFScalarType,
  type GGUFTensorInfo,
  type GGUFType,
  type GGUFValue,
} from "./gguf-types.js";

export interface GGUFFile {
  version: number;
  alignment: number;
  metadata: Map<string, GGUFValue>;
  /** The stored type of each metadata value (pass as `valueTypes` to writeGGUF for a faithful copy). */
  metadataTypes: Map<string, GGUFType>;
  tensorInfos: GGUFTensorInfo[];
  /** Absolute file offset where the tensor data section starts. */
  dataOffset: number;
  /** Empty when read with `metadataOnly`. */
  tensors: Map<string, Tensor>;
}

export interface ReadGGUFOptions {
  /** Parse the header (metadata and tensor infos) but read no tensor data. */
  metadataOnly?: boolean;
  /** Where tensor bytes go; `getAllocator()` by default. */
  allocator?: Allocator;
}

const CHUNK = 1 << 20;
const MAX_STRING_BYTES = 1 << 26;
const MAX_ARRAY_ELEMENTS = 1 << 28;
const MAX_ARRAY_DEPTH = 8;
// Smallest encoding of one element of each value type (an array is its type + count).
const MIN_BYTES = [1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8];

function fail(msg: string): never {
  throw new Error(`GGUF: ${msg}`);
}

/** Sequential little-endian reads of the header through a bounded, refilled window. */
class HeaderReader {
  private buf = new Uint8Array(CHUNK);
  private view = new DataView(this.buf.buffer);
  private start = 0; // file position of buf[0]
  private len = 0; // valid bytes in buf
  pos = 0;
  private readonly decoder = new TextDecoder("utf-8", { ignoreBOM: true });

  constructor(
    private readonly fd: number,
    readonly fileSize: number,
  ) {}

  get remaining(): number {
    return this.fileSize - this.pos;
  }

  /** Makes bytes [pos, pos+n) available; returns their index in buf. */
  private need(n: number, what: string): number {
    if (n > this.remaining)
      fail(`unexpected end of file reading ${what} at byte ${this.pos} (file is ${this.fileSize} bytes)`);
    if (this.pos < this.start || this.pos + n > this.start + this.len) {
      const want = Math.min(Math.max(n, CHUNK), this.remaining);
      if (want > this.buf.length) {
        this.buf = new Uint8Array(want);
        this.view = new DataView(this.buf.buffer);
      }
      readFully(this.fd, this.buf, 0, want, this.pos);
      this.start = this.pos;
      this.len = want;
    }
    const i = this.pos - this.start;
    this.pos += n;
    return i;
  }

  u8(what: string): number {
    return this.buf[this.need(1, what)]!;
  }
  u32(what: string): number {
    return this.view.getUint32(this.need(4, what), true);
  }
  /** A u64 as a number when safe, else a bigint. */
  u64(what: string): number | bigint {
    const i = this.need(8, what);
    const lo = this.view.getUint32(i, true);
    const hi = this.view.getUint32(i + 4, true);
    return hi < 0x200000 ? hi * 2 ** 32 + lo : this.view.getBigUint64(i, true);
  }
  i64(what: string): number | bigint {
    const v = this.view.getBigInt64(this.need(8, what), true);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  /** A u64 element count, checked so that `count * minBytes` fits in the rest of the file. */
  count(what: string, minBytes: number, max = Infinity): number {
    const c = this.u64(what);
    if (typeof c === "bigint" || c * minBytes > this.remaining) {
      fail(`${what} ${c} cannot fit in the remaining ${this.remaining} bytes (truncated or corrupt file)`);
    }
    if (c > max) fail(`${what} ${c} exceeds the limit of ${max}`);
    return c;
  }

  string(what: string): string {
    const n = this.count(`${what} length`, 1, MAX_STRING_BYTES);
    const i = this.need(n, what);
    const b = this.buf;
    let ascii = n <= 64;
    for (let k = 0; ascii && k < n; k++) if (b[i + k]! >= 0x80) ascii = false;
    if (ascii) return String.fromCharCode.apply(null, Array.from(b.subarray(i, i + n)));
    return this.decoder.decode(b.subarray(i, i + n));
  }

  /** `n` raw bytes copied into a fresh (aligned) buffer. */
  bytes(n: number, what: string): Uint8Array {
    const i = this.need(n, what);
    return this.buf.slice(i, i + n);
  }

  value(type: number, what: string, depth: number): GGUFValue {
    switch (type) {
      case 0:
        return this.u8(what);
      case 1:
        return (this.u8(what) << 24) >> 24;
      case 2:
        return this.view.getUint16(this.need(2, what), true);
      case 3:
        return this.view.getInt16(this.need(2, what), true);
      case 4:
        return this.u32(what);
      case 5:
        return this.view.getInt32(this.need(4, what), true);
      case 6:
        return this.view.getFloat32(this.need(4, what), true);
      case 7:
        return this.u8(what) !== 0;
      case 8:
        return this.string(what);
      case 9:
        return this.array(what, depth + 1);
      case 10:
        return this.u64(what);
      case 11:
        return this.i64(what);
      case 12:
        return this.view.getFloat64(this.need(8, what), true);
      default:
        return fail(`${what} has unknown value type ${type}`);
    }
  }

  valueType(what: string): number {
    const t = this.u32(`${what} type`);
    if (t >= GGUF_VALUE_TYPES.length) fail(`${what} has unknown value type ${t}`);
    return t;
  }

  array(what: string, depth: number): GGUFValue {
    if (depth > MAX_ARRAY_DEPTH) fail(`${what} nests arrays deeper than ${MAX_ARRAY_DEPTH}`);
    const et = this.valueType(`${what} element`);
    const n = this.count(`${what} element count`, MIN_BYTES[et]!, MAX_ARRAY_ELEMENTS);
    const make = TYPED_ARRAY[et];
    if (make) return make(this.bytes(n * MIN_BYTES[et]!, what).buffer as ArrayBuffer, n);
    if (et === 7) {
      const b = this.bytes(n, what);
      return Array.from(b, (v) => v !== 0);
    }
    const out: GGUFValue[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.value(et, `${what}[${i}]`, depth);
    return out as GGUFValue;
  }
}

// Fixed-size element types become typed arrays over a copy of their bytes (little-endian host).
const TYPED_ARRAY: Record<number, (b: ArrayBuffer, n: number) => GGUFValue> = {
  0: (b, n) => new Uint8Array(b, 0, n),
  1: (b, n) => new Int8Array(b, 0, n),
  2: (b, n) => new Uint16Array(b, 0, n),
  3: (b, n) => new Int16Array(b, 0, n),
  4: (b, n) => new Uint32Array(b, 0, n),
  5: (b, n) => new Int32Array(b, 0, n),
  6: (b, n) => new Float32Array(b, 0, n),
  10: (b, n) => new BigUint64Array(b, 0, n),
  11: (b, n) => new BigInt64Array(b, 0, n),
  12: (b, n) => new Float64Array(b, 0, n),
};

function readFully(fd: number, buf: Uint8Array, off: number, n: number, position: number): void {
  const got = readAt(fd, buf.subarray(off, off + n), position);
  if (got < n) fail(`unexpected end of file at byte ${position + got}`);
}

function typeName(t: number): GGUFType {
  return GGUF_VALUE_TYPES[t] as GGUFType;
}

function ggmlTypeLabel(t: number): string {
  return `${GGML_TYPE_NAMES[t] ?? "unknown"} (${t})`;
}

/** Reads a GGUF file: metadata, tensor infos and (unless `metadataOnly`) every tensor's bytes. */
export function readGGUF(path: string, opts: ReadGGUFOptions = {}): GGUFFile {
  try {
    return withOpenFile(path, "GGUF", (fd, size) => readOpen(fd, size, opts));
  } catch (e) {
    if (e instanceof Error && e.message.startsWith("GGUF:")) throw e;
    throw new Error(`GGUF: ${path}: ${(e as Error).message}`, { cause: e });
  }
}

function readOpen(fd: number, fileSize: number, opts: ReadGGUFOptions): GGUFFile {
  const r = new HeaderReader(fd, fileSize);
  if (r.fileSize < 4) fail(`file too short for a header (${r.fileSize} bytes)`);
  const magic = r.u32("magic");
  if (magic !== GGUF_MAGIC) fail(`bad magic 0x${magic.toString(16).padStart(8, "0")} (not a GGUF file)`);
  const version = r.u32("version");
  if (version !== 2 && version !== 3) {
    const swapped = version === 0x02000000 || version === 0x03000000 ? " (a big-endian file?)" : "";
    fail(`unsupported version ${version}${swapped}; only versions 2 and 3 are read`);
  }
  // Minimum encodings: a tensor info is name(8) + n_dims(4) + type(4) + offset(8); a key/value 8+4+1.
  const nTensors = r.count("tensor count", 24);
  const nKV = r.count("metadata count", 13);

  const metadata = new Map<string, GGUFValue>();
  const metadataTypes = new Map<string, GGUFType>();
  for (let i = 0; i < nKV; i++) {
    const key = r.string(`metadata key #${i}`);
    if (metadata.has(key)) fail(`duplicate metadata key '${key}'`);
    const t = r.valueType(`metadata '${key}'`);
    let type = typeName(t);
    if (t === 9) {
      const save = r.pos;
      const et = r.valueType(`metadata '${key}' element`);
      r.pos = save;
      type = et === 9 ? "array" : (`${GGUF_VALUE_TYPES[et] as GGUFScalarType}[]` as GGUFType);
    }
    metadata.set(key, r.value(t, `metadata '${key}'`, 0));
    metadataTypes.set(key, type);
  }

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  if (metadata.has("general.alignment")) {
    const a = metadata.get("general.alignment");
    if (
      metadataTypes.get("general.alignment") !== "u32" ||
      typeof a !== "number" ||
      a === 0 ||
      (a & (a - 1)) !== 0
    ) {
      fail(`general.alignment must be a u32 power of two, got ${String(a)}`);
    }
    alignment = a;
  }

  const infos: GGUFTensorInfo[] = [];
  const rel: number[] = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const name = r.string(`tensor #${i} name`);
    if (names.has(name)) fail(`duplicate tensor name '${name}'`);
    names.add(name);
    const nDims = r.u32(`tensor '${name}' n_dims`);
    if (nDims > GGUF_MAX_DIMS) fail(`tensor '${name}' has ${nDims} dimensions (at most ${GGUF_MAX_DIMS})`);
    const ne: number[] = [];
    let elems = 1n;
    for (let d = 0; d < nDims; d++) {
      const v = r.u64(`tensor '${name}' dimension ${d}`);
      if (typeof v === "bigint") fail(`tensor '${name}' dimension ${d} is too large (${v})`);
      ne.push(v);
      elems *= BigInt(v);
    }
    const gt = r.u32(`tensor '${name}' type`);
    const dtype: DType | undefined = DTYPE_OF_GGML.get(gt);
    if (!dtype) {
      fail(
        `tensor '${name}' has ggml type ${ggmlTypeLabel(gt)}, which is not supported ` +
          `(supported: F32, F16, BF16, I32, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K)`,
      );
    }
    const info = DTYPES[dtype];
    const ne0 = nDims ? ne[0]! : 1;
    if (ne0 % info.blockSize !== 0) {
      fail(
        `tensor '${name}' row length ${ne0} is not a multiple of the ${dtype} block size ${info.blockSize}`,
      );
    }
    const bytes = (elems / BigInt(info.blockSize)) * BigInt(info.blockBytes);
    if (bytes > BigInt(r.fileSize)) {
      fail(
        `tensor '${name}' shape [${[...ne].reverse().join(", ")}] needs ${bytes} bytes, more than the file holds`,
      );
    }
    const off = r.u64(`tensor '${name}' offset`);
    if (typeof off === "bigint" || off > r.fileSize)
      fail(`tensor '${name}' offset ${off} lies beyond the end of the file`);
    if (off % alignment !== 0)
      fail(`tensor '${name}' offset ${off} is not a multiple of the alignment ${alignment}`);
    infos.push({ name, shape: ne.reverse(), dtype, offset: 0, byteLength: Number(bytes) });
    rel.push(off);
  }

  const dataOffset = Math.ceil(r.pos / alignment) * alignment;
  for (let i = 0; i < infos.length; i++) {
    const t = infos[i]!;
    t.offset = dataOffset + rel[i]!;
    if (t.offset + t.byteLength > r.fileSize) {
      fail(
        `tensor '${t.name}' data (bytes ${t.offset}..${t.offset + t.byteLength}) lies beyond the end of the file ` +
          `(${r.fileSize} bytes; truncated?)`,
      );
    }
  }

  const tensors = new Map<string, Tensor>();
  if (!opts.metadataOnly) {
    const alloc = opts.allocator ?? getAllocator();
    for (const t of infos) {
      let buf: Uint8Array;
      try {
        buf = alloc.alloc(t.byteLength);
      } catch (e) {
        return fail(`cannot allocate ${t.byteLength} bytes for tensor '${t.name}': ${(e as Error).message}`);
      }
      readFully(fd, buf, 0, t.byteLength, t.offset);
      tensors.set(t.name, Tensor.fromBytes(t.dtype, t.shape, buf.subarray(0, t.byteLength)));
    }
  }
  return { version, alignment, metadata, metadataTypes, tensorInfos: infos, dataOffset, tensors };
}
