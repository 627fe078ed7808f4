// Tensor: a dtype, a shape, strides and an offset over one storage array. f32 and i32 tensors are
// typed arrays (views allowed); f16/bf16/quantized tensors keep their raw row-major bytes.

import { byteSize, DTYPES, numel, type DType } from "./dtype.js";
import { getAllocator } from "./storage.js";

export type Storage = Float32Array | Int32Array | Uint8Array;

export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** Whether strides are row-major for shape, ignoring dimensions of size 1. */
function isRowMajor(shape: readonly number[], strides: readonly number[]): boolean {
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i]! > 1 && strides[i] !== acc) return false;
    acc *= shape[i]!;
  }
  return true;
}

/** Autograd (tensor/grad.ts): an op records how to push a gradient back to its inputs (null: not a tensor input). */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly (Tensor | null)[];
  backward(grad: Tensor): (Tensor | null)[];
}

export class Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  /** f32 → Float32Array, i32 → Int32Array, everything else → raw bytes (Uint8Array). */
  readonly data: Storage;
  /** Number of elements (the shape's product, checked once here: ops read it many times a step). */
  readonly size: number;
  /** Whether the strides are row-major for the shape (dimensions of size 1 aside). */
  private readonly rowMajor: boolean;
  requiresGrad = false;
  grad: Tensor | null = null;
  gradNode: GradNode | null = null;

  constructor(
    dtype: DType,
    shape: readonly number[],
    data: Storage,
    strides?: readonly number[],
    offset = 0,
  ) {
    this.dtype = dtype;
    this.shape = Object.freeze(shape.slice());
    this.strides = Object.freeze(strides ? strides.slice() : contiguousStrides(shape));
    this.offset = offset;
    this.data = data;
    this.size = numel(shape);
    this.rowMajor = isRowMajor(this.shape, this.strides);
    const plain = dtype === "f32" || dtype === "i32";
    if (plain !== !(data instanceof Uint8Array))
      throw new Error(`storage kind does not match dtype ${dtype}`);
    if (dtype === "f32" && !(data instanceof Float32Array))
      throw new Error("f32 tensor needs a Float32Array");
    if (dtype === "i32" && !(data instanceof Int32Array)) throw new Error("i32 tensor needs an Int32Array");
    if (!plain && (offset !== 0 || !this.isContiguous())) {
      throw new Error(`${dtype} tensors must be contiguous`);
    }
    if (!plain && data.length < byteSize(dtype, shape))
      throw new Error(`${dtype} storage too small for shape`);
  }

  /** Zero-filled f32 tensor from the current allocator. */
  static zeros(shape: readonly number[], dtype: "f32" | "i32" = "f32", allocator = getAllocator()): Tensor {
    const n = numel(shape);
    const bytes = allocator.alloc(n * 4);
    const data =
      dtype === "f32"
        ? new Float32Array(bytes.buffer, bytes.byteOffset, n)
        : new Int32Array(bytes.buffer, bytes.byteOffset, n);
    return new Tensor(dtype, shape, data);
  }

  static fromArray(values: ArrayLike<number>, shape?: readonly number[]): Tensor {
    const t = Tensor.zeros(shape ?? [values.length]);
    if (t.size !== values.length) throw new Error(`${values.length} values do not fill shape [${t.shape}]`);
    (t.data as Float32Array).set(values);
    return t;
  }

  static fromInts(values: ArrayLike<number>, shape?: readonly number[]): Tensor {
    const t = Tensor.zeros(shape ?? [values.length], "i32");
    if (t.size !== values.length) throw new Error(`${values.length} values do not fill shape [${t.shape}]`);
    (t.data as Int32Array).set(values);
    return t;
  }

  /**
   * Wraps raw row-major bytes (as read from a checkpoint) without copying when alignment allows.
   * f32/i32 data whose byte offset is not 4-aligned is copied once.
   */
  static fromBytes(dtype: DType, shape: readonly number[], bytes: Uint8Array): Tensor {
    const need = byteSize(dtype, shape);
    if (bytes.byteLength < need) {
      throw new Error(`tensor data too short: ${bytes.byteLength} bytes for ${dtype} [${shape}] (${need})`);
    }
    if (dtype === "f32" || dtype === "i32") {
      let b = bytes;
      if (b.byteOffset % 4 !== 0) {
        b = getAllocator().alloc(need);
        b.set(bytes.subarray(0, need));
      }
      const n = need / 4;
      const data =
        dtype === "f32"
          ? new Float32Array(b.buffer, b.byteOffset, n)
          : new Int32Array(b.buffer, b.byteOffset, n);
      return new Tensor(dtype, shape, data);
    }
    return new Tensor(dtype, shape, bytes.subarray(0, need));
  }

  get ndim(): number {
    return this.shape.length;
  }

  get quantized(): boolean {
    return DTYPES[this.dtype].quantized;
  }

  /** Storage bytes this tensor covers (for memory reports). */
  get byteLength(): number {
    return byteSize(this.dtype, this.shape);
  }

  isContiguous(): boolean {
    return this.rowMajor;
  }

  /** The raw bytes of a contiguous tensor. */
  bytes(): Uint8Array {
    if (!this.isContiguous()) throw new Error("bytes() needs a contiguous tensor");
    const d = this.data;
    if (d instanceof Uint8Array) return d.subarray(0, this.byteLength);
    return new Uint8Array(d.buffer, d.byteOffset + this.offset * 4, this.size * 4);
  }

  /** A view with a new shape (one dimension may be -1); needs a contiguous tensor. */
  reshape(shape: readonly number[]): Tensor {
    const s = [...shape];
    const neg = s.indexOf(-1);
    if (neg >= 0) {
      const rest = s.reduce((a, d, i) => (i === neg ? a : a * d), 1);
      s[neg] = rest === 0 ? 0 : this.size / rest;
    }
    if (numel(s) !== this.size) throw new Error(`cannot reshape [${this.shape}] to [${shape}]`);
    if (!this.isContiguous()) return this.contiguous().reshape(s);
    return new Tensor(this.dtype, s, this.data, undefined, this.offset);
  }

  /** A strided view with dimensions `a` and `b` swapped (f32/i32 only). */
  transpose(a: number, b: number): Tensor {
    const nd = this.ndim;
    a = a < 0 ? a + nd : a;
    b = b < 0 ? b + nd : b;
    const shape = [...this.shape];
    const strides = [...this.strides];
    [shape[a], shape[b]] = [shape[b]!, shape[a]!];
    [strides[a], strides[b]] = [strides[b]!, strides[a]!];
    return new Tensor(this.dtype, shape, this.data, strides, this.offset);
  }

  /** A view of `length` entries of dimension `dim` starting at `start` (f32/i32 only). */
  narrow(dim: number, start: number, length: number): Tensor {
    dim = dim < 0 ? dim + this.ndim : dim;
    if (start < 0 || length < 0 || start + length > this.shape[dim]!) {
      throw new Error(`narrow(${dim}, ${start}, ${length}) out of range for [${this.shape}]`);
    }
    const shape = [...this.shape];
    shape[dim] = length;
    return new Tensor(this.dtype, shape, this.data, this.strides, this.offset + start * this.strides[dim]!);
  }

  /** A contiguous copy (or this tensor when it already is contiguous and starts at 0). */
  contiguous(): Tensor {
    if (this.isContiguous() && this.offset === 0) return this;
    if (this.dtype !== "f32" && this.dtype !== "i32")
      throw new Error(`${this.dtype} tensors are always contiguous`);
    const out = Tensor.zeros(this.shape, this.dtype);
    const src = this.data as Float32Array | Int32Array;
    const dst = out.data as Float32Array | Int32Array;
    const nd = this.ndim;
    const idx = new Array<number>(nd).fill(0);
    const n = this.size;
    let off = this.offset;
    const run = nd > 0 && this.strides[nd - 1] === 1 ? this.shape[nd - 1]! : 0;
    if (run > 1) {
      // whole rows of the last dimension at a time
      for (let i = 0; i < n; i += run) {
        dst.set(src.subarray(off, off + run), i);
        for (let d = nd - 2; d >= 0; d--) {
          idx[d]!++;
          off += this.strides[d]!;
          if (idx[d]! < this.shape[d]!) break;
          off -= idx[d]! * this.strides[d]!;
          idx[d] = 0;
        }
      }
      return out;
    }
    for (let i = 0; i < n; i++) {
      dst[i] = src[off]!;
      for (let d = nd - 1; d >= 0; d--) {
        idx[d]!++;
        off += this.strides[d]!;
        if (idx[d]! < this.shape[d]!) break;
        off -= idx[d]! * this.strides[d]!;
        idx[d] = 0;
      }
    }
    return out;
  }

  /** f32 values of a contiguous f32 tensor (a view, not a copy). */
  f32(): Float32Array {
    if (this.dtype !== "f32") throw new Error(`expected an f32 tensor, got ${this.dtype}`);
    const t = this.contiguous();
    const d = t.data as Float32Array;
    return d.length === t.size ? d : d.subarray(0, t.size); // contiguous() gives offset 0
  }

  toArray(): number[] {
    if (this.dtype !== "f32" && this.dtype !== "i32")
      throw new Error(`toArray on ${this.dtype}; dequantize first`);
    const t = this.contiguous();
    return Array.from((t.data as Float32Array | Int32Array).subarray(t.offset, t.offset + t.size));
  }
}
