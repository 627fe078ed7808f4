// Row storage for KV caches: f32 rows, or int8 / int4 rows with one f32 scale per group of values
// (symmetric absmax quantization, like llama.cpp's q8_0 / q4_0 cache types: q = round(x / s), s = absmax / qmax).

export type KVCacheKind = "f32" | "int8" | "int4";

export const KV_CACHE_KINDS: readonly KVCacheKind[] = ["f32", "int8", "int4"];

/** Default quantization group: 32 values when a head splits into them, else one head (never across heads). */
export function defaultGroupSize(headDim: number): number {
  return headDim % 32 === 0 ? 32 : headDim;
}

/** `capacity` rows of `rowLen` values; rows are written and read whole, by slot. */
export class RowStore {
  private data: Float32Array | Int8Array | Uint8Array;
  private scales: Float32Array;
  private cap = 0;
  private readonly groups: number;
  private readonly qmax: number;

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
    this.qmax = kind === "int8" ? 127 : 7;
    this.data = this.alloc(0);
    this.scales = new Float32Array(0);
  }

  get capacity(): number {
    return this.cap;
  }

  /** Stored bytes per row: values plus scales. */
  get rowBytes(): number {
    if (this.kind === "f32") return this.rowLen * 4;
    const values = this.kind === "int8" ? this.rowLen : this.rowLen / 2;
    return values + this.groups * 4;
  }

  private valuesPerRow(): number {
    return this.kind === "int4" ? this.rowLen / 2 : this.rowLen;
  }

  private alloc(rows: number): Float32Array | Int8Array | Uint8Array {
    const n = rows * this.valuesPerRow();
    if (this.kind === "f32") return new Float32Array(n);
    return this.kind === "int8" ? new Int8Array(n) : new Uint8Array(n);
  }

  /** Grows to `capacity` rows, keeping rows 0..keep-1. */
  grow(capacity: number, keep: number): void {
    if (capacity <= this.cap) return;
    const data = this.alloc(capacity);
    data.set(this.data.subarray(0, keep * this.valuesPerRow()) as never);
    const scales = new Float32Array(capacity * this.groups);
    scales.set(this.scales.subarray(0, keep * this.groups));
    this.data = data;
    this.scales = scales;
    this.cap = capacity;
  }

  write(slot: number, src: Float32Array, off: number): void {
    const n = this.rowLen;
    if (this.kind === "f32") {
      (this.data as Float32Array).set(src.subarray(off, off + n), slot * n);
      return;
    }
    const G = this.groupSize;
    for (let g = 0; g < this.groups; g++) {
      const base = off + g * G;
      let amax = 0;
      for (let i = 0; i < G; i++) amax = Math.max(amax, Math.abs(src[base + i]!));
      const scale = amax / this.qmax;
      const inv = scale > 0 ? 1 / scale : 0;
      this.scales[slot * this.groups + g] = scale;
      const q = (i: number): number => {
        const r = Math.round(src[base + i]! * inv);
        return r > this.qmax ? this.qmax : r < -this.qmax ? -this.qmax : r;
      };
      if (this.kind === "int8") {
        const d = this.data as Int8Array;
        const o = slot * n + g * G;
        for (let i = 0; i < G; i++) d[o + i] = q(i);
      } else {
        const d = this.data as Uint8Array;
        const o = (slot * n + g * G) / 2;
        for (let i = 0; i < G; i += 2) d[o + i / 2] = (q(i) + 8) | ((q(i + 1) + 8) << 4);
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
    for (let g = 0; g < this.groups; g++) {
      const scale = this.scales[slot * this.groups + g]!;
      const base = off + g * G;
      if (this.kind === "int8") {
        const d = this.data as Int8Array;
        const o = slot * n + g * G;
        for (let i = 0; i < G; i++) dst[base + i] = d[o + i]! * scale;
      } else {
        const d = this.data as Uint8Array;
        const o = (slot * n + g * G) / 2;
        for (let i = 0; i < G; i += 2) {
          const b = d[o + i / 2]!;
          dst[base + i] = ((b & 15) - 8) * scale;
          dst[base + i + 1] = ((b >> 4) - 8) * scale;
        }
      }
    }
  }

  /** Copies rows [from, to) of `src` (same kind, row length and groups) into the same slots. */
  copyRows(src: RowStore, from: number, to: number): void {
    if (src.kind !== this.kind || src.rowLen !== this.rowLen || src.groupSize !== this.groupSize)
      throw new Error("kv cache: rows of a different kind or shape");
    if (to <= from) return;
    const vpr = this.valuesPerRow();
    this.data.set(src.data.subarray(from * vpr, to * vpr) as never, from * vpr);
    this.scales.set(src.scales.subarray(from * this.groups, to * this.groups), from * this.groups);
  }
}
