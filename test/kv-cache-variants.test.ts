// KV-cache variants on stories260K: quantized rows, sliding window, attention sinks, clone/copyFrom, reorder
// and prefix reuse, each against the plain f32 cache or an independent gather-everything reference.

import assert from "node:assert/strict";
import { test } from "node:test";
import "../src/backends/reference/index.js";
import { makeKVCache } from "../src/cache/factory.js";
import { F32KVCache, type KVCache, type KVCacheShape, type KVRows } from "../src/cache/kv-cache.js";
import { PrefixCache } from "../src/cache/prefix.js";
import { reorderCaches } from "../src/cache/reorder.js";
import { RowKVCache } from "../src/cache/row-cache.js";
import { RowStore } from "../src/cache/row-store.js";
import { emptyStats, generateTokens } from "../src/generation/generate.js";
import { Session } from "../src/generation/session.js";
import { argmax } from "../src/generation/sampling.js";
import { loadModel } from "../src/models/load.js";
import { LlamaForCausalLM } from "../src/models/llama.js";
import type { CausalLM } from "../src/models/model.js";
import { Tensor } from "../src/tensor/tensor.js";
import { STORIES_BIN, STORIES_TOK } from "./helpers/paths.js";

const loaded = loadModel(STORIES_BIN, { tokenizer: STORIES_TOK });

/**
 * An independent reference for evicting caches: keeps every row in full and returns, oldest first, the
 * sinks, the last `keep` stored positions and the new ones, with the given attention window.
 */
class GatherCache implements KVCache {
  private len = 0;
  private readonly k: Float32Array[][] = [];
  private readonly v: Float32Array[][] = [];
  readonly evicts = true;
  readonly bytesPerToken = 0;
  readonly bytes = 0;
  constructor(
    readonly shape: KVCacheShape,
    private readonly sinks: number,
    private readonly keep: number,
    private readonly window: number,
  ) {
    for (let l = 0; l < shape.nLayers; l++) {
      this.k.push([]);
      this.v.push([]);
    }
  }
  get length(): number {
    return this.len;
  }
  update(layer: number, k: Tensor, v: Tensor): KVRows {
    const row = this.shape.nKvHeads * this.shape.headDim;
    const T = k.size / row;
    for (let t = 0; t < T; t++) {
      this.k[layer]![this.len + t] = k.f32().slice(t * row, (t + 1) * row);
      this.v[layer]![this.len + t] = v.f32().slice(t * row, (t + 1) * row);
    }
    const pos: number[] = [];
    for (let p = 0; p < Math.min(this.sinks, this.len); p++) pos.push(p);
    for (let p = Math.max(this.sinks, this.len - this.keep); p < this.len; p++) pos.push(p);
    for (let p = this.len; p < this.len + T; p++) pos.push(p);
    const kk = new Float32Array(pos.length * row);
    const vv = new Float32Array(pos.length * row);
    pos.forEach((p, i) => {
      kk.set(this.k[layer]![p]!, i * row);
      vv.set(this.v[layer]![p]!, i * row);
    });
    const shape = [pos.length, this.shape.nKvHeads, this.shape.headDim];
    return { k: new Tensor("f32", shape, kk), v: new Tensor("f32", shape, vv), window: this.window };
  }
  commit(T: number): void {
    this.len += T;
  }
  trim(n: number): void {
    this.len -= n;
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Feeds `ids` one token at a time (after a prefill of `prefill` ids), returning each step's logits. */
function run(model: CausalLM, cache: KVCache, ids: readonly number[], prefill = 1): Float32Array[] {
  const out = [model.forward(ids.slice(0, prefill), cache).f32().slice()];
  for (let i = prefill; i < ids.length; i++) out.push(model.forward([ids[i]!], cache).f32().slice());
  return out;
}

function greedy(
  model: CausalLM,
  cache: KVCache,
  prompt: number[],
  n: number,
): { ids: number[]; logits: Float32Array[] } {
  const ids: number[] = [];
  const logits: Float32Array[] = [];
  let l = model.forward(prompt, cache).f32().slice();
  for (let i = 0; i < n; i++) {
    logits.push(l);
    const t = argmax(l);
    ids.push(t);
    l = model.forward([t], cache).f32().slice();
  }
  return { ids, logits };
}

test("row stores: int8/int4 round trips within half a step of their group's range; bytes per row", () => {
  const row = 64;
  const x = Float32Array.from(
    { length: row },
    (_, i) => Math.sin(i * 1.7) * (1 + (i % 16)) + (i < 32 ? 3 : -1),
  );
  for (const [kind, levels, bytes] of [
    ["int8", 256, 64 + 2 * 4],
    ["int4", 16, 32 + 2 * 4],
    ["f32", 0, 256],
  ] as const) {
    const s = new RowStore(kind, row, 32);
    s.grow(3, 0);
    s.write(2, x, 0);
    const y = new Float32Array(row);
    s.read(2, y, 0);
    assert.equal(s.rowBytes, bytes, kind);
    for (let g = 0; g < 2; g++) {
      const part = x.subarray(g * 32, g * 32 + 32);
      const range = Math.max(...part) - Math.min(...part);
      // Half a quantization step, plus the f16 rounding of the scale and minimum.
      const bound =
        kind === "f32" ? 0 : (0.5 * range) / (levels - 1) + 2e-3 * Math.max(...part.map(Math.abs));
      for (let i = 0; i < 32; i++)
        assert.ok(Math.abs(y[g * 32 + i]! - part[i]!) <= bound, `${kind} value ${g * 32 + i}`);
    }
  }
  assert.throws(() => new RowStore("int8", 48, 32), /does not divide/);
  const big = new RowStore("int8", 32, 32);
  big.grow(1, 0);
  assert.throws(() => big.write(0, new Float32Array(32).fill(1e6), 0), /f16 range/);
});

test("an f32 RowKVCache gives the same logits as F32KVCache", async () => {
  const { model, bosId } = await loaded;
  const ids = [bosId!, 403, 407, 261, 378, 432, 383, 286, 261, 376];
  const shape = { nLayers: 5, nKvHeads: 4, headDim: 8, maxLength: 512 };
  const a = run(model, new F32KVCache(shape), ids, 4);
  const b = run(model, new RowKVCache(shape, { kind: "f32", groupSize: 8, window: 0, sinks: 0 }), ids, 4);
  a.forEach((l, i) => assert.equal(maxAbsDiff(l, b[i]!), 0, `step ${i}`));
});

test("sliding window ring buffer equals a model-side window over the full cache, and its bytes stay constant", async () => {
  const { model, bosId } = await loaded;
  const W = 16;
  const cfg = { ...model.config, sliding_window: W, use_sliding_window: true };
  const windowed = new LlamaForCausalLM(cfg, model.weights);
  const ids = [bosId!, ...greedy(model, model.newCache(), [bosId!], 79).ids];
  for (const prefill of [1, 5, 40]) {
    const ref = run(windowed, windowed.newCache({ kind: "f32" }), ids, prefill); // linear cache, kernel window
    assert.ok(windowed.newCache({ kind: "f32" }) instanceof F32KVCache);
    const ring = model.newCache({ slidingWindow: W });
    const got = run(model, ring, ids, prefill);
    got.forEach((l, i) => assert.ok(maxAbsDiff(l, ref[i]!) < 1e-5, `prefill ${prefill} step ${i}`));
    assert.equal(ring.stored, W);
    assert.equal(ring.bytes, W * ring.bytesPerToken);
    assert.equal(ring.evicts, true);
  }
  // The window does change the output once it is shorter than the sequence.
  const full = run(model, model.newCache(), ids, 1);
  assert.ok(
    maxAbsDiff(full.at(-1)!, run(model, model.newCache({ slidingWindow: W }), ids, 1).at(-1)!) > 1e-3,
  );
});

test("attention sinks keep the first k positions plus a ring of recent ones (against a gather reference)", async () => {
  const { model, bosId } = await loaded;
  const shape = { nLayers: 5, nKvHeads: 4, headDim: 8, maxLength: 512 };
  const ids = [bosId!, ...greedy(model, model.newCache(), [bosId!], 59).ids];
  for (const kind of ["f32", "int8"] as const) {
    for (const prefill of [1, 30]) {
      const cache = model.newCache({ kind, attentionSinks: 4, slidingWindow: 12 });
      const got = run(model, cache, ids, prefill);
      const refCache = new GatherCache(shape, 4, 11, 0);
      const ref = kind === "f32" ? run(model, refCache, ids, prefill) : null;
      if (ref)
        got.forEach((l, i) => assert.ok(maxAbsDiff(l, ref[i]!) < 1e-5, `prefill ${prefill} step ${i}`));
      assert.equal(cache.stored, 16);
      assert.equal(cache.bytes, 16 * cache.bytesPerToken);
    }
  }
});

test("attention sinks: greedy generation runs to 4x the context length (2048 tokens) in constant cache bytes", async () => {
  const { model, bosId } = await loaded;
  const cache = model.newCache({ attentionSinks: 4 });
  assert.equal(cache.evicts, true);
  let n = 0;
  let bytesAt600 = 0;
  for await (const t of generateTokens(model, [bosId!], { maxNewTokens: 2048, temperature: 0, cache })) {
    assert.ok(Number.isInteger(t) && t >= 0 && t < model.vocabSize);
    if (++n === 600) bytesAt600 = cache.bytes;
  }
  assert.equal(n, 2048);
  assert.equal(cache.length, 2048);
  assert.equal(cache.stored, 512);
  assert.equal(cache.bytes, bytesAt600);
  assert.equal(cache.bytes, 512 * cache.bytesPerToken);
  // A plain cache stops at the context length.
  const plain: number[] = [];
  for await (const t of generateTokens(model, [bosId!], { maxNewTokens: 2048, temperature: 0 }))
    plain.push(t);
  assert.equal(plain.length, 512);
});

test("int8 and int4 caches: bytes per token and logit error against f32 over a 200-token greedy run", async (t) => {
  const { model, bosId } = await loaded;
  const ref = greedy(model, model.newCache(), [bosId!], 200);
  const f32 = model.newCache();
  const report: string[] = [`f32: ${f32.bytesPerToken} B/token`];
  for (const [kind, bound] of [
    ["int8", 1.5],
    ["int4", 30],
  ] as const) {
    const cache = model.newCache({ kind });
    // Teacher-forced on the f32 greedy tokens: logits at every step against f32's.
    let maxDiff = 0;
    let l = model.forward([bosId!], cache).f32();
    for (let i = 0; i < 200; i++) {
      maxDiff = Math.max(maxDiff, maxAbsDiff(l, ref.logits[i]!));
      if (i < 199) l = model.forward([ref.ids[i]!], cache).f32();
    }
    const own = greedy(model, model.newCache({ kind }), [bosId!], 200).ids;
    let agree = 0;
    while (agree < 200 && own[agree] === ref.ids[agree]) agree++;
    report.push(
      `${kind}: ${cache.bytesPerToken} B/token, max |logit diff| ${maxDiff.toFixed(4)}, greedy agrees for ${agree}/200`,
    );
    assert.ok(maxDiff > 0, `${kind} changes the logits`);
    assert.ok(maxDiff < bound, `${kind} max logit diff ${maxDiff}`);
    if (kind === "int8") assert.ok(agree >= 50, `int8 greedy agrees for ${agree} tokens`);
    // 5 layers × (k + v) × 4 kv heads × (8 values + an f16 scale and minimum per head).
    const values = kind === "int8" ? 8 : 4;
    assert.equal(cache.bytesPerToken, 5 * 2 * 4 * (values + 4));
  }
  assert.equal(f32.bytesPerToken, 5 * 2 * 32 * 4);
  // The last 32 positions also in f32 (KIVI's residual): far closer to f32, for 32 f32 positions more.
  for (const kind of ["int8", "int4"] as const) {
    const plain = model.newCache({ kind });
    const cache = model.newCache({ kind, recentF32: 32 });
    const diffs = [plain, cache].map((c) => {
      let d = 0;
      let l = model.forward([bosId!], c).f32();
      for (let i = 0; i < 200; i++) {
        d = Math.max(d, maxAbsDiff(l, ref.logits[i]!));
        if (i < 199) l = model.forward([ref.ids[i]!], c).f32();
      }
      return d;
    });
    report.push(`${kind} + 32 recent f32: max |logit diff| ${diffs[1]!.toFixed(4)}`);
    assert.ok(diffs[1]! < diffs[0]! / 2, `${kind}: ${diffs}`);
    assert.equal(cache.bytes - plain.bytes, 32 * f32.bytesPerToken);
  }
  t.diagnostic(report.join("; "));
});

test("clone and copyFrom give caches that continue exactly as the original", async () => {
  const { model, bosId } = await loaded;
  for (const opts of [
    {},
    { kind: "int8" as const },
    { slidingWindow: 8 },
    { kind: "int4" as const, recentF32: 4 },
  ]) {
    const a = model.newCache(opts);
    model.forward([bosId!, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315], a);
    const b = a.clone!();
    const la = model.forward([421], a).f32().slice();
    const lb = model.forward([421], b).f32().slice();
    assert.deepEqual(lb, la);
    // copyFrom into a cache that shares the first 3 positions.
    const c = model.newCache(opts);
    model.forward([bosId!, 403, 407, 100, 101], c);
    c.copyFrom!(a, 3);
    assert.equal(c.length, a.length);
    assert.deepEqual(model.forward([422], c).f32().slice(), model.forward([422], a).f32().slice());
  }
  assert.throws(() => model.newCache().copyFrom!(model.newCache({ kind: "int8" }), 0), /f32 cache/);
});

test("reorderCaches: children of one parent share it, others are copied; free caches are reused", async () => {
  const { model, bosId } = await loaded;
  const prompt = [bosId!, 403, 407];
  const base = model.newCache();
  model.forward(prompt, base);
  let caches = reorderCaches([base], [0, 0, 0], prompt.length);
  assert.equal(caches[0], base);
  assert.notEqual(caches[1], base);
  [10, 20, 30].forEach((t, i) => model.forward([t], caches[i]!));
  const expect = (i: number, toks: number[]): Float32Array => {
    const c = model.newCache();
    model.forward([...prompt, ...toks], c);
    return model.forward([7], c).f32().slice();
  };
  const old = [...caches];
  caches = reorderCaches(caches, [2, 0, 2], prompt.length);
  assert.equal(caches[0], old[2]);
  assert.equal(caches[1], old[0]);
  assert.equal(caches[2], old[1]); // the free cache, overwritten with beam 2's rows
  const want = [expect(0, [30]), expect(1, [10]), expect(2, [30])];
  caches.forEach((c, i) => assert.ok(maxAbsDiff(model.forward([7], c).f32(), want[i]!) < 1e-6, `beam ${i}`));
  assert.throws(() => reorderCaches(caches, [5], 3), /parent 5/);
});

test("prefix cache: a second prompt sharing a prefix runs only the rest and generates as from scratch", async () => {
  const { model, bosId } = await loaded;
  const forwarded: number[] = [];
  const counting: CausalLM = Object.create(model, {
    forward: {
      value: (ids: readonly number[], c: KVCache) => (forwarded.push(ids.length), model.forward(ids, c)),
    },
  });
  const pc = new PrefixCache(() => model.newCache());
  const run1 = [bosId!, 403, 407, 261, 378, 432];
  const p1 = pc.prepare(run1);
  assert.equal(p1.reused, 0);
  const out1: number[] = [];
  for await (const t of generateTokens(counting, p1.rest, {
    maxNewTokens: 10,
    temperature: 0,
    cache: p1.cache,
  }))
    out1.push(t);
  pc.record([...run1, ...out1]);
  assert.equal(pc.held.length, run1.length + 9);
  const run2 = [bosId!, 403, 407, 261, 100, 101, 102];
  forwarded.length = 0;
  const p2 = pc.prepare(run2);
  assert.equal(p2.reused, 4);
  assert.deepEqual(p2.rest, [100, 101, 102]);
  const out2: number[] = [];
  for await (const t of generateTokens(counting, p2.rest, {
    maxNewTokens: 10,
    temperature: 0,
    cache: p2.cache,
  }))
    out2.push(t);
  assert.equal(forwarded[0], 3);
  const fresh: number[] = [];
  for await (const t of generateTokens(model, run2, { maxNewTokens: 10, temperature: 0 })) fresh.push(t);
  assert.deepEqual(out2, fresh);
  // The same prompt again still runs its last token (for the next-token logits).
  pc.record([...run2, ...out2]);
  assert.deepEqual(pc.prepare(run2).rest, [102]);
});

test("cache options: clear errors for bad values; windows are capped at the context; trims past the ring fail", async () => {
  const { model } = await loaded;
  assert.throws(() => model.newCache({ kind: "int3" as never }), /kind must be one of/);
  assert.throws(() => model.newCache({ attentionSinks: 512 }), /attention sinks/);
  assert.throws(() => model.newCache({ slidingWindow: -1 }), /sliding window/);
  assert.throws(() => model.newCache({ slidingWindow: 1 }), /at least 2/);
  assert.throws(() => model.newCache({ kind: "int8", groupSize: 3 }), /does not divide/);
  assert.throws(() => model.newCache({ recentF32: 8 }), /int8 or int4/);
  assert.throws(() => model.newCache({ kind: "int4", recentF32: -2 }), /recent f32/);
  assert.equal(
    makeKVCache({ nLayers: 1, nKvHeads: 1, headDim: 8, maxLength: 64 }, { slidingWindow: 1000 })
      .bytesPerToken,
    64,
  );
  const ring = model.newCache({ slidingWindow: 8 }) as RowKVCache;
  assert.equal(ring.options.window, 8);
  const capped = model.newCache({ slidingWindow: 1000, attentionSinks: 4 }) as RowKVCache;
  assert.equal(capped.options.window, 508);
  model.forward(
    Array.from({ length: 20 }, (_, i) => i + 1),
    ring,
  );
  ring.trim(1);
  assert.throws(() => ring.trim(2), /evicted/);
  assert.throws(() => ring.trim(-1), /cannot trim/);
});

test("Session: a follow-up request continuing the first one's text reuses all of it", async () => {
  const { model, bosId } = await loaded;
  const s = new Session(model, { kind: "int8" });
  const p1 = [bosId!, 403, 407];
  const out1: number[] = [];
  for await (const t of s.generate(p1, { maxNewTokens: 8, temperature: 0 })) out1.push(t);
  const p2 = [...p1, ...out1, 261];
  const stats = { ...emptyStats(), reusedTokens: 0 };
  const out2: number[] = [];
  for await (const t of s.generate(p2, { maxNewTokens: 8, temperature: 0 }, stats)) out2.push(t);
  assert.equal(stats.reusedTokens, p1.length + out1.length - 1); // all but the last token the first run drew
  const fresh: number[] = [];
  for await (const t of generateTokens(model, p2, {
    maxNewTokens: 8,
    temperature: 0,
    cache: model.newCache({ kind: "int8" }),
  }))
    fresh.push(t);
  assert.deepEqual(out2, fresh);
  assert.deepEqual(s.held, [...p2, ...out2].slice(0, p2.length + 7));
});

test("trim (rollback) on quantized and windowed caches continues as a cache that never saw the trimmed tokens", async () => {
  const { model, bosId } = await loaded;
  const ids = [bosId!, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315];
  for (const opts of [
    { kind: "int8" as const },
    { kind: "int4" as const, recentF32: 4 },
    { slidingWindow: 6 },
  ]) {
    const a = model.newCache(opts);
    model.forward(ids, a);
    a.trim(1);
    const b = model.newCache(opts);
    model.forward(ids.slice(0, -1), b);
    const la = model.forward([421], a).f32();
    const lb = model.forward([421], b).f32();
    // Recent f32 copies overwritten by trimmed positions are read quantized afterwards: close, not equal.
    const bound = opts.kind === "int4" ? 2 : 1e-6;
    assert.ok(maxAbsDiff(la, lb) <= bound, `${JSON.stringify(opts)}: ${maxAbsDiff(la, lb)}`);
  }
});

test("a windowed cache with rollback slack R trims R + 1 positions and continues as a fresh cache; R + 2 fail", async () => {
  const { model, bosId } = await loaded;
  const ids = [bosId!, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 400, 401];
  for (const opts of [
    { slidingWindow: 6, rollback: 3 },
    { slidingWindow: 6, rollback: 3, kind: "int8" as const },
    { slidingWindow: 6, attentionSinks: 2, rollback: 3 },
  ]) {
    const a = model.newCache(opts);
    model.forward(ids, a);
    assert.throws(() => a.trim(5), /evicted/, JSON.stringify(opts));
    a.trim(4);
    const b = model.newCache(opts);
    model.forward(ids.slice(0, -4), b);
    // Decode several tokens one at a time on both: the slack slots must never be attended to.
    for (const t of [421, 422, 423, 424, 425, 426, 427, 428]) {
      const la = model.forward([t], a).f32();
      const lb = model.forward([t], b).f32();
      assert.ok(maxAbsDiff(la, lb) <= 1e-6, `${JSON.stringify(opts)}: ${maxAbsDiff(la, lb)}`);
    }
    // Slack changes no logits (beyond summation order: f32 rings without slack attend in slot order),
    // the same tokens through a cache without it, past the ring's wrap.
    const c = model.newCache({ ...opts, rollback: 0 });
    const d = model.newCache(opts);
    model.forward(ids.slice(0, 3), c);
    model.forward(ids.slice(0, 3), d);
    for (const t of ids.slice(3)) {
      const lc = model.forward([t], c).f32();
      const ld = model.forward([t], d).f32();
      assert.ok(maxAbsDiff(lc, ld) <= 1e-5, `${JSON.stringify(opts)} slack: ${maxAbsDiff(lc, ld)}`);
    }
  }
  assert.throws(() => model.newCache({ slidingWindow: 6, rollback: -1 }), /rollback/);
});

test("Session with a sliding window: a prefix the ring no longer holds is run again, with the same output", async () => {
  const { model, bosId } = await loaded;
  const s = new Session(model, { slidingWindow: 8 });
  const p1 = [bosId!, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298];
  for await (const t of s.generate(p1, { maxNewTokens: 4, temperature: 0 })) assert.ok(t >= 0);
  const p2 = [...p1.slice(0, 6), 100, 101];
  const stats = { ...emptyStats(), reusedTokens: -1 };
  const out: number[] = [];
  for await (const t of s.generate(p2, { maxNewTokens: 6, temperature: 0 }, stats)) out.push(t);
  assert.equal(stats.reusedTokens, 0);
  const fresh: number[] = [];
  const cache = model.newCache({ slidingWindow: 8 });
  for await (const t of generateTokens(model, p2, { maxNewTokens: 6, temperature: 0, cache })) fresh.push(t);
  assert.deepEqual(out, fresh);
});
