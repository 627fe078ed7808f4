// The hidden-state hook (ForwardOptions.onHidden) on Llama (stories260K) and GPT-2 (tiny random, from its ONNX
// initializers), and contrastive search / contrastive decoding on stories260K checked against recomputation
// from fresh full-prefix forward passes.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import "../src/backends/reference/index.js";
import { normalizeHF } from "../src/io/checkpoint.js";
import { readOnnxInitializers } from "../src/io/onnx.js";
import { contrastiveDecoding, emptyContrastiveDecodingInfo } from "../src/generation/contrastive-decoding.js";
import { contrastiveSearch } from "../src/generation/contrastive-search.js";
import { generateTokens } from "../src/generation/generate.js";
import { logSoftmax, softmaxCopy } from "../src/generation/softmax.js";
import { GPT2LMHeadModel } from "../src/models/gpt2.js";
import { LlamaForCausalLM } from "../src/models/llama.js";
import { loadModel } from "../src/models/load.js";
import type { CausalLM } from "../src/models/model.js";
import * as ops from "../src/tensor/ops.js";
import type { Tensor } from "../src/tensor/tensor.js";
import { SHARED, STORIES_BIN, STORIES_TOK } from "./helpers/paths.js";

async function stories(): Promise<{ model: LlamaForCausalLM; prompt: number[]; stop: number[] }> {
  const l = await loadModel(STORIES_BIN, { tokenizer: STORIES_TOK });
  return {
    model: l.model as LlamaForCausalLM,
    prompt: [l.bosId!, ...l.tokenizer!.encode("Once upon a time")],
    stop: l.stopTokens,
  };
}

function tinyGpt2(): GPT2LMHeadModel {
  const fx = JSON.parse(fs.readFileSync("test/fixtures/gpt2-reference.json", "utf8")) as {
    config: Record<string, unknown>;
    weightSources: Record<string, string>;
  };
  const init = readOnnxInitializers(path.join(SHARED, "models/tiny-random-gpt2-onnx/past.onnx"));
  const hf = new Map<string, Tensor>();
  for (const [name, src] of Object.entries(fx.weightSources))
    if (name !== "lm_head.weight") hf.set(name, init.get(src)!);
  const config = { ...fx.config, architectures: ["GPT2LMHeadModel"], model_type: "gpt2" };
  return new GPT2LMHeadModel(config, normalizeHF(config, hf));
}

async function collect(g: AsyncGenerator<number, unknown>): Promise<number[]> {
  const out: number[] = [];
  for await (const v of g) out.push(v);
  return out;
}

function checkHidden(model: CausalLM, lmHead: Tensor, ids: number[]): void {
  const all = model.forward(ids, model.newCache(), { allLogits: true }).f32();
  let hidden: Tensor | undefined;
  const last = model.forward(ids, model.newCache(), { onHidden: (h) => (hidden = h) });
  const V = model.vocabSize;
  assert.deepEqual(hidden!.shape[0], ids.length);
  assert.deepEqual(last.shape, [1, V]);
  // the logits are unchanged, and they are the classifier applied to the hidden states
  assert.deepEqual(Array.from(last.f32()), Array.from(all.subarray((ids.length - 1) * V)));
  const again = ops.linear(hidden!, lmHead).f32();
  for (let i = 0; i < all.length; i++) assert.ok(Math.abs(again[i]! - all[i]!) < 1e-4, `logit ${i}`);
  let withAll: Tensor | undefined;
  const both = model.forward(ids, model.newCache(), { allLogits: true, onHidden: (h) => (withAll = h) });
  assert.deepEqual(Array.from(both.f32()), Array.from(all));
  assert.deepEqual(Array.from(withAll!.f32()), Array.from(hidden!.f32()));
}

test("onHidden gives the final-norm hidden states of every position (Llama and GPT-2)", async () => {
  const { model, prompt } = await stories();
  checkHidden(model, model.lm_head, prompt);
  const gpt2 = tinyGpt2();
  checkHidden(gpt2, gpt2.lm_head, [5, 17, 99, 3, 42]);
});

test("contrastive search on stories260K: alpha 0 is greedy, and each pick matches a fresh recomputation", async () => {
  const { model, prompt, stop } = await stories();
  const greedy = await collect(generateTokens(model, prompt, { maxNewTokens: 40, stopTokens: stop }));
  const a0 = await collect(
    contrastiveSearch(model, prompt, { penaltyAlpha: 0, maxNewTokens: 40, stopTokens: stop }),
  );
  assert.deepEqual(a0, greedy);
  const alpha = 0.6;
  const k = 4;
  const out = await collect(
    contrastiveSearch(model, prompt, { penaltyAlpha: alpha, topK: k, maxNewTokens: 8 }),
  );
  assert.notDeepEqual(out, greedy.slice(0, 8));
  const unit = (h: Float32Array, D: number, row: number): number[] => {
    const v = Array.from(h.subarray(row * D, (row + 1) * D));
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  };
  for (let s = 0; s < out.length; s++) {
    const prefix = [...prompt, ...out.slice(0, s)];
    let ctx: Tensor | undefined;
    const logits = model.forward(prefix, model.newCache(), { onHidden: (h) => (ctx = h) }).f32();
    const D = ctx!.shape[1]!;
    const context = Array.from({ length: prefix.length }, (_, r) => unit(ctx!.f32(), D, r));
    const p = softmaxCopy(Float32Array.from(logits));
    const cands = Array.from(p.keys())
      .sort((a, b) => p[b]! - p[a]! || a - b)
      .slice(0, k);
    const scores = cands.map((c) => {
      let hc: Tensor | undefined;
      model.forward([...prefix, c], model.newCache(), { onHidden: (h) => (hc = h) });
      const v = unit(hc!.f32(), D, prefix.length);
      const pen = Math.max(...context.map((u) => u.reduce((acc, x, i) => acc + x * v[i]!, 0)));
      return (1 - alpha) * p[c]! - alpha * pen;
    });
    assert.equal(out[s], cands[scores.indexOf(Math.max(...scores))], `step ${s}`);
  }
});

test("contrastive decoding on stories260K with a 1-layer amateur matches a full-prefix recomputation", async () => {
  const { model, prompt, stop } = await stories();
  const amateur = new LlamaForCausalLM({ ...model.config, num_hidden_layers: 1 }, model.weights);
  const greedy = await collect(generateTokens(model, prompt, { maxNewTokens: 32, stopTokens: stop }));
  const one = await collect(
    contrastiveDecoding(model, prompt, { amateur, alpha: 1, maxNewTokens: 32, stopTokens: stop }),
  );
  assert.deepEqual(one, greedy);
  const info = emptyContrastiveDecodingInfo();
  const out = await collect(
    contrastiveDecoding(
      model,
      prompt,
      { amateur, alpha: 0.1, maxNewTokens: 32, stopTokens: stop },
      undefined,
      info,
    ),
  );
  assert.equal(out.length, 32);
  assert.ok(info.differsFromExpert > 0);
  // every pick: inside the plausible set and the argmax of log p_e - log p_a there, from one batched pass each
  const seq = [...prompt, ...out];
  const V = model.vocabSize;
  const e = model.forward(seq, model.newCache(), { allLogits: true }).f32();
  const a = amateur.forward(seq, amateur.newCache(), { allLogits: true }).f32();
  for (let s = 0; s < out.length; s++) {
    const row = (prompt.length - 1 + s) * V;
    const le = logSoftmax(e.subarray(row, row + V));
    const la = logSoftmax(a.subarray(row, row + V));
    const top = Math.max(...le);
    let best = -1;
    for (let v = 0; v < V; v++) {
      if (le[v]! < top + Math.log(0.1)) continue;
      if (best < 0 || le[v]! - la[v]! > le[best]! - la[best]!) best = v;
    }
    assert.equal(out[s], best, `step ${s}`);
  }
});
