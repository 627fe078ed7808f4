// Batched forward (models/model.ts forwardBatch, forwardEach): several sequences with their own caches in one
// pass give the logits each would get alone, on both backends, for Llama (stories260K) and GPT-2.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { activateBackend } from "../src/backends/select.js";
import { normalizeHF } from "../src/io/checkpoint.js";
import { readOnnxInitializers } from "../src/io/onnx.js";
import { GPT2LMHeadModel } from "../src/models/gpt2.js";
import { loadModel } from "../src/models/load.js";
import { forwardEach, type CausalLM } from "../src/models/model.js";
import type { Allocator } from "../src/tensor/storage.js";
import type { Tensor } from "../src/tensor/tensor.js";
import { SHARED, STORIES_BIN, STORIES_TOK } from "./helpers/paths.js";

function tinyGPT2(): CausalLM {
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

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Three sequences of different lengths; a batch step of 1, 2 and 1 new tokens, then one more of 1 each. */
function checkBatch(model: CausalLM, bound: number, label: string): void {
  const prompts = [
    [1, 403, 407],
    [1, 261],
    [1, 378, 432, 383, 286],
  ];
  const steps = [
    [[300], [301, 302], [303]],
    [[310], [311], [312]],
  ];
  const batched = prompts.map(() => model.newCache());
  const alone = prompts.map(() => model.newCache());
  prompts.forEach((p, i) => {
    model.forward(p, batched[i]!);
    model.forward(p, alone[i]!);
  });
  for (const step of steps) {
    const outs = forwardEach(
      model,
      step.map((ids, i) => ({ ids, cache: batched[i]! })),
    );
    step.forEach((ids, i) => {
      const ref = model.forward(ids, alone[i]!).f32();
      assert.equal(batched[i]!.length, alone[i]!.length);
      const d = maxDiff(outs[i]!, ref);
      assert.ok(d <= bound, `${label}: sequence ${i} differs by ${d}`);
    });
  }
  const c = model.newCache();
  model.forward([1], c);
  assert.throws(
    () =>
      model.forwardBatch!([
        { ids: [2], cache: c },
        { ids: [3], cache: c },
      ]),
    /share a cache/,
  );
  assert.throws(() => model.forwardBatch!([{ ids: [], cache: model.newCache() }]), /no tokens/);
}

for (const backend of ["reference", "wasm"] as const) {
  test(`${backend}: forwardBatch equals one forward per sequence (Llama and GPT-2)`, async () => {
    const active = await activateBackend(backend, 2);
    const allocator = active.allocator as Allocator | undefined;
    const { model } = await loadModel(STORIES_BIN, { tokenizer: STORIES_TOK, allocator });
    checkBatch(model, 1e-4, `${backend} llama`);
    checkBatch(tinyGPT2(), 1e-4, `${backend} gpt2`);
    await activateBackend("reference", 1);
  });
}
