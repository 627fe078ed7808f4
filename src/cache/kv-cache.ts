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

/**
 * What attention reads: k, v [S, nKvHeads, hd] in order of position, the last T rows the new ones (so the
 * first query sits at row S - T). `window`, when set, is the attention window in rows that replaces the
 * model's own (0 = none): caches that evict positions say how far back the rows they return may be seen.
 */
export interface KVRows {
  k: Tensor;
  v: Tensor;
  window?: number;
}

export interface KVCache {
  /** Positions seen (the absolute position of the next token); evicting caches keep fewer rows. */
  readonly length: number;
  readonly shape: KVCacheShape;
  /** Writes T new rows for `layer` at positions length..length+T-1; returns the rows attention reads. */
  update(layer: number, k: Tensor, v: Tensor): KVRows;
  /**
   * Optional, for a forward pass that writes T new rows of `layer` itself (a plan, tensor/plan.ts): views to
   * write the keys and values of positions length..length+T-1 into, and the rows attention reads once they are
   * written (as update() returns them). Valid until the next update(), appendRows() of more rows, or release().
   */
  appendRows?(layer: number, T: number): { k: Float32Array; v: Float32Array; rows: KVRows };
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
  /** True when old positions are evicted, so that generation may run past the model's context length. */
  readonly evicts?: boolean;
  /** Positions whose rows are held (length unless the cache evicts). */
  readonly stored?: number;
  /** Bytes held beside the per-position rows (e.g. recent positions also kept in f32). */
  readonly extraBytes?: number;
  /** A deep copy with its own rows (beam search expands one prefilled cache to its beams). */
  clone?(): KVCache;
  /**
   * Becomes a copy of `src` (same kind and shape), copying only positions from..src.length-1: the caller
   * vouches that the first `from` positions of both already agree (beams sharing a prompt).
   */
  copyFrom?(src: KVCache, from: number): void;
}

/** Bytes of the rows a cache holds now (stored positions × bytes per position, plus any extra rows). */
export function storedBytes(cache: KVCache): number {
  return (cache.stored ?? cache.length) * cache.bytesPerToken + (cache.extraBytes ?? 0);
}

/** Rows a cache holds, kept apart from it so that a finalizer can free them once the cache is collected. */
export interface Rows {
  allocator: Allocator;
  bytes: Uint8Array[];
}

export function freeRows(rows: Rows): void {
  for (const b of rows.bytes) rows.allocator.free?.(b);
  rows.bytes = [];
}

const finalizer = new FinalizationRegistry<Rows>(freeRows);

/** Rows for `owner` from `allocator`, handed back by a finalizer once the owner is collected. */
export function ownedRows(owner: object, allocator: Allocator): Rows {
  const rows: Rows = { allocator, bytes: [] };
  if (allocator.free) finalizer.register(owner, rows, rows);
  return rows;
}

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
    this.rows = ownedRows(this, allocator);
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

  update(layer: number, k: Tensor, v: Tensor): KVRows {
    const row = this.shape.nKvHeads * this.shape.headDim;
    const T = k.size / row;
    if (!Number.isInteger(T) || v.size !== k.size)
      throw new Error("kv cache: k/v rows do not match the cache shape");
    this.ensure(this.len + T);
    this.keys[layer]!.set(k.f32(), this.len * row);
    this.values[layer]!.set(v.f32(), this.len * row);
    return this.rowsUpTo(layer, this.len + T);
  }

  /** The first S rows of `layer` (S, nKvHeads, hd), as attention reads them. */
  private rowsUpTo(layer: number, S: number): KVRows {
    const n = S * this.shape.nKvHeads * this.shape.headDim;
    const shape = [S, this.shape.nKvHeads, this.shape.headDim];
    return {
      k: new Tensor("f32", shape, this.keys[layer]!.subarray(0, n)),
      v: new Tensor("f32", shape, this.values[layer]!.subarray(0, n)),
    };
  }

  appendRows(layer: number, T: number): { k: Float32Array; v: Float32Array; rows: KVRows } {
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.shape.nLayers || !Number.isInteger(T) || T < 1)
      throw new Error(`kv cache: no rows for layer ${layer}, ${T} positions`);
    const row = this.shape.nKvHeads * this.shape.headDim;
    this.ensure(this.len + T);
    const S = this.len + T;
    return {
      k: this.keys[layer]!.subarray(this.len * row, S * row),
      v: this.values[layer]!.subarray(this.len * row, S * row),
      rows: this.rowsUpTo(layer, S),
    };
  }

  commit(T: number): void {
    this.len += T;
  }

  trim(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.len)
      throw new Error(`kv cache: cannot trim ${n} of ${this.len} positions`);
    this.len -= n;
  }

  clone(): F32KVCache {
    const c = new F32KVCache(this.shape, this.rows.allocator);
    c.copyFrom(this, 0);
    return c;
  }

  copyFrom(src: KVCache, from: number): void {
    if (!(src instanceof F32KVCache) || !sameShape(src.shape, this.shape))
      throw new Error("kv cache: copyFrom needs an f32 cache of the same shape");
    if (!Number.isInteger(from) || from < 0 || from > Math.min(this.len, src.len))
      throw new Error(`kv cache: copyFrom position ${from} is past the rows both caches hold`);
    if (src === this) return;
    this.ensure(src.len);
    const row = this.shape.nKvHeads * this.shape.headDim;
    for (let l = 0; l < this.shape.nLayers && src.len > from; l++) {
      this.keys[l]!.set(src.keys[l]!.subarray(from * row, src.len * row), from * row);
      this.values[l]!.set(src.values[l]!.subarray(from * row, src.len * row), from * row);
    }
    this.len = src.len;
  }
}

export function sameShape(a: KVCacheShape, b: KVCacheShape): boolean {
  return (
    a.nLayers === b.nLayers &&
    a.nKvHeads === b.nKvHeads &&
    a.headDim === b.headDim &&
    a.maxLength === b.maxLength
  );
}
