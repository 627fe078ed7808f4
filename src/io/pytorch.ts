// PyTorch checkpoint reader for the zip format torch.save writes since 1.6 (`<dir>/data.pkl` pickled
// with persistent ids ('storage', type, key, location, numel) that name raw `<dir>/data/<key>` entries).

import { closeSync, openSync } from "node:fs";
import { getAllocator, type Allocator } from "../tensor/storage.js";
import { Tensor } from "../tensor/tensor.js";
import { readAt } from "./fileio.js";
import { PyCallable, PyObject, PyTuple, unpickle, type PyValue } from "./pickle.js";
import { openZip, type ZipArchive, type ZipEntry } from "./zip.js";

export interface PytorchFile {
  tensors: Map<string, Tensor>;
}

/** Element types of torch.*Storage classes; the integer types are widened or narrowed to i32. */
type StorageKind = "f32" | "f16" | "bf16" | "i32" | "i64" | "i16" | "i8" | "u8" | "bool" | "f64";

const STORAGE_TYPES: ReadonlyMap<string, StorageKind> = new Map([
  ["FloatStorage", "f32"],
  ["HalfStorage", "f16"],
  ["BFloat16Storage", "bf16"],
  ["IntStorage", "i32"],
  ["LongStorage", "i64"],
  ["ShortStorage", "i16"],
  ["CharStorage", "i8"],
  ["ByteStorage", "u8"],
  ["BoolStorage", "bool"],
  ["DoubleStorage", "f64"],
]);

const ELEMENT_BYTES: Readonly<Record<StorageKind, number>> = {
  f32: 4,
  f16: 2,
  bf16: 2,
  i32: 4,
  i64: 8,
  i16: 2,
  i8: 1,
  u8: 1,
  bool: 1,
  f64: 8,
};

interface StorageRef {
  kind: StorageKind;
  entry: ZipEntry;
  numel: number;
  /** Filled on first use; shared by every tensor that views this storage. */
  bytes: Uint8Array | null;
}

function fail(msg: string): never {
  throw new Error(`pytorch: ${msg}`);
}

function isIndex(v: PyValue): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function indexList(v: PyValue, what: string): number[] {
  if (!(v instanceof PyTuple) || !v.items.every(isIndex))
    fail(`${what} must be a tuple of non-negative integers`);
  return v.items as number[];
}

/** Reads the tensors of a torch.save'd state dict (nested dicts are flattened with dotted names). */
export function readPytorchBin(path: string, opts: { allocator?: Allocator } = {}): PytorchFile {
  const allocator = opts.allocator ?? getAllocator();
  if (isLegacyPickle(path))
    fail("legacy (pre-1.6, non-zip) torch.save files are not supported; re-save them");
  const zip = openZip(path);
  try {
    const pkls = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
    if (pkls.length !== 1) fail(`expected one <dir>/data.pkl in the archive, found ${pkls.length}`);
    const prefix = pkls[0]!.slice(0, -"data.pkl".length);
    const order = zip.entries.get(`${prefix}byteorder`);
    if (order && new TextDecoder().decode(zip.read(order)) !== "little")
      fail("big-endian checkpoints are not supported");
    const storages = new Map<string, PyObject>();
    const root = unpickle(zip.read(zip.entries.get(pkls[0]!)!), {
      globals: tensorGlobals(zip, allocator),
      allowed: "tensor-rebuild",
      persistentLoad: (pid) => storageRef(zip, prefix, pid, storages),
    });
    const tensors = new Map<string, Tensor>();
    collect(root, "", tensors);
    return { tensors };
  } finally {
    zip.close();
  }
}

/** Dicts nested deeper than this (or containing themselves) are refused. */
const MAX_DEPTH = 32;

/** The pre-1.6 format is a bare pickle stream (PROTO 2 and a LONG1 magic number), not a zip. */
function isLegacyPickle(path: string): boolean {
  const head = new Uint8Array(3);
  const fd = openSync(path, "r");
  try {
    return readAt(fd, head, 0) === 3 && head[0] === 0x80 && head[1] === 0x02 && head[2] === 0x8a;
  } finally {
    closeSync(fd);
  }
}

function collect(v: PyValue, prefix: string, out: Map<string, Tensor>, depth = 0): void {
  if (v instanceof Map) {
    if (depth >= MAX_DEPTH) fail(`dicts are nested more than ${MAX_DEPTH} deep (or contain themselves)`);
    for (const [k, x] of v) {
      if (typeof k === "string") collect(x, prefix ? `${prefix}.${k}` : k, out, depth + 1);
    }
  } else if (v instanceof PyObject && v.value instanceof Tensor) {
    out.set(prefix, v.value);
  }
}

/** The storage a persistent id names; one per key, so tensors that share a storage share its bytes. */
function storageRef(zip: ZipArchive, prefix: string, pid: PyValue, seen: Map<string, PyObject>): PyObject {
  if (!(pid instanceof PyTuple) || pid.items.length !== 5 || pid.items[0] !== "storage") {
    fail("persistent id is not a ('storage', type, key, location, numel) tuple");
  }
  const [, type, key, , numel] = pid.items;
  const kind =
    type instanceof PyCallable && type.module === "torch" ? STORAGE_TYPES.get(type.name) : undefined;
  if (!kind) fail("persistent id does not name a torch storage type");
  if (typeof key !== "string" || !isIndex(numel)) fail("persistent id has a bad key or element count");
  const known = seen.get(key);
  if (known) {
    const ref = known.value as StorageRef;
    if (ref.kind !== kind || ref.numel !== numel)
      fail(`storage "${key}" is named with two different types or sizes`);
    return known;
  }
  const entry = zip.entries.get(`${prefix}data/${key}`);
  if (!entry) fail(`storage "${key}" has no entry ${prefix}data/${key}`);
  const need = numel * ELEMENT_BYTES[kind];
  if (entry.size < need)
    fail(`storage "${key}" holds ${entry.size} bytes, ${need} needed for ${numel} elements`);
  const ref: StorageRef = { kind, entry, numel, bytes: null };
  const obj = new PyObject("storage", ref);
  seen.set(key, obj);
  return obj;
}

function tensorGlobals(zip: ZipArchive, allocator: Allocator): Map<string, PyCallable> {
  const g = new Map<string, PyCallable>();
  const add = (module: string, name: string, call: (args: PyValue[]) => PyValue): void => {
    g.set(`${module}.${name}`, new PyCallable(module, name, call));
  };
  add("collections", "OrderedDict", (args) => {
    if (args.length !== 0) fail("OrderedDict with arguments is not supported");
    return new Map();
  });
  add("torch._utils", "_rebuild_tensor_v2", (args) => rebuildTensor(zip, allocator, args));
  const parameter = (args: PyValue[]): PyValue => {
    if (!(args[0] instanceof PyObject) || !(args[0].value instanceof Tensor))
      fail("_rebuild_parameter needs a tensor");
    return args[0];
  };
  add("torch._utils", "_rebuild_parameter", parameter);
  add("torch._utils", "_rebuild_parameter_with_state", parameter);
  for (const name of STORAGE_TYPES.keys()) {
    add("torch", name, () => fail(`torch.${name} may only name a storage type`));
  }
  return g;
}

function rebuildTensor(zip: ZipArchive, allocator: Allocator, args: PyValue[]): PyObject {
  if (args.length < 6 || args.length > 7)
    fail(`_rebuild_tensor_v2 expects 6 or 7 arguments, got ${args.length}`);
  const [storage, offset, sizeV, strideV] = args;
  if (!(storage instanceof PyObject) || storage.kind !== "storage")
    fail("_rebuild_tensor_v2 needs a storage");
  if (!isIndex(offset!)) fail("storage offset must be a non-negative integer");
  const shape = indexList(sizeV!, "size");
  const stride = indexList(strideV!, "stride");
  if (stride.length !== shape.length) fail(`size [${shape}] and stride [${stride}] differ in length`);
  const ref = storage.value as StorageRef;
  let count = 1;
  let last = offset;
  for (let i = 0; i < shape.length; i++) {
    count *= shape[i]!;
    if (shape[i]! > 0) last += (shape[i]! - 1) * stride[i]!;
  }
  if (!Number.isSafeInteger(count) || !Number.isSafeInteger(last)) fail(`size [${shape}] is too large`);
  if (count > 0 && last >= ref.numel) {
    fail(
      `tensor [${shape}] with stride [${stride}] at offset ${offset} overruns its ${ref.numel}-element storage`,
    );
  }
  if (ref.kind === "f64") fail("float64 (DoubleStorage) tensors are not supported");
  if (!ref.bytes) {
    const len = ref.numel * ELEMENT_BYTES[ref.kind];
    ref.bytes = zip.read(ref.entry, alloc(allocator, ref.entry.size)).subarray(0, len);
  }
  return new PyObject("tensor", toTensor(ref, shape, stride, offset, count, allocator));
}

function toTensor(
  ref: StorageRef,
  shape: number[],
  stride: number[],
  offset: number,
  count: number,
  allocator: Allocator,
): Tensor {
  const bytes = ref.bytes!;
  const kind = ref.kind;
  if (kind === "f32" || kind === "i32" || kind === "f16" || kind === "bf16") {
    const size = ELEMENT_BYTES[kind];
    if (isContiguous(shape, stride)) {
      return Tensor.fromBytes(kind, shape, bytes.subarray(offset * size, (offset + count) * size));
    }
    const out = alloc(allocator, count * size);
    forEachStrided(shape, stride, offset, (i, j) => {
      for (let b = 0; b < size; b++) out[i * size + b] = bytes[j * size + b]!;
    });
    return Tensor.fromBytes(kind, shape, out);
  }
  // Integer storages become i32 (i64 only when every value fits).
  const out = alloc(allocator, count * 4);
  const ints = new Int32Array(out.buffer, out.byteOffset, count);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const get: (j: number) => number =
    kind === "i64"
      ? (j) => {
          const x = v.getBigInt64(j * 8, true);
          if (x < -2147483648n || x > 2147483647n) fail(`int64 value ${x} does not fit in int32`);
          return Number(x);
        }
      : kind === "i16"
        ? (j) => v.getInt16(j * 2, true)
        : kind === "i8"
          ? (j) => v.getInt8(j)
          : (j) => v.getUint8(j);
  forEachStrided(shape, stride, offset, (i, j) => {
    ints[i] = get(j);
  });
  return new Tensor("i32", shape, ints);
}

function isContiguous(shape: number[], stride: number[]): boolean {
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i]! > 1 && stride[i] !== acc) return false;
    acc *= shape[i]!;
  }
  return true;
}

/** Calls fn(destination index, storage element index) in row-major order. */
function forEachStrided(
  shape: number[],
  stride: number[],
  offset: number,
  fn: (i: number, j: number) => void,
): void {
  const nd = shape.length;
  const count = shape.reduce((a, d) => a * d, 1);
  const idx = new Array<number>(nd).fill(0);
  let j = offset;
  for (let i = 0; i < count; i++) {
    fn(i, j);
    for (let d = nd - 1; d >= 0; d--) {
      idx[d]!++;
      j += stride[d]!;
      if (idx[d]! < shape[d]!) break;
      j -= idx[d]! * stride[d]!;
      idx[d] = 0;
    }
  }
}

function alloc(allocator: Allocator, n: number): Uint8Array {
  try {
    return allocator.alloc(n).subarray(0, n);
  } catch (e) {
    fail(`cannot allocate ${n} bytes: ${(e as Error).message}`);
  }
}
