// A KV cache over RowStores (f32, int8 or int4 rows) that keeps every position, a sliding window of the last
// W (Mistral, Jiang et al. 2023: a ring buffer), or attention sinks plus a window (StreamingLLM, Xiao et al. 2023).
//
// update() decodes the rows attention needs, in order of position, into one reusable f32 scratch (valid until
// the next update); new rows go through the same quantization as stored ones. An f32 ring serves a single new
// token from its slots in place (attention over all of them, in slot order). Keys are cached after RoPE, so
// evicting caches keep the rotations of the original positions (StreamingLLM's simple variant, not its
// re-rotation by cache slot); positions keep growing past the context length, RoPE computes them on the fly.
//
// Window W (no sinks): a query at position p sees p-W+1..p; the ring holds W slots, update() returns the last
// W-1 stored rows plus the T new ones and the window W. Sinks k + window W: the ring holds k + W slots; a
// forward of T tokens sees the k sinks, the last W-1 stored positions and all T new ones (eviction happens
// between forward passes, as in StreamingLLM's evict_for_space), so one token at a time sees k + W rows.
// A rollback slack R adds R ring slots that attention never reads, so trim() may drop up to R + 1 positions.

import { getCacheAllocator, type Allocator } from "../tensor/storage.js";
import { Tensor } from "../tensor/tensor.js";
import {
  freeRows,
  ownedRows,
  sameShape,
  type KVCache,
  type KVCacheShape,
  type KVRows,
  type Rows,
} from "./kv-cache.js";
import { RecentRows } from "./recent-rows.js";
import { RowStore, type KVCacheKind } from "./row-store.js";

export interface RowCacheOptions {
  readonly kind: KVCacheKind;
  /** Values per quantization group (must divide nKvHeads * headDim). */
  readonly groupSize: number;
  /** Recent positions kept (0 = all, up to the context length). */
  readonly window: number;
  /** First positions always kept (needs a window). */
  readonly sinks: number;
  /** Last positions also kept in f32 and read exactly (quantized kinds; 0 = none). */
  readonly recentF32?: number;
  /**
   * Windowed caches: extra ring slots beyond the window, so that trim() can roll back up to rollback + 1
   * positions (speculative decoding verifies several drafted tokens, then drops the rejected ones). 0 = none.
   */
  readonly rollback?: number;
}

export class RowKVCache implements KVCache {
  private len = 0;
  private readonly keys: RowStore[] = [];
  private readonly values: RowStore[] = [];
  private readonly row: number;
  private scratchRows = 0;
  private scratchK: Float32Array = new Float32Array(0);
  private scratchV: Float32Array = new Float32Array(0);
  private readonly scratch: Rows;
  private readonly recent: RecentRows | null;

  constructor(
    readonly shape: KVCacheShape,
    readonly options: RowCacheOptions,
    private readonly allocator: Allocator = getCacheAllocator(),
  ) {
    const { window: W, sinks } = options;
    if (!Number.isInteger(W) || W < 0) throw new Error(`kv cache: window must be >= 0, got ${W}`);
    if (!Number.isInteger(sinks) || sinks < 0) throw new Error(`kv cache: sinks must be >= 0, got ${sinks}`);
    if (sinks > 0 && W === 0) throw new Error("kv cache: attention sinks need a window of recent positions");
    const slack = options.rollback ?? 0;
    if (!Number.isInteger(slack) || slack < 0)
      throw new Error(`kv cache: rollback must be a non-negative integer, got ${slack}`);
    if (sinks + W > shape.maxLength)
      throw new Error(
        `kv cache: ${sinks} sinks + a window of ${W} exceed the context length ${shape.maxLength}`,
      );
    this.row = shape.nKvHeads * shape.headDim;
    for (let l = 0; l < shape.nLayers; l++) {
      this.keys.push(new RowStore(options.kind, this.row, options.groupSize));
      this.values.push(new RowStore(options.kind, this.row, options.groupSize));
    }
    this.scratch = ownedRows(this, allocator);
    const R = options.recentF32 ?? 0;
    if (R > 0 && options.kind === "f32")
      throw new Error("kv cache: recent f32 rows need an int8 or int4 cache");
    this.recent = R > 0 ? new RecentRows(shape.nLayers, this.row, R) : null;
  }

  get length(): number {
    return this.len;
  }

  get evicts(): boolean {
    return this.options.window > 0;
  }

  /** Extra ring slots kept for rollback (windowed caches only). */
  private get slack(): number {
    return this.options.window > 0 ? (this.options.rollback ?? 0) : 0;
  }

  /** Slots the cache may fill: every position, or sinks + window (+ the rollback slack). */
  private get maxSlots(): number {
    const { window: W, sinks } = this.options;
    return W > 0 ? sinks + W + this.slack : this.shape.maxLength;
  }

  get stored(): number {
    return Math.min(this.len, this.maxSlots);
  }

  get bytesPerToken(): number {
    return 2 * this.shape.nLayers * this.keys[0]!.rowBytes;
  }

  /** Stored rows allocated, with the recent f32 rows (the f32 scratch that attention reads is scratchBytes). */
  get bytes(): number {
    return this.keys[0]!.capacity * this.bytesPerToken + (this.recent?.bytes ?? 0);
  }

  get extraBytes(): number {
    return this.recent?.bytes ?? 0;
  }

  get scratchBytes(): number {
    return this.scratchRows * this.row * 4 * 2;
  }

  private slot(pos: number): number {
    const { window: W, sinks } = this.options;
    return W === 0 || pos < sinks ? pos : sinks + ((pos - sinks) % (W + this.slack));
  }

  /** Positions of the stored rows a forward starting at `L` sees, oldest first. */
  private visible(L: number): number[] {
    const { window: W, sinks } = this.options;
    const out: number[] = [];
    const first = W === 0 ? 0 : Math.max(sinks, L - (W - 1));
    for (let p = 0; p < Math.min(sinks, L); p++) out.push(p);
    for (let p = Math.max(first, sinks); p < L; p++) out.push(p);
    return out;
  }

  private ensureSlots(n: number): void {
    const have = this.keys[0]!.capacity;
    const need = Math.min(n, this.maxSlots);
    if (need <= have) return;
    const cap = Math.min(this.maxSlots, Math.max(need, have * 2, 16));
    const keep = Math.min(this.len, have);
    for (let l = 0; l < this.shape.nLayers; l++) {
      this.keys[l]!.grow(cap, keep);
      this.values[l]!.grow(cap, keep);
    }
  }

  private ensureScratch(rows: number): void {
    if (rows <= this.scratchRows) return;
    const cap = Math.max(rows, this.scratchRows * 2, 16);
    freeRows(this.scratch);
    const f32 = (): Float32Array => {
      const b = this.allocator.alloc(cap * this.row * 4);
      this.scratch.bytes.push(b);
      return new Float32Array(b.buffer, b.byteOffset, cap * this.row); // (cap, nKvHeads, hd)
    };
    this.scratchK = f32();
    this.scratchV = f32();
    this.scratchRows = cap;
  }

  update(layer: number, k: Tensor, v: Tensor): KVRows {
    const row = this.row;
    const T = k.size / row;
    if (!Number.isInteger(T) || T === 0 || v.size !== k.size)
      throw new Error("kv cache: k/v rows do not match the cache shape");
    const L = this.len;
    if (!this.evicts && L + T > this.shape.maxLength)
      throw new Error(
        `context full: ${L + T} positions exceed the model's context length ${this.shape.maxLength}`,
      );
    this.ensureSlots(L + T);
    if (T === 1 && this.evicts && this.slack === 0 && this.options.kind === "f32")
      return this.inPlace(layer, k, v);
    const old = this.visible(L);
    const S = old.length + T;
    this.ensureScratch(S);
    const ks = this.keys[layer]!;
    const vs = this.values[layer]!;
    const [sk, sv] = [this.scratchK, this.scratchV];
    for (let i = 0; i < old.length; i++) {
      const p = old[i]!;
      if (this.recent?.read(layer, p, sk, sv, i * row)) continue;
      ks.read(this.slot(p), sk, i * row);
      vs.read(this.slot(p), sv, i * row);
    }
    const kf = k.f32();
    const vf = v.f32();
    for (let t = 0; t < T; t++) {
      const slot = this.slot(L + t);
      ks.write(slot, kf, t * row);
      vs.write(slot, vf, t * row);
      this.recent?.write(layer, L + t, kf, vf, t * row);
      const o = (old.length + t) * row;
      if (this.recent?.read(layer, L + t, sk, sv, o)) continue;
      ks.read(slot, sk, o);
      vs.read(slot, sv, o);
    }
    const shape = [S, this.shape.nKvHeads, this.shape.headDim];
    const out: KVRows = {
      k: new Tensor("f32", shape, this.scratchK.subarray(0, S * row)),
      v: new Tensor("f32", shape, this.scratchV.subarray(0, S * row)),
    };
    if (this.evicts) out.window = this.options.sinks > 0 ? 0 : this.options.window;
    return out;
  }

  /**
   * One new token over an f32 ring: it sees every stored row (sinks plus the last W-1, or the last W-1), so
   * the ring's slots serve attention as they are, in any order (softmax over keys does not care).
   */
  private inPlace(layer: number, k: Tensor, v: Tensor): KVRows {
    const slot = this.slot(this.len);
    this.keys[layer]!.write(slot, k.f32(), 0);
    this.values[layer]!.write(slot, v.f32(), 0);
    const S = Math.min(this.len + 1, this.maxSlots);
    const shape = [S, this.shape.nKvHeads, this.shape.headDim];
    return {
      k: new Tensor("f32", shape, this.keys[layer]!.f32Rows(S)),
      v: new Tensor("f32", shape, this.values[layer]!.f32Rows(S)),
      window: 0,
    };
  }

  commit(T: number): void {
    this.len += T;
  }

  trim(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.len)
      throw new Error(`kv cache: cannot trim ${n} of ${this.len} positions`);
    const { window: W, sinks } = this.options;
    if (W > 0 && n > 0) {
      const kept = Math.max(sinks, this.len - W - this.slack); // oldest recent position still in the ring
      const L = this.len - n;
      if (L > sinks && Math.max(sinks, L - (W - 1)) < kept)
        throw new Error(`kv cache: cannot trim ${n} positions, the window has evicted the rows needed after`);
    }
    this.len -= n;
  }

  release(): void {
    freeRows(this.scratch);
    this.scratchK = new Float32Array(0);
    this.scratchV = new Float32Array(0);
    this.scratchRows = 0;
    for (let l = 0; l < this.shape.nLayers; l++) {
      this.keys[l] = new RowStore(this.options.kind, this.row, this.options.groupSize);
      this.values[l] = new RowStore(this.options.kind, this.row, this.options.groupSize);
    }
    this.recent?.clear();
    this.len = 0;
  }

  clone(): RowKVCache {
    const c = new RowKVCache(this.shape, this.options, this.allocator);
    c.copyFrom(this, 0);
    return c;
  }

  copyFrom(src: KVCache, from: number): void {
    if (
      !(src instanceof RowKVCache) ||
      !sameShape(src.shape, this.shape) ||
      src.options.kind !== this.options.kind ||
      src.options.groupSize !== this.options.groupSize ||
      src.options.window !== this.options.window ||
      src.options.sinks !== this.options.sinks ||
      (src.options.rollback ?? 0) !== (this.options.rollback ?? 0) ||
      (src.options.recentF32 ?? 0) !== (this.options.recentF32 ?? 0)
    )
      throw new Error("kv cache: copyFrom needs a cache of the same kind, shape and window");
    if (!Number.isInteger(from) || from < 0 || from > Math.min(this.len, src.len))
      throw new Error(`kv cache: copyFrom position ${from} is past the rows both caches hold`);
    if (src === this) return;
    this.ensureSlots(src.len);
    // Evicting caches hold few rows and reuse slots: copy them all; else only positions from.. onwards.
    const a = this.evicts ? 0 : from;
    const b = Math.min(src.len, this.maxSlots);
    for (let l = 0; l < this.shape.nLayers; l++) {
      this.keys[l]!.copyRows(src.keys[l]!, a, b);
      this.values[l]!.copyRows(src.values[l]!, a, b);
    }
    if (this.recent && src.recent) this.recent.copyFrom(src.recent);
    this.len = src.len;
  }
}
