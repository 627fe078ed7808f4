// GPT-2 with quantized caches (learned positions: no windows or sinks), against its f32 cache.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import "../src/backends/reference/index.js";
import { normalizeHF } from "../src/io/checkpoint.js";
import { readOnnxInitializers } from "../src/io/onnx.js";
import { GPT2LMHeadModel } from "../src/models/gpt2.js";
import type { Tensor } from "../src/tensor/tensor.js";
import { SHARED } from "./helpers/paths.js";

test("GPT-2: int8/int4 caches stay close to f32 step by step; windows and sinks are refused", () => {
  const fx = JSON.parse(fs.readFileSync("test/fixtures/gpt2-reference.json", "utf8")) as {
    config: Record<string, unknown>;
    weightSources: Record<string, string>;
  };
  const init = readOnnxInitializers(path.join(SHARED, "models/tiny-random-gpt2-onnx/past.onnx"));
  const hf = new Map<string, Tensor>();
  for (const [name, src] of Object.entries(fx.weightSources))
    if (name !== "lm_head.weight") hf.set(name, init.get(src)!);
  const config = { ...fx.config, architectures: ["GPT2LMHeadModel"], model_type: "gpt2" };
  const m = new GPT2LMHeadModel(config, normalizeHF(config, hf));
  const ids = Array.from({ length: 24 }, (_, i) => (i * 37 + 5) % m.vocabSize);
  for (const kind of ["int8", "int4"] as const) {
    const a = m.newCache();
    const b = m.newCache({ kind });
    let maxDiff = 0;
    m.forward(ids.slice(0, 8), a);
    m.forward(ids.slice(0, 8), b);
    for (const t of ids.slice(8)) {
      const la = m.forward([t], a).f32();
      const lb = m.forward([t], b).f32();
      for (let i = 0; i < la.length; i++) maxDiff = Math.max(maxDiff, Math.abs(la[i]! - lb[i]!));
    }
    console.log(`gpt2 ${kind} cache: max |logit diff| vs f32 ${maxDiff.toExponential(2)}`);
    assert.ok(maxDiff > 0 && maxDiff < (kind === "int8" ? 0.05 : 0.5), `${kind}: ${maxDiff}`);
    assert.ok(b.bytesPerToken < a.bytesPerToken);
  }
  assert.throws(() => m.newCache({ slidingWindow: 8 }), /learned positions/);
  assert.throws(() => m.newCache({ attentionSinks: 2 }), /learned positions/);
});
