// GGUF v3 writer (ggml's model container): typed metadata, tensor infos, aligned data section.
// f32 matrices may be converted to f16 or Q8_0 on the way out, like llama.cpp's convert script.

import * as fs from "node:fs";
import * as nodePath from "node:path";
import { DTYPES, type DType } from "../tensor/dtype.js";
import { quantizeRow } from "../tensor/quant.js";
import type { Tensor } from "../tensor/tensor.js";
import {
  GGML_TYPE_OF,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_MAX_DIMS,
  GGUF_VALUE_TYPES,
  type GGUFScalarType,
  type GGUFType,
  type GGUFValue,
} from "./gguf-types.js";

export interface WriteGGUFContent {
  metadata: Map<string, GGUFValue> | Record<string, GGUFValue>;
  tensors: { name: string; tensor: Tensor }[];
}

export interface WriteGGUFOptions {
  /** Storage type for f32 tensors of two or more dimensions (1-D tensors stay f32); default "f32". */
  dtype?: "f32" | "f16" | "q8_0";
  /** Replace an existing file at `path` (default: refuse). */
  overwrite?: boolean;
  /** Explicit value types by key, e.g. { "llama.rope.freq_base": "f32", "tokenizer.ggml.scores": "f32[]" }. */
  valueTypes?: Map<string, GGUFType> | Record<string, GGUFType>;
}

/** Keys llama.cpp reads as f32 or typed arrays, so integral values must not be inferred as u32. */
const KNOWN_TYPES: [suffix: string, type: GGUFType][] = [
  ["general.alignment", "u32"],
  [".rope.freq_base", "f32"],
  [".rope.scale_linear", "f32"],
  [".rope.scaling.factor", "f32"],
  [".rope.scaling.attn_factor", "f32"],
  [".attention.layer_norm_epsilon", "f32"],
  [".attention.layer_norm_rms_epsilon", "f32"],
  [".attention.clamp_kqv", "f32"],
  [".attention.max_alibi_bias", "f32"],
  [".logit_scale", "f32"],
  ["tokenizer.ggml.scores", "f32[]"],
  ["tokenizer.ggml.token_type", "i32[]"],
];

const MAX_NAME_BYTES = 63; // llama.cpp rejects tensor names of GGML_MAX_NAME (64) bytes or more

function fail(msg: string): never {
  throw new Error(`GGUF: ${msg}`);
}

/** A little-endian byte builder that grows as needed. */
class ByteWriter {
  buf = new Uint8Array(1 << 16);
  len = 0;
  private view = new DataView(this.buf.buffer);
  private readonly enc = new TextEncoder();

  /** Reserves `n` bytes, growing the buffer first, and returns their offset. */
  private reserve(n: number): number {
    if (this.len + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    this.len += n;
    return this.len - n;
  }
  u8(v: number): void {
    const at = this.reserve(1);
    this.buf[at] = v;
  }
  u32(v: number): void {
    const at = this.reserve(4);
    this.view.setUint32(at, v, true);
  }
  u64(v: number | bigint): void {
    const at = this.reserve(8);
    this.view.setBigUint64(at, BigInt(v), true);
  }
  bytes(b: Uint8Array): void {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
  }
  string(s: string): void {
    const b = this.enc.encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  scalar(t: GGUFScalarType, v: unknown, what: string): void {
    const bad = (): never => fail(`${what}: ${String(v)} is not a ${t}`);
    const int = (lo: number, hi: number): number =>
      typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi ? v : bad();
    const big = (lo: bigint, hi: bigint): bigint => {
      const b = typeof v === "bigint" ? v : typeof v === "number" && Number.isInteger(v) ? BigInt(v) : bad();
      return b >= lo && b <= hi ? b : bad();
    };
    const float = (): number => (typeof v === "number" ? v : bad());
    const put = <T>(n: number, x: T, set: (dv: DataView, at: number, x: T) => void): void => {
      const at = this.reserve(n);
      set(this.view, at, x);
    };
    switch (t) {
      case "u8":
        return this.u8(int(0, 255));
      case "i8":
        return this.u8(int(-128, 127) & 0xff);
      case "u16":
        return put(2, int(0, 0xffff), (dv, at, x) => dv.setUint16(at, x, true));
      case "i16":
        return put(2, int(-0x8000, 0x7fff), (dv, at, x) => dv.setInt16(at, x, true));
      case "u32":
        return this.u32(int(0, 0xffffffff));
      case "i32":
        return put(4, int(-0x80000000, 0x7fffffff), (dv, at, x) => dv.setInt32(at, x, true));
      case "f32":
        return put(4, float(), (dv, at, x) => dv.setFloat32(at, x, true));
      case "f64":
        return put(8, float(), (dv, at, x) => dv.setFloat64(at, x, true));
      case "u64":
        return this.u64(big(0n, 2n ** 64n - 1n));
      case "i64":
        return put(8, big(-(2n ** 63n), 2n ** 63n - 1n), (dv, at, x) => dv.setBigInt64(at, x, true));
      case "bool":
        return this.u8(typeof v === "boolean" ? (v ? 1 : 0) : bad());
      case "string":
        return this.string(typeof v === "string" ? v : bad());
    }
  }
}

const TYPE_ID = new Map<string, number>(GGUF_VALUE_TYPES.map((t, i) => [t, i]));

function typedArrayType(v: unknown): GGUFScalarType | null {
  if (v instanceof Float32Array) return "f32";
  if (v instanceof Float64Array) return "f64";
  if (v instanceof Int32Array) return "i32";
  if (v instanceof Uint32Array) return "u32";
  if (v instanceof Int16Array) return "i16";
  if (v instanceof Uint16Array) return "u16";
  if (v instanceof Int8Array) return "i8";
  if (v instanceof Uint8Array) return "u8";
  if (v instanceof BigInt64Array) return "i64";
  if (v instanceof BigUint64Array) return "u64";
  return null;
}

function inferScalar(v: unknown, what: string): GGUFScalarType {
  if (typeof v === "boolean") return "bool";
  if (typeof v === "string") return "string";
  if (typeof v === "bigint") return v < 0n ? "i64" : "u64";
  if (typeof v === "number") {
    if (!Number.isInteger(v)) return "f32";
    if (v >= 0) return v <= 0xffffffff ? "u32" : "u64";
    return v >= -0x80000000 ? "i32" : "i64";
  }
  return fail(`${what}: cannot store a value of type ${typeof v}`);
}

/** Integers → u32 (i32 if any is negative, 64-bit when out of range), non-integers → f32. */
function inferElements(a: readonly unknown[], what: string): GGUFScalarType {
  if (a.length === 0) return "u32";
  const kinds = new Set(a.map((x) => inferScalar(x, what)));
  if (kinds.size === 1) return [...kinds][0]!;
  if ([...kinds].every((k) => k === "u32" || k === "i32")) return "i32";
  if ([...kinds].every((k) => k === "u32" || k === "i32" || k === "f32")) return "f32";
  if ([...kinds].every((k) => k.endsWith("64") && k !== "f64")) return "i64";
  return fail(`${what}: array mixes ${[...kinds].join(", ")}`);
}

function inferType(key: string, v: GGUFValue): GGUFType {
  const typed = typedArrayType(v);
  if (typed) return `${typed}[]`;
  for (const [suffix, t] of KNOWN_TYPES) if (key.endsWith(suffix)) return t;
  if (Array.isArray(v)) {
    if (v.length > 0 && v.every((x) => Array.isArray(x) || typedArrayType(x))) return "array";
    return `${inferElements(v, `metadata '${key}'`)}[]`;
  }
  return inferScalar(v, `metadata '${key}'`);
}

function writeValue(w: ByteWriter, type: GGUFType, v: GGUFValue, what: string): void {
  w.u32(TYPE_ID.get(type === "array" || type.endsWith("[]") ? "array" : type)!);
  writeBody(w, type, v, what, 0);
}

/** A value without its leading type id (arrays: element type, count, elements). */
function writeBody(w: ByteWriter, type: GGUFType, v: GGUFValue, what: string, depth: number): void {
  if (type === "array") {
    if (depth >= 8) fail(`${what}: arrays nested too deeply`);
    if (!Array.isArray(v)) fail(`${what}: expected an array of arrays`);
    w.u32(TYPE_ID.get("array")!);
    w.u64(v.length);
    v.forEach((x: GGUFValue, i: number) => {
      if (!Array.isArray(x) && !typedArrayType(x)) fail(`${what}[${i}]: expected an array`);
      writeBody(w, inferType("", x), x, `${what}[${i}]`, depth + 1);
    });
    return;
  }
  if (type.endsWith("[]")) {
    const et = type.slice(0, -2) as GGUFScalarType;
    if (!Array.isArray(v) && !typedArrayType(v)) fail(`${what}: expected an array for type ${type}`);
    const items = v as ArrayLike<unknown>;
    w.u32(TYPE_ID.get(et)!);
    w.u64(items.length);
    for (let i = 0; i < items.length; i++) w.scalar(et, items[i], `${what}[${i}]`);
    return;
  }
  w.scalar(type as GGUFScalarType, v, what);
}

interface TensorPlan {
  name: string;
  src: Tensor;
  dtype: DType;
  ne: number[];
  byteLength: number;
  offset: number;
}

function planTensor(name: string, t: Tensor, want: WriteGGUFOptions["dtype"]): Omit<TensorPlan, "offset"> {
  if (Buffer.byteLength(name) > MAX_NAME_BYTES)
    fail(`tensor name '${name}' is longer than ${MAX_NAME_BYTES} bytes`);
  if (t.ndim > GGUF_MAX_DIMS) fail(`tensor '${name}' has ${t.ndim} dimensions (at most ${GGUF_MAX_DIMS})`);
  let dtype = t.dtype;
  if (dtype === "f32" && t.ndim >= 2 && want && want !== "f32") {
    dtype = want === "q8_0" && t.shape[t.ndim - 1]! % 32 !== 0 ? "f16" : want;
  }
  const shape = t.ndim === 0 ? [1] : [...t.shape];
  const info = DTYPES[dtype];
  if (shape[shape.length - 1]! % info.blockSize !== 0) {
    fail(
      `tensor '${name}' row length ${shape[shape.length - 1]} is not a multiple of the ${dtype} block size`,
    );
  }
  const numel = shape.reduce((a, b) => a * b, 1);
  return { name, src: t, dtype, ne: shape.reverse(), byteLength: (numel / info.blockSize) * info.blockBytes };
}

function writeAll(fd: number, b: Uint8Array): void {
  let off = 0;
  while (off < b.length) off += fs.writeSync(fd, b, off, b.length - off);
}

/** Streams one tensor's bytes, converting f32 rows in chunks of about 1 MiB. */
function writeTensorData(fd: number, p: TensorPlan): void {
  const t = p.src;
  if (p.dtype === t.dtype) {
    writeAll(fd, t.contiguous().bytes());
    return;
  }
  const x = t.f32();
  const rowLen = p.ne[0]!;
  const rows = rowLen ? x.length / rowLen : 0;
  const info = DTYPES[p.dtype];
  const rowBytes = (rowLen / info.blockSize) * info.blockBytes;
  const perChunk = Math.max(1, Math.floor((1 << 20) / Math.max(1, rowBytes)));
  const buf = new Uint8Array(perChunk * rowBytes);
  for (let r0 = 0; r0 < rows; r0 += perChunk) {
    const nr = Math.min(perChunk, rows - r0);
    for (let r = 0; r < nr; r++) {
      quantizeRow(p.dtype as "f16" | "q8_0", x, (r0 + r) * rowLen, rowLen, buf, r * rowBytes);
    }
    writeAll(fd, buf.subarray(0, nr * rowBytes));
  }
}

/**
 * Writes a GGUF v3 file: metadata (types inferred, see `inferType`, unless given in `valueTypes`)
 * and tensors, alignment 32 or `general.alignment`. Written to a temporary file in the same folder,
 * then renamed over `path`; an existing file is refused unless `overwrite` is set.
 */
export function writeGGUF(path: string, content: WriteGGUFContent, opts: WriteGGUFOptions = {}): void {
  if (!opts.overwrite && fs.existsSync(path))
    fail(`${path} already exists (pass overwrite: true to replace it)`);
  const meta: [string, GGUFValue][] =
    content.metadata instanceof Map ? [...content.metadata] : Object.entries(content.metadata);
  const overrides =
    opts.valueTypes instanceof Map ? opts.valueTypes : new Map(Object.entries(opts.valueTypes ?? {}));

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(3);
  w.u64(content.tensors.length);
  w.u64(meta.length);
  const seen = new Set<string>();
  for (const [key, v] of meta) {
    if (seen.has(key)) fail(`duplicate metadata key '${key}'`);
    seen.add(key);
    const type = key === "general.alignment" ? "u32" : (overrides.get(key) ?? inferType(key, v));
    if ((type as string) === "array[]" || !TYPE_ID.has(type.replace(/\[\]$/, "")))
      fail(`metadata '${key}': unknown type ${type}`);
    if (key === "general.alignment") {
      if (typeof v !== "number" || !Number.isInteger(v) || v <= 0 || v > 2 ** 31 || (v & (v - 1)) !== 0) {
        fail(`general.alignment must be a power of two, got ${String(v)}`);
      }
      alignment = v;
    }
    w.string(key);
    writeValue(w, type, v, `metadata '${key}'`);
  }

  const plans: TensorPlan[] = [];
  const names = new Set<string>();
  let offset = 0;
  for (const { name, tensor } of content.tensors) {
    if (names.has(name)) fail(`duplicate tensor name '${name}'`);
    names.add(name);
    const p = { ...planTensor(name, tensor, opts.dtype), offset };
    plans.push(p);
    offset += Math.ceil(p.byteLength / alignment) * alignment;
    w.string(name);
    w.u32(p.ne.length);
    for (const d of p.ne) w.u64(d);
    w.u32(GGML_TYPE_OF[p.dtype]);
    w.u64(p.offset);
  }
  const pad = (n: number): Uint8Array => new Uint8Array((alignment - (n % alignment)) % alignment);
  if (plans.length > 0) w.bytes(pad(w.len)); // vocab-only files end right after the header, as llama.cpp writes them

  const dir = nodePath.dirname(path);
  const tmp = nodePath.join(dir, `.${nodePath.basename(path)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  let fd: number;
  try {
    fd = fs.openSync(tmp, "wx");
  } catch (e) {
    return fail(`cannot create ${tmp}: ${(e as Error).message}`);
  }
  try {
    writeAll(fd, w.buf.subarray(0, w.len));
    for (const p of plans) {
      writeTensorData(fd, p);
      writeAll(fd, pad(p.byteLength));
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = -1;
    if (!opts.overwrite && fs.existsSync(path))
      fail(`${path} already exists (pass overwrite: true to replace it)`);
    fs.renameSync(tmp, path);
  } catch (e) {
    if (fd >= 0) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    if (e instanceof Error && e.message.startsWith("GGUF:")) throw e;
    throw new Error(`GGUF: writing ${path}: ${(e as Error).message}`, { cause: e });
  }
}
