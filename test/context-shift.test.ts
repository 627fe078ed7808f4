// Generation past the context length of a cache that does not evict (`contextShift`): at the limit the last half
// context of tokens runs again on the emptied cache and decoding goes on from there.

import assert from "node:assert/strict";
import { test } from "node:test";
import "../src/backends/reference/index.js";
import { emptyStats, generateTokens } from "../src/generation/generate.js";
import { loadModel } from "../src/models/load.js";
import { runCli, STORIES_BIN, STORIES_TOK } from "./helpers/paths.js";

function argmax(a: Float32Array): number {
  let b = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[b]!) b = i;
  return b;
}

test("contextShift: greedy runs past the context; the token after the shift is the fresh window's argmax", async () => {
  const { model } = await loadModel(STORIES_BIN, { tokenizer: STORIES_TOK });
  const C = model.contextLength; // 512
  const prompt = [1];
  const n = C + 100;
  const stats = emptyStats();
  const out: number[] = [];
  for await (const t of generateTokens(
    model,
    prompt,
    { temperature: 0, maxNewTokens: n, contextShift: true },
    stats,
  ))
    out.push(t);
  assert.equal(out.length, n);
  assert.equal(stats.finishReason, "length");
  assert.ok(stats.cache!.length <= C);
  // The cache filled after C - 1 generated tokens (prompt 1 + C - 1 = C positions); the next token comes from the
  // last C/2 tokens of prompt + output run on an empty cache.
  const history = [...prompt, ...out.slice(0, C - 1)];
  const keep = history.slice(-C / 2);
  const fresh = model.forward(keep, model.newCache()).f32();
  assert.equal(out[C - 1], argmax(fresh));
  // Without the option the same run ends at the context.
  const plain: number[] = [];
  const s2 = emptyStats();
  for await (const t of generateTokens(model, prompt, { temperature: 0, maxNewTokens: n }, s2)) plain.push(t);
  assert.equal(s2.finishReason, "context");
  assert.deepEqual(plain, out.slice(0, plain.length));
});

test("CLI --context-shift generates more tokens than the context holds", () => {
  // stories260K ends its stories with BOS or EOS: ban both so that the run reaches the token budget
  const args = ["--temperature", "0", "--max-new-tokens", "560", "--logit-bias", "1:-inf,2:-inf"];
  const r = runCli(["generate", ...args, "--context-shift", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { tokens: number[]; finish_reason: string };
  assert.equal(j.tokens.length, 560);
  assert.equal(j.finish_reason, "length");
});
