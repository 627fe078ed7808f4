// ONNX weight reader: a minimal protobuf decoder for ModelProto → GraphProto → initializer (TensorProto) and the
// node list (op, inputs, outputs, scalar/list attributes), following onnx/onnx.proto3. External data is refused.

import { readFileSync } from "node:fs";
import { Tensor } from "../tensor/tensor.js";
import { byteSize, numel, type DType } from "../tensor/dtype.js";
import { getAllocator } from "../tensor/storage.js";

/** One graph node; attributes keep only numbers, strings and lists of numbers. */
export interface OnnxNode {
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: ReadonlyMap<string, number | string | readonly number[]>;
}

export interface OnnxModel {
  readonly initializers: Map<string, Tensor>;
  readonly nodes: readonly OnnxNode[];
}

const MAX_DIMS = 16;
const MAX_INITIALIZERS = 1_000_000;
const MAX_ATTRIBUTE_VALUES = 1_000_000;
const MAX_STRING_BYTES = 4096;

// TensorProto.DataType values this reader accepts.
const FLOAT = 1;
const INT32 = 6;
const INT64 = 7;
const FLOAT16 = 10;
const BFLOAT16 = 16;
const TYPE_NAMES: Record<number, string> = {
  1: "float",
  2: "uint8",
  3: "int8",
  4: "uint16",
  5: "int16",
  6: "int32",
  7: "int64",
  8: "string",
  9: "bool",
  10: "float16",
  11: "double",
  12: "uint32",
  13: "uint64",
  14: "complex64",
  15: "complex128",
  16: "bfloat16",
};

function fail(msg: string): never {
  throw new Error(`onnx: ${msg}`);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A bounded cursor over one protobuf message. */
class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
    readonly what: string,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** An unsigned varint that must fit a safe integer (lengths, enums, dims, tags). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) fail(`truncated varint in ${this.what} at byte ${this.pos}`);
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(result)) fail(`varint ${result} too large in ${this.what}`);
        return result;
      }
      scale *= 128;
    }
    fail(`varint longer than 10 bytes in ${this.what} at byte ${this.pos}`);
  }

  /** A varint read as a two's-complement int64 (int64_data, attribute i). */
  int64(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) fail(`truncated varint in ${this.what} at byte ${this.pos}`);
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return BigInt.asIntN(64, result);
      shift += 7n;
    }
    fail(`varint longer than 10 bytes in ${this.what} at byte ${this.pos}`);
  }

  /** Bounds of a length-delimited field's payload; the cursor moves past it. */
  bytes(): [number, number] {
    const len = this.varint();
    const start = this.pos;
    if (len > this.end - start)
      fail(`field of ${len} bytes overruns ${this.what} (${this.end - start} left)`);
    this.pos = start + len;
    return [start, start + len];
  }

  string(): string {
    const [s, e] = this.bytes();
    if (e - s > MAX_STRING_BYTES) fail(`string of ${e - s} bytes in ${this.what}`);
    try {
      return utf8.decode(this.buf.subarray(s, e));
    } catch {
      fail(`invalid UTF-8 string in ${this.what}`);
    }
  }

  sub(what: string): Reader {
    const [s, e] = this.bytes();
    return new Reader(this.buf, s, e, what);
  }

  fixed32(): number {
    if (this.end - this.pos < 4) fail(`truncated fixed32 in ${this.what}`);
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  skip(wire: number): void {
    switch (wire) {
      case 0:
        this.int64();
        return;
      case 1:
        if (this.end - this.pos < 8) fail(`truncated fixed64 in ${this.what}`);
        this.pos += 8;
        return;
      case 2:
        this.bytes();
        return;
      case 5:
        if (this.end - this.pos < 4) fail(`truncated fixed32 in ${this.what}`);
        this.pos += 4;
        return;
      default:
        fail(`unsupported wire type ${wire} in ${this.what} at byte ${this.pos}`);
    }
  }

  /** Field number and wire type of the next field. */
  tag(): [number, number] {
    const t = this.varint();
    const field = Math.floor(t / 8);
    if (field === 0) fail(`field number 0 in ${this.what} at byte ${this.pos}`);
    return [field, t % 8];
  }
}

/** Repeated varint field, packed (wire 2) or not (wire 0). */
function readVarints(r: Reader, wire: number, into: bigint[], limit: number): void {
  if (wire === 0) into.push(r.int64());
  else if (wire === 2) {
    const p = r.sub(r.what);
    while (!p.done) into.push(p.int64());
  } else fail(`wire type ${wire} for a varint list in ${r.what}`);
  if (into.length > limit) fail(`more than ${limit} values in a list in ${r.what}`);
}

interface RawTensor {
  name: string;
  dims: number[];
  dataType: number;
  raw: [number, number] | null;
  /** Packed fixed32 payloads of float_data. */
  floatRuns: [number, number][];
  floatSingles: number[];
  intVals: bigint[];
  external: boolean;
  segmented: boolean;
}

function readTensorProto(r: Reader, bufLen: number): RawTensor {
  const t: RawTensor = {
    name: "",
    dims: [],
    dataType: 0,
    raw: null,
    floatRuns: [],
    floatSingles: [],
    intVals: [],
    external: false,
    segmented: false,
  };
  const dims: bigint[] = [];
  while (!r.done) {
    const [field, wire] = r.tag();
    if (field === 1) readVarints(r, wire, dims, MAX_DIMS);
    else if (field === 2 && wire === 0) t.dataType = r.varint();
    else if (field === 3 && wire === 2) {
      t.segmented = true;
      r.skip(wire);
    } else if (field === 4 && wire === 2) t.floatRuns.push(r.bytes());
    else if (field === 4 && wire === 5) t.floatSingles.push(r.fixed32());
    else if (field === 5 || field === 7) readVarints(r, wire, t.intVals, bufLen);
    else if (field === 8 && wire === 2) t.name = r.string();
    else if (field === 9 && wire === 2) t.raw = r.bytes();
    else if (field === 13 && wire === 2) {
      t.external = true;
      r.skip(wire);
    } else if (field === 14 && wire === 0) t.external ||= r.varint() === 1;
    else r.skip(wire);
  }
  for (const d of dims) {
    if (d < 0n || d > BigInt(Number.MAX_SAFE_INTEGER)) fail(`tensor ${t.name}: bad dimension ${d}`);
    t.dims.push(Number(d));
  }
  return t;
}

function dtypeOf(t: RawTensor): DType {
  switch (t.dataType) {
    case FLOAT:
      return "f32";
    case FLOAT16:
      return "f16";
    case BFLOAT16:
      return "bf16";
    case INT32:
    case INT64:
      return "i32";
    default:
      fail(`tensor ${t.name}: data type ${TYPE_NAMES[t.dataType] ?? t.dataType} is not supported`);
  }
}

/** Builds the Tensor from whichever of raw_data / float_data / int32_data / int64_data carries the values. */
function toTensor(buf: Uint8Array, t: RawTensor): Tensor {
  if (t.external)
    fail(`tensor ${t.name} keeps its data in an external file, which this reader does not load`);
  if (t.segmented) fail(`tensor ${t.name} is segmented, which this reader does not support`);
  const dtype = dtypeOf(t);
  let n: number;
  try {
    n = numel(t.dims);
  } catch {
    fail(`tensor ${t.name}: shape [${t.dims.join(", ")}] is too large`);
  }
  const elemBytes = t.dataType === INT64 ? 8 : t.dataType === FLOAT || t.dataType === INT32 ? 4 : 2;
  if (n * elemBytes > buf.length)
    fail(`tensor ${t.name}: shape [${t.dims.join(", ")}] needs more bytes than the file has`);
  const out = getAllocator().alloc(byteSize(dtype, t.dims));
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const nFloat = t.floatRuns.reduce((a, [s, e]) => a + (e - s) / 4, 0) + t.floatSingles.length;
  const sources = (t.raw ? 1 : 0) + (nFloat > 0 ? 1 : 0) + (t.intVals.length > 0 ? 1 : 0);
  if (sources > 1) fail(`tensor ${t.name} carries its values in more than one field`);

  if (t.raw) {
    const [s, e] = t.raw;
    if (e - s !== n * elemBytes)
      fail(`tensor ${t.name}: raw_data has ${e - s} bytes, shape needs ${n * elemBytes}`);
    if (t.dataType === INT64) {
      const src = new DataView(buf.buffer, buf.byteOffset + s, e - s);
      for (let i = 0; i < n; i++)
        view.setInt32(i * 4, int64ToInt32(t.name, src.getBigInt64(i * 8, true)), true);
    } else out.set(buf.subarray(s, e));
  } else if (t.dataType === FLOAT) {
    if (t.intVals.length) fail(`tensor ${t.name}: integer data on a float tensor`);
    if (nFloat !== n) fail(`tensor ${t.name}: float_data has ${nFloat} values, shape needs ${n}`);
    let o = 0;
    for (const [s, e] of t.floatRuns) {
      if ((e - s) % 4 !== 0) fail(`tensor ${t.name}: packed float_data of ${e - s} bytes`);
      out.set(buf.subarray(s, e), o);
      o += e - s;
    }
    for (const v of t.floatSingles) {
      view.setFloat32(o, v, true);
      o += 4;
    }
  } else {
    if (nFloat) fail(`tensor ${t.name}: float_data on a ${TYPE_NAMES[t.dataType]} tensor`);
    if (t.intVals.length !== n) fail(`tensor ${t.name}: ${t.intVals.length} values, shape needs ${n}`);
    for (let i = 0; i < n; i++) {
      const v = t.intVals[i]!;
      if (t.dataType === FLOAT16 || t.dataType === BFLOAT16) {
        // int32_data holds each 16-bit pattern zero-extended.
        if (v < 0n || v > 0xffffn) fail(`tensor ${t.name}: 16-bit value ${v} out of range`);
        view.setUint16(i * 2, Number(v), true);
      } else view.setInt32(i * 4, int64ToInt32(t.name, v), true);
    }
  }
  return Tensor.fromBytes(dtype, t.dims, out);
}

function int64ToInt32(name: string, v: bigint): number {
  if (v < -2147483648n || v > 2147483647n) fail(`tensor ${name}: int64 value ${v} does not fit int32`);
  return Number(v);
}

function readAttribute(r: Reader): [string, number | string | readonly number[]] {
  let name = "";
  let value: number | string | number[] | undefined;
  const ints: bigint[] = [];
  const floats: number[] = [];
  while (!r.done) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === 2) name = r.string();
    else if (field === 2 && wire === 5) value = r.fixed32();
    else if (field === 3 && wire === 0) value = Number(r.int64());
    else if (field === 4 && wire === 2) value = r.string();
    else if (field === 7 && wire === 5) floats.push(r.fixed32());
    else if (field === 7 && wire === 2) {
      const p = r.sub(r.what);
      while (!p.done) floats.push(p.fixed32());
    } else if (field === 8) readVarints(r, wire, ints, MAX_ATTRIBUTE_VALUES);
    else r.skip(wire);
  }
  if (value === undefined && ints.length) value = ints.map(Number);
  if (value === undefined && floats.length) value = floats;
  return [name, value ?? []];
}

function readNode(r: Reader): OnnxNode {
  const inputs: string[] = [];
  const outputs: string[] = [];
  const attributes = new Map<string, number | string | readonly number[]>();
  let name = "";
  let opType = "";
  let domain = "";
  while (!r.done) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === 2) inputs.push(r.string());
    else if (field === 2 && wire === 2) outputs.push(r.string());
    else if (field === 3 && wire === 2) name = r.string();
    else if (field === 4 && wire === 2) opType = r.string();
    else if (field === 5 && wire === 2) {
      const [k, v] = readAttribute(r.sub("attribute"));
      attributes.set(k, v);
    } else if (field === 7 && wire === 2) domain = r.string();
    else r.skip(wire);
  }
  return { name, opType, domain, inputs, outputs, attributes };
}

/** Decodes an in-memory ONNX ModelProto: initializers (as Tensors) and the graph's nodes. */
export function parseOnnx(buf: Uint8Array): OnnxModel {
  const model = new Reader(buf, 0, buf.length, "ModelProto");
  let graph: Reader | null = null;
  while (!model.done) {
    const [field, wire] = model.tag();
    if (field === 7 && wire === 2) {
      if (graph) fail("more than one graph in the model");
      graph = model.sub("GraphProto");
    } else model.skip(wire);
  }
  if (!graph) fail("no graph in the model (is this an ONNX file?)");

  const initializers = new Map<string, Tensor>();
  const nodes: OnnxNode[] = [];
  while (!graph.done) {
    const [field, wire] = graph.tag();
    if (field === 1 && wire === 2) nodes.push(readNode(graph.sub("NodeProto")));
    else if (field === 5 && wire === 2) {
      const raw = readTensorProto(graph.sub("TensorProto"), buf.length);
      if (!raw.name) fail(`initializer #${initializers.size} has no name`);
      if (initializers.has(raw.name)) fail(`duplicate initializer ${raw.name}`);
      if (initializers.size >= MAX_INITIALIZERS) fail(`more than ${MAX_INITIALIZERS} initializers`);
      initializers.set(raw.name, toTensor(buf, raw));
    } else if (field === 15 && wire === 2) fail("sparse initializers are not supported");
    else graph.skip(wire);
  }
  return { initializers, nodes };
}

/** The initializers (weights) of an ONNX file, by name. */
export function readOnnxInitializers(path: string): Map<string, Tensor> {
  return readOnnxModel(path).initializers;
}

/** Initializers and nodes of an ONNX file (nodes show how a fused export shares deduplicated weights). */
export function readOnnxModel(path: string): OnnxModel {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    fail(`cannot read ${path}: ${(e as Error).message}`);
  }
  return parseOnnx(bytes);
}
