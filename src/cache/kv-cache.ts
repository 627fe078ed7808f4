// The KV cache (Pope et al. 2022): per layer, the keys and values of every position seen so far, passed
// into forward() as an object (never hidden in layers) so that rollback (trim) and reordering stay simple.

import { getCacheAllocator, type Allocator } from "../tensor/storage.js";
import { Tensor } from "../tensor/tensor.js";

export interface KVCacheShape {
  readonly nLayers: number;
  readonly nKvHeads: number;
  readonly headDim: number;
  /** Largest number of positions this cache may hold (the model's context length). */
  readonly maxLength: number;
}

export interface KVCache {
  /** Positions stored (the absolute position of the next token). */
  readonly length: number;
  readonly shape: KVCacheShape;
  /** Writes T new rows for `layer` at positions length..length+T-1; returns all rows [S, nKvHeads, hd]. */
  update(layer: number, k: Tensor, v: Tensor): { k: Tensor; v: Tensor };
  /** Marks the T rows written by the last forward pass as stored. */
  commit(T: number): void;
  /** Drops the last n positions (speculative rollback). */
  trim(n: number): void;
  /** Bytes held per stored position across all layers (keys and values). */
  readonly bytesPerToken: number;
  /** Bytes currently allocated. */
  readonly bytes: number;
  /** Hands the rows back to their allocator now (else the GC does when the cache is collected); the cache is empty after. */
  release?(): void;
}

/** Rows a cache holds, kept apart from it so that a finalizer can free them once the cache is collected. */
interface Rows {
  allocator: Allocator;
  bytes: Uint8Array[];
}

function freeRows(rows: Rows): void {
  for (const b of rows.bytes) rows.allocator.free?.(b);
  rows.bytes = [];
}

const finalizer = new FinalizationRegistry<Rows>(freeRows);

/**
 * A growable f32 cache: capacity doubles up to maxLength. Rows come from `allocator` (default: the cache
 * allocator of tensor/storage.ts, which the wasm backend points at its arena so that attention reads them in
 * place); those outgrown, released or left by a collected cache go back through allocator.free. Views that
 * update() returns are valid until the next update() or release().
 */
export class F32KVCache implements KVCache {
  readonly shape: KVCacheShape;
  private len = 0;
  private cap = 0;
  private keys: Float32Array[] = [];
  private values: Float32Array[] = [];
  private readonly rows: Rows;

  constructor(shape: KVCacheShape, allocator: Allocator = getCacheAllocator()) {
    this.shape = shape;
    this.rows = { allocator, bytes: [] };
    if (allocator.free) finalizer.register(this, this.rows, this.rows);
  }

  get length(): number {
    return this.len;
  }

  get bytesPerToken(): number {
    return 2 * this.shape.nLayers * this.shape.nKvHeads * this.shape.headDim * 4;
  }

  get bytes(): number {
    return this.cap * this.bytesPerToken;
  }

  private ensure(n: number): void {
    if (n <= this.cap) return;
    if (n > this.shape.maxLength) {
      throw new Error(
        `context full: ${n} positions exceed the model's context length ${this.shape.maxLength}`,
      );
    }
    const cap = Math.min(this.shape.maxLength, Math.max(n, this.cap * 2, 16));
    const row = this.shape.nKvHeads * this.shape.headDim;
    const old = this.rows.bytes;
    const bytes: Uint8Array[] = [];
    const f32 = (): Float32Array => {
      const b = this.rows.allocator.alloc(cap * row * 4);
      bytes.push(b);
      return new Float32Array(b.buffer, b.byteOffset, cap * row); // (cap, nKvHeads, hd)
    };
    for (let l = 0; l < this.shape.nLayers; l++) {
      const k = f32();
      const v = f32();
      if (this.keys[l]) {
        k.set(this.keys[l]!.subarray(0, this.len * row));
        v.set(this.values[l]!.subarray(0, this.len * row));
      }
      this.keys[l] = k;
      this.values[l] = v;
    }
    this.rows.bytes = bytes;
    freeRows({ allocator: this.rows.allocator, bytes: old });
    this.cap = cap;
  }

  release(): void {
    freeRows(this.rows);
    this.keys = [];
    this.values = [];
    this.len = 0;
    this.cap = 0;
  }

  update(layer: number, k: Tensor, v: Tensor): { k: Tensor; v: Tensor } {
    const row = this.shape.nKvHeads * this.shape.headDim;
    const T = k.size / row;
    if (!Number.isInteger(T) || v.size !== k.size)
      throw new Error("kv cache: k/v rows do not match the cache shape");
    this.ensure(this.len + T);
    this.keys[layer]!.set(k.f32(), this.len * row);
    this.values[layer]!.set(v.f32(), this.len * row);
    const S = this.len + T;
    const shape = [S, this.shape.nKvHeads, this.shape.headDim];
    return {
      k: new Tensor("f32", shape, this.keys[layer]!.subarray(0, S * row)),
      v: new Tensor("f32", shape, this.values[layer]!.subarray(0, S * row)),
    };
  }

  commit(T: number): void {
    this.len += T;
  }

  trim(n: number): void {
    if (n < 0 || n > this.len) throw new Error(`kv cache: cannot trim ${n} of ${this.len} positions`);
    this.len -= n;
  }
}
