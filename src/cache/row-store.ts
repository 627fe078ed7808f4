// Row storage for KV caches: f32 rows, or int8 / int4 rows with an f16 scale and minimum per group of values
// (asymmetric, like llama.cpp's q4_1: x ≈ min + q * scale, q in 0..255 or 0..15, scale = (max - min) / (levels - 1)).
// Asymmetric, because RoPE'd keys are what quantization hurts (KIVI, Liu et al. 2024) and their groups are skewed.

import { floatToHalf, halfToFloat } from "../tensor/quant.js";

const F16_MAX = 65504;

export type KVCacheKind = "f32" | "int8" | "int4";

export const KV_CACHE_KINDS: readonly KVCacheKind[] = ["f32", "int8", "int4"];

/** Default quantization group: 32 values when a head splits into them, else one head (never across heads). */
export function defaultGroupSize(headDim: number): number {
  return headDim % 32 === 0 ? 32 : headDim;
}

/** `capacity` rows of `rowLen` values; rows are written and read whole, by slot. */
export class RowStore {
  private data: Float32Array | Uint8Array;
  /** Per group: f16 scale, f16 minimum. */
  private params: Uint16Array;
  private cap = 0;
  private readonly groups: number;
  private readonly levels: number;

  constructor(
    readonly kind: KVCacheKind,
    readonly rowLen: number,
    readonly groupSize: number,
  ) {
    if (!Number.isInteger(groupSize) || groupSize <= 0 || rowLen % groupSize !== 0)
      throw new Error(`kv cache: quantization group ${groupSize} does not divide rows of ${rowLen}`);
    if (kind === "int4" && groupSize % 2 !== 0)
      throw new Error(`kv cache: int4 groups must hold an even number of values, got ${groupSize}`);
    this.groups = kind === "f32" ? 0 : rowLen / groupSize;
    this.levels = kind === "int8" ? 256 : 16;
    this.data = this.alloc(0);
    this.params = new Uint16Array(0);
  }

  get capacity(): number {
    return this.cap;
  }

  /** Stored bytes per row: values plus 4 bytes (scale, minimum) per group. */
  get rowBytes(): number {
    if (this.kind === "f32") return this.rowLen * 4;
    const values = this.kind === "int8" ? this.rowLen : this.rowLen / 2;
    return values + this.groups * 4;
  }

  private valuesPerRow(): number {
    return this.kind === "int4" ? this.rowLen / 2 : this.rowLen;
  }

  private alloc(rows: number): Float32Array | Uint8Array {
    const n = rows * this.valuesPerRow();
    return this.kind === "f32" ? new Float32Array(n) : new Uint8Array(n);
  }

  /** Grows to `capacity` rows, keeping rows 0..keep-1. */
  grow(capacity: number, keep: number): void {
    if (capacity <= this.cap) return;
    const data = this.alloc(capacity);
    data.set(this.data.subarray(0, keep * this.valuesPerRow()) as never);
    const params = new Uint16Array(capacity * this.groups * 2);
    params.set(this.params.subarray(0, keep * this.groups * 2));
    this.data = data;
    this.params = params;
    this.cap = capacity;
  }

  write(slot: number, src: Float32Array, off: number): void {
    const n = this.rowLen;
    if (this.kind === "f32") {
      (this.data as Float32Array).set(src.subarray(off, off + n), slot * n);
      return;
    }
    const G = this.groupSize;
    const top = this.levels - 1;
    for (let g = 0; g < this.groups; g++) {
      const base = off + g * G;
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < G; i++) {
        const x = src[base + i]!;
        if (x < lo) lo = x;
        if (x > hi) hi = x;
      }
      if (!(Math.abs(lo) <= F16_MAX && Math.abs(hi) <= F16_MAX))
        throw new Error(`kv cache: values ${lo}..${hi} are outside the f16 range of ${this.kind} scales`);
      const h = slot * this.groups * 2 + g * 2;
      this.params[h] = floatToHalf((hi - lo) / top);
      this.params[h + 1] = floatToHalf(lo);
      const scale = halfToFloat(this.params[h]!);
      const min = halfToFloat(this.params[h + 1]!);
      const inv = scale > 0 ? 1 / scale : 0;
      const q = (i: number): number => {
        const r = Math.round((src[base + i]! - min) * inv);
        return r < 0 ? 0 : r > top ? top : r;
      };
      const d = this.data as Uint8Array;
      if (this.kind === "int8") {
        const o = slot * n + g * G;
        for (let i = 0; i < G; i++) d[o + i] = q(i);
      } else {
        const o = (slot * n + g * G) / 2;
        for (let i = 0; i < G; i += 2) d[o + i / 2] = q(i) | (q(i + 1) << 4);
      }
    }
  }

  read(slot: number, dst: Float32Array, off: number): void {
    const n = this.rowLen;
    if (this.kind === "f32") {
      dst.set((this.data as Float32Array).subarray(slot * n, slot * n + n), off);
      return;
    }
    const G = this.groupSize;
    const d = this.data as Uint8Array;
    for (let g = 0; g < this.groups; g++) {
      const h = slot * this.groups * 2 + g * 2;
      const scale = halfToFloat(this.params[h]!);
      const min = halfToFloat(this.params[h + 1]!);
      const base = off + g * G;
      if (this.kind === "int8") {
        const o = slot * n + g * G;
        for (let i = 0; i < G; i++) dst[base + i] = min + d[o + i]! * scale;
      } else {
        const o = (slot * n + g * G) / 2;
        for (let i = 0; i < G; i += 2) {
          const b = d[o + i / 2]!;
          dst[base + i] = min + (b & 15) * scale;
          dst[base + i + 1] = min + (b >> 4) * scale;
        }
      }
    }
  }

  /** f32 stores: rows 0..n-1 in place (valid until the store grows). */
  f32Rows(n: number): Float32Array {
    if (this.kind !== "f32") throw new Error("kv cache: only f32 rows can be read in place");
    return (this.data as Float32Array).subarray(0, n * this.rowLen);
  }

  /** Copies rows [from, to) of `src` (same kind, row length and groups) into the same slots. */
  copyRows(src: RowStore, from: number, to: number): void {
    if (src.kind !== this.kind || src.rowLen !== this.rowLen || src.groupSize !== this.groupSize)
      throw new Error("kv cache: rows of a different kind or shape");
    if (to <= from) return;
    const vpr = this.valuesPerRow();
    this.data.set(src.data.subarray(from * vpr, to * vpr) as never, from * vpr);
    const p = this.groups * 2;
    this.params.set(src.params.subarray(from * p, to * p), from * p);
  }
}
