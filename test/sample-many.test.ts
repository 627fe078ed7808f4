// Lockstep sampling for MBR (generation/sample-many.ts): sample i equals generateTokens with seed + i, finish
// reasons included, while the prompt runs once and each step is one batched forward.

import assert from "node:assert/strict";
import { test } from "node:test";
import "../src/backends/reference/index.js";
import { emptyStats, generateTokens } from "../src/generation/generate.js";
import { mbrDecode, type MbrInfo } from "../src/generation/mbr.js";
import { canSampleMany, sampleMany } from "../src/generation/sample-many.js";
import { loadModel } from "../src/models/load.js";
import type { BatchItem } from "../src/models/model.js";
import { STORIES_BIN, STORIES_TOK } from "./helpers/paths.js";

const loaded = loadModel(STORIES_BIN, { tokenizer: STORIES_TOK });

test("sampleMany: sample i is generateTokens with seed + i (stops, lengths, processors), one prefill", async () => {
  const { model, tokenizer, bosId } = await loaded;
  const prompt = [bosId!, ...tokenizer!.encode("Once upon a time")];
  const period = tokenizer!.encode("a.").at(-1)!;
  const opts = {
    temperature: 1.1,
    topP: 0.9,
    repetitionPenalty: 1.2,
    maxNewTokens: 14,
    seed: 7,
    stopTokens: [period],
  };
  let batches = 0;
  let prefills = 0;
  const forwardBatch = model.forwardBatch!.bind(model);
  const forward = model.forward.bind(model);
  const counted = Object.create(model) as typeof model;
  counted.forwardBatch = (items: readonly BatchItem[]) => (batches++, forwardBatch(items));
  counted.forward = (ids, cache, o) => (ids.length > 1 && prefills++, forward(ids, cache, o));
  assert.ok(canSampleMany(counted, opts) && !canSampleMany(counted, { contextShift: true }));
  const r = sampleMany(counted, prompt, 6, opts);
  assert.equal(prefills, 1);
  assert.ok(batches > 0 && batches <= 13, `${batches} batched steps`);
  const reasons = new Set<string>();
  for (let i = 0; i < 6; i++) {
    const stats = emptyStats();
    const alone: number[] = [];
    for await (const t of generateTokens(model, prompt, { ...opts, seed: 7 + i }, stats)) alone.push(t);
    assert.deepEqual(r.samples[i]!.tokens, alone, `sample ${i}`);
    assert.equal(r.samples[i]!.finishReason, stats.finishReason, `sample ${i}`);
    assert.equal(r.samples[i]!.cache.length, stats.cache!.length, `sample ${i} cache`);
    reasons.add(stats.finishReason);
  }
  assert.deepEqual([...reasons].sort(), ["length", "stop"], "both ways of finishing are exercised");
  assert.deepEqual(
    sampleMany(model, prompt, 2, { ...opts, maxNewTokens: 0 }).samples.map((s) => s.tokens),
    [[], []],
  );
  assert.throws(() => sampleMany(model, prompt, 0, opts), /positive integer/);
  assert.throws(() => sampleMany(model, [], 2, opts), /no tokens/);
});

test("mbrDecode on a batching model gives the candidates of sequential sampling", async () => {
  const { model, tokenizer, bosId } = await loaded;
  const prompt = [bosId!, ...tokenizer!.encode("The cat")];
  const base = {
    samples: 4,
    temperature: 1,
    seed: 3,
    maxNewTokens: 16,
    detokenize: (ids: readonly number[]) => tokenizer!.decode(ids),
    utility: (h: string, r: string) => h.split(" ").filter((w) => r.includes(w)).length,
  };
  const a: MbrInfo = { candidates: [], chosen: -1 };
  const b: MbrInfo = { candidates: [], chosen: -1 };
  for await (const _ of mbrDecode(model, prompt, base, emptyStats(), a)) void _;
  const sequential = Object.create(model) as typeof model;
  sequential.forwardBatch = undefined;
  for await (const _ of mbrDecode(sequential, prompt, base, emptyStats(), b)) void _;
  assert.deepEqual(a, b);
});
