// The KV-cache variants on the wasm backend: their f32 scratch lies in the arena (attention reads it in place),
// a sliding-window ring matches the kernel's own window, and sinks run past the context length.

import assert from "node:assert/strict";
import { test } from "node:test";
import { activateBackend } from "../src/backends/select.js";
import type { WasmArena } from "../src/backends/wasm/arena.js";
import { generateTokens } from "../src/generation/generate.js";
import { argmax } from "../src/generation/sampling.js";
import { LlamaForCausalLM } from "../src/models/llama.js";
import { loadModel } from "../src/models/load.js";
import type { KVCache } from "../src/cache/kv-cache.js";
import { Tensor } from "../src/tensor/tensor.js";
import { STORIES_BIN, STORIES_TOK } from "./helpers/paths.js";

test("wasm backend: windowed, quantized and sink caches", async () => {
  const active = await activateBackend("wasm", 1);
  const arena = active.allocator as WasmArena;
  const { model, bosId } = await loadModel(STORIES_BIN, { tokenizer: STORIES_TOK, allocator: arena });

  const cache = model.newCache({ kind: "int8", slidingWindow: 8 });
  const x = Tensor.zeros([1, 4, 8]);
  const rows = cache.update(0, x, x);
  assert.ok(arena.offsetOf(rows.k.f32()) >= 0 && arena.offsetOf(rows.v.f32()) >= 0, "scratch in the arena");
  cache.release!();

  const W = 12;
  const windowed = new LlamaForCausalLM(
    { ...model.config, sliding_window: W, use_sliding_window: true },
    model.weights,
  );
  const a: KVCache = windowed.newCache();
  const b = model.newCache({ slidingWindow: W });
  let la = windowed.forward([bosId!], a).f32().slice();
  let lb = model.forward([bosId!], b).f32().slice();
  for (let i = 0; i < 60; i++) {
    for (let j = 0; j < la.length; j++) assert.ok(Math.abs(la[j]! - lb[j]!) < 1e-4, `step ${i}`);
    const t = argmax(la);
    la = windowed.forward([t], a).f32().slice();
    lb = model.forward([t], b).f32().slice();
  }

  const sinks = model.newCache({ kind: "int8", attentionSinks: 4, recentF32: 16 });
  let n = 0;
  for await (const t of generateTokens(model, [bosId!], {
    maxNewTokens: 700,
    temperature: 0,
    cache: sinks,
  })) {
    assert.ok(t >= 0 && t < model.vocabSize);
    n++;
  }
  assert.equal(n, 700);
  assert.equal(sinks.stored, 512);
  await activateBackend("reference", 1);
});
