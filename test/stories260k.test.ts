// End to end on the real stories260K model: the published greedy sample, and the loss on TinyStories text.

import assert from "node:assert/strict";
import { test } from "node:test";
import "../src/backends/reference/index.js";
import { perplexity } from "../src/eval/perplexity.js";
import { generateTokens } from "../src/generation/generate.js";
import { loadModel } from "../src/models/load.js";
import { modelCardSample, runCli, SHARED, STORIES_BIN, STORIES_TOK } from "./helpers/paths.js";
import * as fs from "node:fs";
import * as path from "node:path";

test("CLI greedy from BOS prints the model card sample character for character", () => {
  const r = runCli([
    "generate",
    "--model",
    STORIES_BIN,
    "--tokenizer",
    STORIES_TOK,
    "--temperature",
    "0",
    "--max-new-tokens",
    "256",
  ]);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  assert.equal(r.stdout, modelCardSample() + "\n");
});

test("the bundled default model gives the same sample with no --model", () => {
  const r = runCli(["generate", "--temperature", "0", "--max-new-tokens", "256"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, modelCardSample() + "\n");
});

test("generate --json reports tokens, timings and cache size", () => {
  const r = runCli([
    "generate",
    "--temperature",
    "0",
    "--max-new-tokens",
    "20",
    "--json",
    "Once upon a time",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.tokens.length, 20);
  assert.equal(j.prompt_tokens[0], 1);
  assert.ok(j.text.length > 0);
  for (const k of ["load_ms", "prefill_ms", "decode_ms", "prefill_tok_s", "decode_tok_s"])
    assert.equal(typeof j.timings[k], "number", k);
  // 5 layers × 2 (k, v) × 4 kv heads × 8 dims × 4 bytes per position
  assert.equal(j.kv_cache_bytes, (j.prompt_tokens.length + 19) * 5 * 2 * 4 * 8 * 4);
});

test("a text prompt continues the text (BOS prepended, prompt echoed)", () => {
  const r = runCli(["generate", "--temperature", "0", "--max-new-tokens", "30", "Once upon a time"]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.startsWith("Once upon a time, there was a little girl named Lily."), r.stdout);
});

test("sampling with a seed is reproducible and differs across seeds", () => {
  const a = runCli(["generate", "--seed", "42", "--max-new-tokens", "40", "--json"]);
  const b = runCli(["generate", "--seed", "42", "--max-new-tokens", "40", "--json"]);
  const c = runCli(["generate", "--seed", "43", "--max-new-tokens", "40", "--json"]);
  assert.deepEqual(JSON.parse(a.stdout).tokens, JSON.parse(b.stdout).tokens);
  assert.notDeepEqual(JSON.parse(a.stdout).tokens, JSON.parse(c.stdout).tokens);
});

test("library generate: prefill plus one token per step equals full recompute", async () => {
  const { model } = await loadModel(STORIES_BIN, { tokenizer: STORIES_TOK });
  const ids = [1];
  for await (const t of generateTokens(model, [1], { maxNewTokens: 12, temperature: 0 })) ids.push(t);
  // Recompute every position from scratch in one pass; argmax of each row must be the next token.
  const logits = model.forward(ids, model.newCache(), { allLogits: true }).f32();
  const V = model.vocabSize;
  for (let t = 0; t + 1 < ids.length; t++) {
    let best = 0;
    for (let i = 1; i < V; i++) if (logits[t * V + i]! > logits[t * V + best]!) best = i;
    assert.equal(best, ids[t + 1], `position ${t}`);
  }
});

test("loss on the head of TinyStories train is near the published validation loss 1.2968", async () => {
  const { model, tokenizer } = await loadModel(STORIES_BIN, { tokenizer: STORIES_TOK });
  const text = fs.readFileSync(path.join(SHARED, "data/tinystories/tinystories-train-head.txt"), "utf8");
  const stories = text.split(/(?<!\n)\n(?!\n)/).slice(0, 40);
  const ids: number[] = [];
  for (const s of stories) ids.push(1, ...tokenizer!.encode(s));
  const r = perplexity(model, ids.slice(0, 8192));
  assert.ok(r.loss > 0.9 && r.loss < 1.7, `loss ${r.loss}`);
  assert.ok(Math.abs(r.perplexity - Math.exp(r.loss)) < 1e-9);
});

test("logits deep into the context (positions 100, 300, 500) equal a float64 PyTorch forward", async () => {
  const fx = JSON.parse(fs.readFileSync("test/fixtures/stories260k-long-context.json", "utf8")) as {
    ids: number[];
    lengths: number[];
    lastLogits: number[][];
  };
  const { model } = await loadModel(STORIES_BIN, { tokenizer: STORIES_TOK });
  fx.lengths.forEach((n, k) => {
    const ours = model.forward(fx.ids.slice(0, n), model.newCache()).f32();
    let diff = 0;
    for (let i = 0; i < ours.length; i++) diff = Math.max(diff, Math.abs(ours[i]! - fx.lastLogits[k]![i]!));
    console.log(`stories260K ${n} tokens: max |logit - torch float64| = ${diff.toExponential(2)}`);
    assert.ok(diff < 1e-4, `length ${n}: max abs diff ${diff}`);
  });
});
