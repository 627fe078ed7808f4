// Tiny random Llama models built in memory (Hugging Face names, f32): KV-cache decode and rollback against full
// forwards, GQA against repeated kv heads, Qwen2 biases, sliding windows against a naive float64 Llama written here,
// config parsing and the cache's size accounting and context limit.

import { test } from "node:test";
import assert from "node:assert/strict";
import "../src/backends/reference/index.js";
import { F32KVCache } from "../src/cache/kv-cache.js";
import { llamaConfigFromHF } from "../src/models/config.js";
import { LlamaForCausalLM } from "../src/models/llama.js";
import type { CausalLM } from "../src/models/model.js";
import { architectureOf, buildModel } from "../src/models/registry.js";
import { Tensor } from "../src/tensor/tensor.js";
import { randomLlamaWeights, tinyLlamaConfig } from "./helpers/llama-weights.js";

type Config = Record<string, unknown>;

const randomWeights = (cfg: Config, seed: number, opts: { bias?: boolean; tied?: boolean } = {}) =>
  randomLlamaWeights(cfg, seed, opts);

const SEQ = [3, 7, 1, 12, 0, 5, 5, 9, 2, 11, 4, 8];

function rowsOf(t: Tensor): number[][] {
  const [T, V] = t.shape as [number, number];
  const a = t.toArray();
  return Array.from({ length: T }, (_, i) => a.slice(i * V, i * V + V));
}

function assertRowsClose(actual: number[][], expected: number[][], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: rows`);
  for (let i = 0; i < actual.length; i++) {
    for (let j = 0; j < expected[i]!.length; j++) {
      const a = actual[i]![j]!;
      const e = expected[i]![j]!;
      assert.ok(Math.abs(a - e) <= tol * (1 + Math.abs(e)), `${what}[${i}][${j}]: ${a} vs ${e}`);
    }
  }
}

function maxDiff(a: number[][], b: number[][]): number {
  let m = 0;
  for (let i = 0; i < a.length; i++)
    for (let j = 0; j < a[i]!.length; j++) m = Math.max(m, Math.abs(a[i]![j]! - b[i]![j]!));
  return m;
}

/** Logits for every position via one forward pass with allLogits. */
function fullLogits(model: CausalLM, ids: number[]): number[][] {
  return rowsOf(model.forward(ids, model.newCache(), { allLogits: true }));
}

// ---------------------------------------------------------------- a naive Llama in float64

/**
 * HF LlamaForCausalLM written out position by position: RMSNorm, q/k/v (+bias), RoPE as complex rotation of the pairs
 * (i, i + hd/2), query head h reading kv head floor(h / (H/KV)), keys j with j <= p and p − j < window (0 = all),
 * SwiGLU MLP, final norm, lm_head (or the tied embedding).
 */
function naiveLlama(cfg: Config, w: Map<string, Tensor>, ids: number[], window = 0): number[][] {
  const V = cfg["vocab_size"] as number;
  const D = cfg["hidden_size"] as number;
  const F = cfg["intermediate_size"] as number;
  const H = cfg["num_attention_heads"] as number;
  const KV = (cfg["num_key_value_heads"] as number | undefined) ?? H;
  const L = cfg["num_hidden_layers"] as number;
  const eps = cfg["rms_norm_eps"] as number;
  const theta = cfg["rope_theta"] as number;
  const hd = D / H;
  const get = (name: string): Float32Array => w.get(name)!.f32();
  const mv = (W: Float32Array, x: number[], rows: number, b?: Float32Array): number[] =>
    Array.from({ length: rows }, (_, r) =>
      x.reduce((s, v, c) => s + v * W[r * x.length + c]!, b ? b[r]! : 0),
    );
  const rms = (x: number[], g: Float32Array): number[] => {
    const ms = x.reduce((s, v) => s + v * v, 0) / x.length;
    return x.map((v, i) => (v / Math.sqrt(ms + eps)) * g[i]!);
  };
  const rope = (x: number[], heads: number, pos: number): number[] => {
    const out = [...x];
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < hd / 2; i++) {
        const a = pos * Math.pow(theta, -(2 * i) / hd);
        const re = x[h * hd + i]!;
        const im = x[h * hd + i + hd / 2]!;
        out[h * hd + i] = re * Math.cos(a) - im * Math.sin(a);
        out[h * hd + i + hd / 2] = re * Math.sin(a) + im * Math.cos(a);
      }
    }
    return out;
  };
  const T = ids.length;
  let x = ids.map((id) => Array.from(get("model.embed_tokens.weight").subarray(id * D, id * D + D)));
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    const bias = (n: string): Float32Array | undefined =>
      w.has(`${p}.self_attn.${n}.bias`) ? get(`${p}.self_attn.${n}.bias`) : undefined;
    const hs = x.map((row) => rms(row, get(`${p}.input_layernorm.weight`)));
    const q = hs.map((h, t) =>
      rope(mv(get(`${p}.self_attn.q_proj.weight`), h, H * hd, bias("q_proj")), H, t),
    );
    const k = hs.map((h, t) =>
      rope(mv(get(`${p}.self_attn.k_proj.weight`), h, KV * hd, bias("k_proj")), KV, t),
    );
    const v = hs.map((h) => mv(get(`${p}.self_attn.v_proj.weight`), h, KV * hd, bias("v_proj")));
    const next: number[][] = [];
    for (let t = 0; t < T; t++) {
      const att = new Array<number>(H * hd).fill(0);
      for (let h = 0; h < H; h++) {
        const kh = Math.floor(h / (H / KV));
        const js = Array.from({ length: t + 1 }, (_, j) => j).filter((j) => window === 0 || t - j < window);
        const s = js.map((j) => {
          let d = 0;
          for (let i = 0; i < hd; i++) d += q[t]![h * hd + i]! * k[j]![kh * hd + i]!;
          return d / Math.sqrt(hd);
        });
        const m = Math.max(...s);
        const e = s.map((z) => Math.exp(z - m));
        const z = e.reduce((a, b) => a + b, 0);
        js.forEach((j, n) => {
          for (let i = 0; i < hd; i++) att[h * hd + i]! += (e[n]! / z) * v[j]![kh * hd + i]!;
        });
      }
      const o = mv(get(`${p}.self_attn.o_proj.weight`), att, D);
      const h1 = x[t]!.map((val, i) => val + o[i]!);
      const n2 = rms(h1, get(`${p}.post_attention_layernorm.weight`));
      const g = mv(get(`${p}.mlp.gate_proj.weight`), n2, F);
      const u = mv(get(`${p}.mlp.up_proj.weight`), n2, F);
      const act = g.map((a, i) => (a / (1 + Math.exp(-a))) * u[i]!);
      const dn = mv(get(`${p}.mlp.down_proj.weight`), act, D);
      next.push(h1.map((val, i) => val + dn[i]!));
    }
    x = next;
  }
  const head = w.has("lm_head.weight") ? get("lm_head.weight") : get("model.embed_tokens.weight");
  return x.map((row) => mv(head, rms(row, get("model.norm.weight")), V));
}

// ---------------------------------------------------------------- forward, cache, rollback

test("a full forward equals a naive float64 Llama (GQA 4/2, untied and tied heads)", () => {
  for (const tied of [false, true]) {
    const cfg = tinyLlamaConfig();
    const w = randomWeights(cfg, 1, { tied });
    const model = buildModel(cfg, w);
    assert.equal(model.architecture, "LlamaForCausalLM");
    const ids = SEQ.slice(0, 9);
    assertRowsClose(fullLogits(model, ids), naiveLlama(cfg, w, ids), 1e-4, `tied=${tied}`);
  }
});

test("prefill then one-token decode steps equal the full forward's rows (the KV cache path)", () => {
  const cfg = tinyLlamaConfig();
  const model = buildModel(cfg, randomWeights(cfg, 2));
  const full = fullLogits(model, SEQ);
  const cache = model.newCache();
  const T = 5;
  const got = [rowsOf(model.forward(SEQ.slice(0, T), cache))[0]!];
  assert.equal(cache.length, T);
  for (let i = T; i < SEQ.length; i++) got.push(rowsOf(model.forward([SEQ[i]!], cache))[0]!);
  assert.equal(cache.length, SEQ.length);
  assertRowsClose(got, full.slice(T - 1), 1e-5, "decode");
  // uneven chunks with allLogits give every row
  const c2 = model.newCache();
  const chunked = [...rowsOf(model.forward(SEQ.slice(0, 3), c2, { allLogits: true }))];
  chunked.push(...rowsOf(model.forward(SEQ.slice(3, 4), c2, { allLogits: true })));
  chunked.push(...rowsOf(model.forward(SEQ.slice(4), c2, { allLogits: true })));
  assertRowsClose(chunked, full, 1e-5, "chunks");
  // without allLogits only the last row comes back
  assert.deepEqual(model.forward(SEQ.slice(0, 4), model.newCache()).shape, [1, 13]);
});

test("cache.trim(n) then re-forwarding reproduces the logits, and a different continuation matches a fresh run", () => {
  const cfg = tinyLlamaConfig();
  const model = buildModel(cfg, randomWeights(cfg, 3));
  const cache = model.newCache();
  const first = rowsOf(model.forward(SEQ.slice(0, 9), cache, { allLogits: true }));
  cache.trim(3);
  assert.equal(cache.length, 6);
  const again = rowsOf(model.forward(SEQ.slice(6, 9), cache, { allLogits: true }));
  assertRowsClose(again, first.slice(6), 1e-6, "same tokens after trim");
  cache.trim(4);
  const alt = [10, 2, 2, 6];
  const branch = rowsOf(model.forward(alt, cache, { allLogits: true }));
  const fresh = fullLogits(model, [...SEQ.slice(0, 5), ...alt]);
  assertRowsClose(branch, fresh.slice(5), 1e-5, "other continuation");
  assert.throws(() => cache.trim(cache.length + 1), /cannot trim/);
  assert.throws(() => cache.trim(-1), /cannot trim/);
});

// ---------------------------------------------------------------- GQA and biases

/** Repeats each kv head's rows of a [KV·hd, D] projection `group` times → [KV·group·hd, D]. */
function repeatHeads(t: Tensor, KV: number, group: number, hd: number): Tensor {
  const D = t.shape[1]!;
  const src = t.f32();
  const out = new Float32Array(KV * group * hd * D);
  for (let h = 0; h < KV * group; h++) {
    const j = Math.floor(h / group);
    out.set(src.subarray(j * hd * D, (j + 1) * hd * D), h * hd * D);
  }
  return Tensor.fromArray(out, [KV * group * hd, D]);
}

for (const KV of [2, 1]) {
  test(`GQA: num_key_value_heads ${KV} equals the same model with k/v repeated to 4 heads`, () => {
    const cfg = tinyLlamaConfig({ num_key_value_heads: KV });
    const w = randomWeights(cfg, 4 + KV);
    const wide = new Map(w);
    for (let l = 0; l < 2; l++) {
      for (const n of ["k_proj", "v_proj"]) {
        const key = `model.layers.${l}.self_attn.${n}.weight`;
        wide.set(key, repeatHeads(w.get(key)!, KV, 4 / KV, 4));
      }
    }
    const mha = buildModel(tinyLlamaConfig({ num_key_value_heads: 4 }), wide);
    const gqa = buildModel(cfg, w);
    assert.equal(gqa.newCache().shape.nKvHeads, KV);
    assertRowsClose(fullLogits(gqa, SEQ), fullLogits(mha, SEQ), 1e-5, "gqa vs mha");
    assertRowsClose(fullLogits(gqa, SEQ), naiveLlama(cfg, w, SEQ), 1e-4, "gqa vs naive");
  });
}

test("Qwen2 q/k/v biases are used when present", () => {
  const cfg = tinyLlamaConfig({ architectures: ["Qwen2ForCausalLM"] });
  const w = randomWeights(cfg, 6, { bias: true });
  const model = buildModel(cfg, w);
  assert.equal(model.architecture, "Qwen2ForCausalLM");
  const withBias = fullLogits(model, SEQ.slice(0, 6));
  assertRowsClose(withBias, naiveLlama(cfg, w, SEQ.slice(0, 6)), 1e-4, "biased vs naive");
  // zero biases equal no biases
  const zero = new Map(w);
  const none = new Map(w);
  for (const [k, t] of w) {
    if (k.endsWith(".bias")) {
      zero.set(k, Tensor.zeros(t.shape));
      none.delete(k);
    }
  }
  assertRowsClose(
    fullLogits(buildModel(cfg, zero), SEQ.slice(0, 6)),
    fullLogits(buildModel(cfg, none), SEQ.slice(0, 6)),
    1e-6,
    "zero bias",
  );
  assert.ok(maxDiff(withBias, fullLogits(buildModel(cfg, none), SEQ.slice(0, 6))) > 1e-3);
  // each of q, k and v bias alone changes the output
  for (const n of ["q_proj", "k_proj", "v_proj"]) {
    const one = new Map(zero);
    one.set(`model.layers.1.self_attn.${n}.bias`, w.get(`model.layers.1.self_attn.${n}.bias`)!);
    assert.ok(
      maxDiff(
        fullLogits(buildModel(cfg, one), SEQ.slice(0, 6)),
        fullLogits(buildModel(cfg, zero), SEQ.slice(0, 6)),
      ) > 1e-4,
      n,
    );
  }
  // a bias of the wrong size is refused by name
  const bad = new Map(w);
  bad.set("model.layers.0.self_attn.k_proj.bias", Tensor.zeros([3]));
  assert.throws(
    () => buildModel(cfg, bad),
    /model\.layers\.0\.self_attn\.k_proj\.bias" has shape \[3\], expected \[8\]/,
  );
});

// ---------------------------------------------------------------- sliding window

test("sliding_window >= sequence length equals no window", () => {
  const w = randomWeights(tinyLlamaConfig(), 7);
  const ids = SEQ.slice(0, 10);
  const plain = fullLogits(buildModel(tinyLlamaConfig(), w), ids);
  const wide = fullLogits(
    buildModel(tinyLlamaConfig({ architectures: ["MistralForCausalLM"], sliding_window: 10 }), w),
    ids,
  );
  assertRowsClose(wide, plain, 1e-6, "window 10");
  const off = fullLogits(
    buildModel(tinyLlamaConfig({ sliding_window: 3, use_sliding_window: false }), w),
    ids,
  );
  assertRowsClose(off, plain, 1e-6, "use_sliding_window false");
});

test("a small sliding window attends exactly keys p-w+1..p: full forward and decode equal the naive Llama", () => {
  const window = 3;
  const cfg = tinyLlamaConfig({ architectures: ["MistralForCausalLM"], sliding_window: window });
  const w = randomWeights(cfg, 8);
  const model = buildModel(cfg, w);
  const ids = SEQ.slice(0, 10);
  const naive = naiveLlama(cfg, w, ids, window);
  const full = fullLogits(model, ids);
  assertRowsClose(full, naive, 1e-4, "windowed forward");
  // the first `window` positions see their whole past: same as no window there, different later
  const plain = fullLogits(buildModel(tinyLlamaConfig(), w), ids);
  assertRowsClose(full.slice(0, window), plain.slice(0, window), 1e-6, "inside the window");
  assert.ok(maxDiff(full.slice(window), plain.slice(window)) > 1e-3);
  // an off-by-one window (w − 1 or w + 1 keys) would not match
  assert.ok(maxDiff(full, naiveLlama(cfg, w, ids, window + 1)) > 1e-3);
  assert.ok(maxDiff(full, naiveLlama(cfg, w, ids, window - 1)) > 1e-3);
  // decode through the cache applies the same window
  const cache = model.newCache();
  const steps = [rowsOf(model.forward(ids.slice(0, 2), cache))[0]!];
  for (let i = 2; i < ids.length; i++) steps.push(rowsOf(model.forward([ids[i]!], cache))[0]!);
  assertRowsClose(steps, naive.slice(1), 1e-4, "windowed decode");
});

test("with one layer and window w, the last logits depend only on the last w tokens (RoPE is relative)", () => {
  const window = 4;
  const cfg = tinyLlamaConfig({ num_hidden_layers: 1, sliding_window: window });
  const model = buildModel(cfg, randomWeights(cfg, 9));
  const ids = SEQ.slice(0, 11);
  const last = fullLogits(model, ids).at(-1)!;
  const tail = fullLogits(model, ids.slice(-window)).at(-1)!;
  assertRowsClose([last], [tail], 1e-4, "last w tokens");
  const other = fullLogits(model, [0, 0, 0, 0, 0, 0, 0, ...ids.slice(-window)]).at(-1)!;
  assertRowsClose([other], [tail], 1e-4, "different far context");
});

// ---------------------------------------------------------------- config parsing and the registry

test("llamaConfigFromHF ignores unknown keys, fills defaults and reads GQA, window and rope settings", () => {
  const c = llamaConfigFromHF(
    tinyLlamaConfig({
      some_new_key: { nested: true },
      torch_dtype: "bfloat16",
      sliding_window: 4096,
      eos_token_id: [2, 7],
      rope_scaling: null,
    }),
  );
  assert.equal(c.vocabSize, 13);
  assert.equal(c.numHeads, 4);
  assert.equal(c.numKvHeads, 2);
  assert.equal(c.headDim, 4);
  assert.equal(c.slidingWindow, 4096);
  assert.equal(c.eosTokenId, 2);
  assert.equal(c.ropeScaling, null);
  const d = llamaConfigFromHF({
    vocab_size: 5,
    hidden_size: 8,
    intermediate_size: 4,
    num_hidden_layers: 1,
    num_attention_heads: 2,
  });
  assert.equal(d.numKvHeads, 2);
  assert.equal(d.contextLength, 2048);
  assert.equal(d.rmsNormEps, 1e-6);
  assert.equal(d.ropeTheta, 10000);
  assert.equal(d.slidingWindow, 0);
  assert.equal(d.tieWordEmbeddings, false);
  assert.equal(llamaConfigFromHF(tinyLlamaConfig({ sliding_window: null })).slidingWindow, 0);
  assert.equal(
    llamaConfigFromHF(tinyLlamaConfig({ sliding_window: 64, use_sliding_window: false })).slidingWindow,
    0,
  );
});

test("llamaConfigFromHF names a missing or mistyped key and refuses heads not divisible by kv heads", () => {
  for (const key of [
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
  ]) {
    const c = tinyLlamaConfig();
    delete c[key];
    assert.throws(() => llamaConfigFromHF(c), new RegExp(`missing "${key}"`));
    assert.throws(() => buildModel(c, new Map()), new RegExp(`missing "${key}"`));
  }
  assert.throws(
    () => llamaConfigFromHF(tinyLlamaConfig({ hidden_size: "16" })),
    /"hidden_size" must be a number/,
  );
  assert.throws(
    () => llamaConfigFromHF(tinyLlamaConfig({ num_hidden_layers: 0 })),
    /"num_hidden_layers" must be a positive integer/,
  );
  assert.throws(
    () => llamaConfigFromHF(tinyLlamaConfig({ num_key_value_heads: 3 })),
    /4 heads not divisible by 3 kv heads/,
  );
  assert.throws(
    () => llamaConfigFromHF(tinyLlamaConfig({ rope_scaling: { type: "dynamic", factor: 2 } })),
    /rope_scaling type "dynamic"/,
  );
});

test("buildModel refuses an unknown architecture by name and resolves model_type", () => {
  assert.throws(
    () => buildModel(tinyLlamaConfig({ architectures: ["FalconForCausalLM"] }), new Map()),
    /unsupported architecture "FalconForCausalLM"/,
  );
  assert.throws(() => buildModel({ model_type: "falcon" }, new Map()), /names no architecture/);
  const c = tinyLlamaConfig();
  delete c["architectures"];
  assert.equal(architectureOf({ ...c, model_type: "mistral" }), "MistralForCausalLM");
  assert.equal(
    buildModel({ ...c, model_type: "qwen2" }, randomWeights(c, 10)).architecture,
    "Qwen2ForCausalLM",
  );
});

test("a missing or misshapen weight is reported by its full name", () => {
  const cfg = tinyLlamaConfig();
  const w = randomWeights(cfg, 11);
  const missing = new Map(w);
  missing.delete("model.layers.1.mlp.up_proj.weight");
  assert.throws(
    () => new LlamaForCausalLM(cfg, missing),
    /missing weight "model\.layers\.1\.mlp\.up_proj\.weight"/,
  );
  const wrong = new Map(w);
  wrong.set("model.layers.0.self_attn.k_proj.weight", Tensor.zeros([16, 16]));
  assert.throws(
    () => new LlamaForCausalLM(cfg, wrong),
    /"model\.layers\.0\.self_attn\.k_proj\.weight" has shape \[16,16\], expected \[8,16\]/,
  );
});

// ---------------------------------------------------------------- the KV cache

test("the KV cache reports bytesPerToken = 2 · layers · kvHeads · headDim · 4", () => {
  const cfg = tinyLlamaConfig({ num_hidden_layers: 3, num_key_value_heads: 1 });
  const model = buildModel(cfg, randomWeights(cfg, 12));
  const cache = model.newCache();
  assert.equal(cache.bytesPerToken, 2 * 3 * 1 * 4 * 4);
  assert.equal(cache.length, 0);
  model.forward(SEQ.slice(0, 5), cache);
  assert.equal(cache.length, 5);
  assert.ok(cache.bytes >= 5 * cache.bytesPerToken && cache.bytes % cache.bytesPerToken === 0);
  assert.equal(
    new F32KVCache({ nLayers: 32, nKvHeads: 8, headDim: 128, maxLength: 4096 }).bytesPerToken,
    2 * 32 * 8 * 128 * 4,
  );
});

test("the KV cache refuses to grow past the context length with a clear error and keeps its state", () => {
  const cfg = tinyLlamaConfig({ max_position_embeddings: 8 });
  const model = buildModel(cfg, randomWeights(cfg, 13));
  const cache = model.newCache();
  const before = rowsOf(model.forward(SEQ.slice(0, 8), cache));
  assert.equal(cache.length, 8);
  assert.throws(
    () => model.forward([1], cache),
    /context full: 9 positions exceed the model's context length 8/,
  );
  assert.equal(cache.length, 8);
  assert.throws(() => model.forward(SEQ.slice(0, 9), model.newCache()), /context full/);
  // still usable: roll back one position and redo it
  cache.trim(1);
  assertRowsClose(rowsOf(model.forward([SEQ[7]!], cache)), before, 1e-6, "after the error");
});

test("F32KVCache keeps earlier rows when it grows and returns views over all stored rows", () => {
  const c = new F32KVCache({ nLayers: 2, nKvHeads: 1, headDim: 2, maxLength: 40 });
  for (let p = 0; p < 40; p++) {
    for (let l = 0; l < 2; l++) {
      const kv = c.update(l, Tensor.fromArray([p, l], [1, 1, 2]), Tensor.fromArray([-p, l], [1, 1, 2]));
      assert.deepEqual(kv.k.shape, [p + 1, 1, 2]);
      assert.deepEqual(kv.k.toArray().slice(-2), [p, l]);
      if (p === 39) {
        assert.deepEqual(kv.k.toArray(), Array.from({ length: 40 }, (_, i) => [i, l]).flat());
        assert.deepEqual(kv.v.toArray(), Array.from({ length: 40 }, (_, i) => [-i, l]).flat());
      }
    }
    c.commit(1);
  }
  assert.equal(c.bytes, 40 * c.bytesPerToken);
  assert.throws(
    () => c.update(0, Tensor.fromArray([1, 2], [1, 1, 2]), Tensor.fromArray([1, 2], [1, 1, 2])),
    /context full/,
  );
  assert.throws(
    () => c.update(0, Tensor.fromArray([1, 2, 3], [3]), Tensor.fromArray([1, 2, 3], [3])),
    /do not match the cache shape/,
  );
});
