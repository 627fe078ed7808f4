// Decode plans (tensor/plan.ts, models/llama-plan.ts, models/gpt2-plan.ts): a Llama or GPT-2 decode step run as
// one plan gives the logits of the op-by-op forward bit for bit, on the wasm backend (one program a token, one and
// two threads, f32/Q8_0/Q4_0 weights, GQA and MHA, Qwen2 biases, tied embeddings, both GELUs, a context long
// enough for decode attention to be split by keys) and on the
// reference backend (the steps one by one);
// the wasm backend declines plans with buffers outside its memory, and a quantized x holding NaN takes the
// exact path in every product that shares it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import "../src/backends/reference/index.js";
import { initWasmBackend } from "../src/backends/wasm/index.js";
import { F32KVCache } from "../src/cache/kv-cache.js";
import { argmax } from "../src/generation/sampling.js";
import { GPT2LMHeadModel } from "../src/models/gpt2.js";
import { LlamaForCausalLM } from "../src/models/llama.js";
import { decodesByPlan, type CausalLM } from "../src/models/model.js";
import { noGrad } from "../src/tensor/grad.js";
import { quantizedCopy } from "../src/models/quantized-copy.js";
import { setBackend } from "../src/tensor/backend.js";
import { runPlan, type PlanStep } from "../src/tensor/plan.js";
import { activateBackend } from "../src/backends/select.js";
import { heapAllocator, type Allocator } from "../src/tensor/storage.js";
import { Tensor } from "../src/tensor/tensor.js";
import { rng } from "./helpers/fixtures.js";
import { randomLlamaWeights, tinyLlamaConfig } from "./helpers/llama-weights.js";

const wasm = initWasmBackend();

type Config = Record<string, unknown>;

/** A tiny GQA Llama, 64 wide (8 heads on 2). */
function config(over: Config = {}): Config {
  return tinyLlamaConfig({
    vocab_size: 37,
    hidden_size: 64,
    intermediate_size: 96,
    num_attention_heads: 8,
    max_position_embeddings: 64,
    ...over,
  });
}

/**
 * Greedy decode of 12 steps after a prompt (5 tokens, or `long`: 300, so that decode attention is split by keys
 * into ranges of 128): the plan (default forward) and op by op (allLogits).
 */
function compareDecode(model: CausalLM, what: string, long = false): void {
  const prompt = long ? Array.from({ length: 300 }, (_, i) => (i * 7 + 1) % 37) : [1, 5, 9, 2, 7];
  const plan = model.newCache();
  const ops = model.newCache();
  assert.ok(plan.appendRows, "an f32 cache takes plans");
  let a = model.forward(prompt, plan).f32().slice();
  let b = model.forward(prompt, ops).f32().slice();
  for (let step = 0; step < 12; step++) {
    assert.deepEqual(a, b, `${what}: logits at step ${step}`);
    const t = argmax(a);
    a = model.forward([t], plan).f32().slice();
    b = model.forward([t], ops, { allLogits: true }).f32().slice();
  }
  assert.equal(plan.length, ops.length);
  plan.release?.();
  ops.release?.();
}

/** A random GPT-2 (Hugging Face names and layouts after loading: (out, in) products), in `allocator`'s memory. */
function randomGpt2(activation: string, seed: number, allocator: Allocator): GPT2LMHeadModel {
  const [V, D, F, P, L] = [37, 64, 128, 48, 2];
  const r = rng(seed);
  const w = new Map<string, Tensor>();
  const put = (name: string, shape: number[], scale: number, offset = 0): void => {
    const t = Tensor.zeros(shape, "f32", allocator);
    const f = t.f32();
    for (let i = 0; i < f.length; i++) f[i] = offset + scale * (2 * r() - 1);
    w.set(name, t);
  };
  put("transformer.wte.weight", [V, D], 1);
  put("transformer.wpe.weight", [P, D], 0.3);
  for (let l = 0; l < L; l++) {
    const p = `transformer.h.${l}`;
    put(`${p}.ln_1.weight`, [D], 0.2, 1);
    put(`${p}.ln_1.bias`, [D], 0.1);
    put(`${p}.attn.c_attn.weight`, [3 * D, D], 0.4);
    put(`${p}.attn.c_attn.bias`, [3 * D], 0.2);
    put(`${p}.attn.c_proj.weight`, [D, D], 0.3);
    put(`${p}.attn.c_proj.bias`, [D], 0.1);
    put(`${p}.ln_2.weight`, [D], 0.2, 1);
    put(`${p}.ln_2.bias`, [D], 0.1);
    put(`${p}.mlp.c_fc.weight`, [F, D], 0.3);
    put(`${p}.mlp.c_fc.bias`, [F], 0.1);
    put(`${p}.mlp.c_proj.weight`, [D, F], 0.2);
    put(`${p}.mlp.c_proj.bias`, [D], 0.1);
  }
  put("transformer.ln_f.weight", [D], 0.2, 1);
  put("transformer.ln_f.bias", [D], 0.1);
  const config = {
    architectures: ["GPT2LMHeadModel"],
    model_type: "gpt2",
    vocab_size: V,
    n_embd: D,
    n_layer: L,
    n_head: 4,
    n_positions: P,
    n_inner: F,
    activation_function: activation,
  };
  return new GPT2LMHeadModel(config, w);
}

/** A GQA Llama with room for a 312-token context. */
function longModel(allocator: Allocator): CausalLM {
  const c = config({ max_position_embeddings: 512 });
  return quantizedCopy(new LlamaForCausalLM(c, randomLlamaWeights(c, 6, { allocator })), "q4_0", {
    allocator,
  });
}

function models(allocator: Allocator): [string, CausalLM][] {
  const gqa = config();
  const out: [string, CausalLM][] = [];
  const f32 = new LlamaForCausalLM(gqa, randomLlamaWeights(gqa, 1, { bias: true, allocator }));
  out.push(["f32, GQA, Qwen2 biases", f32]);
  out.push(["q8_0", quantizedCopy(f32, "q8_0", { allocator })]);
  const tied = config({ num_key_value_heads: 8, tie_word_embeddings: true });
  const mha = new LlamaForCausalLM(tied, randomLlamaWeights(tied, 2, { tied: true, allocator }));
  out.push(["q4_0, MHA, tied embeddings", quantizedCopy(mha, "q4_0", { allocator })]);
  out.push(["GPT-2, f32, tanh GELU", randomGpt2("gelu_new", 4, allocator)]);
  out.push([
    "GPT-2, q8_0, exact GELU",
    quantizedCopy(randomGpt2("gelu", 5, allocator), "q8_0", { allocator }),
  ]);
  return out;
}

test("wasm: a decode step as one program gives the op-by-op logits bit for bit (1 and 2 threads)", async () => {
  const minSplitWork = wasm.minSplitWork;
  try {
    await activateBackend("wasm", 1); // frames and caches in the memory
    const list = models(wasm.arena);
    const long = longModel(wasm.arena);
    for (const threads of [1, 2]) {
      const used = await wasm.setThreads(threads);
      assert.equal(used, Math.min(threads, availableParallelism()));
      wasm.minSplitWork = threads > 1 ? 0 : minSplitWork; // split even the smallest products
      for (const [what, model] of list) compareDecode(model, `${what}, ${used} thread(s)`);
      compareDecode(long, `q4_0, 300-token prompt, ${used} thread(s)`, true);
    }
  } finally {
    wasm.minSplitWork = minSplitWork;
    await activateBackend("reference", 1);
  }
});

test("reference backend: the plan's steps one by one give the op-by-op logits bit for bit", () => {
  setBackend("reference");
  for (const [what, model] of models(heapAllocator)) compareDecode(model, what);
});

test("wasm: runPlan declines buffers outside its memory; the steps then run one by one", () => {
  setBackend("wasm");
  try {
    const a = new Float32Array([1, 2, 3, 4]);
    const b = new Float32Array([10, 20, 30, 40]);
    const out = new Float32Array(4);
    const steps: PlanStep[] = [{ op: "add", a, b, out }];
    assert.equal(wasm.kernels.runPlan!(steps), false);
    assert.deepEqual(Array.from(out), [0, 0, 0, 0], "nothing ran");
    runPlan(steps);
    assert.deepEqual(Array.from(out), [11, 22, 33, 44]);
  } finally {
    setBackend("reference");
  }
});

test("wasm: products sharing one quantized x all take the exact path when x holds NaN", () => {
  setBackend("wasm");
  const r = rng(5);
  const inArena = (n: number, scale = 1): Float32Array => {
    const f = Tensor.zeros([n], "f32", wasm.arena).f32();
    for (let i = 0; i < n; i++) f[i] = scale * (2 * r() - 1);
    return f;
  };
  const K = 64;
  const model = new LlamaForCausalLM(config(), randomLlamaWeights(config(), 3, { allocator: wasm.arena }));
  const q = quantizedCopy(model, "q8_0", { allocator: wasm.arena }) as LlamaForCausalLM;
  const w1 = q.layers[0]!.mlp.gate_proj.weight;
  const w2 = q.layers[0]!.mlp.up_proj.weight;
  assert.equal(w1.dtype, "q8_0");
  try {
    for (const bad of [false, true]) {
      const x = inArena(K);
      if (bad) x[3] = NaN;
      const N = w1.shape[0]!;
      const [o1, o2, want1, want2] = [inArena(N), inArena(N), new Float32Array(N), new Float32Array(N)];
      const steps: PlanStep[] = [
        { op: "linear", x, M: 1, K, w: w1, bias: null, out: o1 },
        { op: "linear", x, M: 1, K, w: w2, bias: null, out: o2 },
      ];
      assert.equal(wasm.kernels.runPlan!(steps), true);
      wasm.kernels.linear(x, 1, K, w1, null, want1);
      wasm.kernels.linear(x, 1, K, w2, null, want2);
      assert.deepEqual(
        o1.subarray(0, w1.shape[0]!),
        want1.subarray(0, w1.shape[0]!),
        `first product, NaN ${bad}`,
      );
      assert.deepEqual(
        o2.subarray(0, w2.shape[0]!),
        want2.subarray(0, w2.shape[0]!),
        `second product, NaN ${bad}`,
      );
      if (bad) assert.ok(o1.subarray(0, w1.shape[0]!).every(Number.isNaN));
    }
  } finally {
    setBackend("reference");
  }
});

test("the F32 cache's appendRows: views of the new rows, and the rows attention reads", () => {
  const cache = new F32KVCache({ nLayers: 2, nKvHeads: 2, headDim: 4, maxLength: 40 });
  const k0 = new Tensor(
    "f32",
    [3, 2, 4],
    Float32Array.from({ length: 24 }, (_, i) => i),
  );
  cache.update(0, k0, k0);
  cache.update(1, k0, k0);
  cache.commit(3);
  const rows = cache.appendRows(1, 1);
  assert.equal(rows.k.length, 8);
  rows.k.fill(7);
  rows.v.fill(9);
  assert.deepEqual(rows.rows.k.shape, [4, 2, 4]);
  assert.deepEqual(Array.from(rows.rows.k.f32().subarray(0, 24)), Array.from(k0.f32()));
  assert.deepEqual(Array.from(rows.rows.k.f32().subarray(24)), new Array(8).fill(7));
  assert.deepEqual(Array.from(rows.rows.v.f32().subarray(24)), new Array(8).fill(9));
  assert.throws(() => cache.appendRows(2, 1), /no rows for layer 2/);
  assert.throws(() => cache.appendRows(0, 0), /no rows/);
  for (let i = 0; i < 36; i++) cache.commit(1);
  assert.throws(() => cache.appendRows(0, 2), /context full/);
});

test("a forward decodes by plan only for one token, an f32 cache, no hidden states and no gradients to record", () => {
  const cfg = config();
  const model = new LlamaForCausalLM(cfg, randomLlamaWeights(cfg, 6));
  const cache = model.newCache();
  const w = model.weights;
  assert.equal(decodesByPlan([3], cache, {}, w), true);
  assert.equal(decodesByPlan([3, 4], cache, {}, w), false);
  assert.equal(decodesByPlan([3], cache, { allLogits: true }, w), false);
  assert.equal(decodesByPlan([3], cache, { onHidden: () => {} }, w), false);
  assert.equal(decodesByPlan([3], model.newCache({ kind: "int8" }), {}, w), false);
  w.get("model.norm.weight")!.requiresGrad = true;
  assert.equal(decodesByPlan([3], cache, {}, w), false, "gradients to record");
  assert.equal(
    noGrad(() => decodesByPlan([3], cache, {}, w)),
    true,
  );
  w.get("model.norm.weight")!.requiresGrad = false;
});
