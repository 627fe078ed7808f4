// GPT-2 against PyTorch: the tiny random GPT-2's weights (read from its ONNX initializers, which carry the
// Hugging Face names) give the logits and greedy tokens that tools/dump_gpt2_reference.py computed in torch.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import "../src/backends/reference/index.js";
import { normalizeHF } from "../src/io/checkpoint.js";
import { readOnnxInitializers } from "../src/io/onnx.js";
import { GPT2LMHeadModel } from "../src/models/gpt2.js";
import type { Tensor } from "../src/tensor/tensor.js";
import { writeHFFolder } from "../src/io/export.js";
import { readSafetensors } from "../src/io/safetensors.js";
import { loadModel } from "../src/models/load.js";
import { SHARED, tmpDir } from "./helpers/paths.js";

interface Fixture {
  config: Record<string, unknown>;
  weightSources: Record<string, string>;
  cases: { prompt: number[]; logits: number[][]; greedy: number[] }[];
}
const fx = JSON.parse(fs.readFileSync("test/fixtures/gpt2-reference.json", "utf8")) as Fixture;

function model(): GPT2LMHeadModel {
  const init = readOnnxInitializers(path.join(SHARED, "models/tiny-random-gpt2-onnx/past.onnx"));
  // The optimised ONNX export shares identical tensors; weightSources names the initializer each HF weight uses.
  const hf = new Map<string, Tensor>();
  for (const [name, src] of Object.entries(fx.weightSources)) {
    if (name === "lm_head.weight") continue; // tied to wte (the export keeps a transposed copy)
    const t = init.get(src);
    if (!t) throw new Error(`initializer ${src} missing`);
    hf.set(name, t);
  }
  const config = { ...fx.config, architectures: ["GPT2LMHeadModel"], model_type: "gpt2" };
  return new GPT2LMHeadModel(config, normalizeHF(config, hf));
}

for (const c of fx.cases) {
  test(`tiny GPT-2 logits at every position equal PyTorch's (prompt of ${c.prompt.length})`, () => {
    const m = model();
    const logits = m.forward(c.prompt, m.newCache(), { allLogits: true }).f32();
    let maxDiff = 0;
    for (let t = 0; t < c.prompt.length; t++) {
      for (let v = 0; v < m.vocabSize; v++)
        maxDiff = Math.max(maxDiff, Math.abs(logits[t * m.vocabSize + v]! - c.logits[t]![v]!));
    }
    console.log(`gpt2 prompt of ${c.prompt.length}: max |logit - torch| = ${maxDiff.toExponential(2)}`);
    assert.ok(maxDiff < 1e-4, `max abs diff ${maxDiff}`);
  });

  test(`tiny GPT-2 greedy with the KV cache equals PyTorch's full recompute (prompt of ${c.prompt.length})`, () => {
    const m = model();
    const cache = m.newCache();
    let logits = m.forward(c.prompt, cache).f32();
    const out: number[] = [];
    for (let i = 0; i < c.greedy.length; i++) {
      let best = 0;
      for (let v = 1; v < logits.length; v++) if (logits[v]! > logits[best]!) best = v;
      out.push(best);
      logits = m.forward([best], cache).f32();
    }
    assert.deepEqual(out, c.greedy);
  });
}

test("tiny GPT-2 written as a Hugging Face safetensors folder loads back with the same logits", async () => {
  const m = model();
  const dir = path.join(tmpDir(), "gpt2");
  writeHFFolder(dir, {
    format: "safetensors",
    path: dir,
    config: m.config as Record<string, unknown>,
    tensors: new Map(m.weights),
  });
  const st = readSafetensors(path.join(dir, "model.safetensors"));
  assert.deepEqual(
    st.tensors.get("transformer.h.0.attn.c_attn.weight")!.shape,
    [32, 96],
    "Conv1D layout on disk",
  );
  const loaded = await loadModel(dir);
  const c = fx.cases[0]!;
  const a = loaded.model.forward(c.prompt, loaded.model.newCache()).f32();
  const b = m.forward(c.prompt, m.newCache()).f32();
  assert.deepEqual(Array.from(a), Array.from(b));
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
});
