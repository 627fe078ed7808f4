// A real Hugging Face Llama folder made by PyTorch, not by our writer: tools/make_hf_stories260k.py converts
// stories260K as transformers' convert_llama_weights_to_hf.py and LlamaConverter do (torch.save zip, tokenizer.json)
// and computes the greedy tokens and logits with its own float64 torch forward.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import "../src/backends/reference/index.js";
import { generateTokens } from "../src/generation/generate.js";
import { readLlama2c } from "../src/io/llama2c.js";
import { loadModel } from "../src/models/load.js";
import { HfTokenizer } from "../src/tokenizers/hf.js";
import { loadTokenizer } from "../src/tokenizers/load.js";
import { modelCardSample, runCli, SHARED, STORIES_BIN, STORIES_TOK } from "./helpers/paths.js";

const FOLDER = "test/fixtures/hf-stories260k";

interface Reference {
  greedy: { prompt: number[]; ids: number[]; text: string };
  logits: { prompt: number[]; last: number[] };
}
const ref = JSON.parse(fs.readFileSync("test/fixtures/hf-stories260k-reference.json", "utf8")) as Reference;

test("the PyTorch-written folder loads as pytorch with its tokenizer.json and BOS/EOS settings", async () => {
  const m = await loadModel(FOLDER);
  assert.equal(m.checkpoint.format, "pytorch");
  assert.equal(m.model.architecture, "LlamaForCausalLM");
  assert.ok(m.tokenizer instanceof HfTokenizer);
  assert.equal(m.tokenizer.vocabSize, 512);
  assert.equal(m.addBos, true);
  assert.equal(m.bosId, 1);
  assert.deepEqual(m.stopTokens, [2]);
});

test("torch's permute of q/k equals our llama2.c reader's rotate-half rows, bit for bit", async () => {
  const { checkpoint } = await loadModel(FOLDER);
  const ours = readLlama2c(STORIES_BIN).tensors;
  const theirs = new Map([...checkpoint.tensors].filter(([k]) => !k.endsWith(".rotary_emb.inv_freq")));
  assert.deepEqual([...theirs.keys()].sort(), [...ours.keys()].sort());
  for (const [k, t] of ours) {
    const u = theirs.get(k)!;
    assert.deepEqual(u.shape, t.shape, k);
    assert.deepEqual(u.f32(), t.f32(), k);
  }
});

test("greedy 64 tokens from BOS and the last logits equal the float64 torch reference", async () => {
  const { model } = await loadModel(FOLDER);
  const ids: number[] = [];
  for await (const t of generateTokens(model, ref.greedy.prompt, {
    maxNewTokens: ref.greedy.ids.length,
    temperature: 0,
  })) {
    ids.push(t);
  }
  assert.deepEqual(ids, ref.greedy.ids);

  const logits = model.forward(ref.logits.prompt, model.newCache()).f32();
  assert.equal(logits.length, ref.logits.last.length);
  let maxDiff = 0;
  for (let v = 0; v < logits.length; v++)
    maxDiff = Math.max(maxDiff, Math.abs(logits[v]! - ref.logits.last[v]!));
  console.log(`hf-stories260k: max |logit - torch float64| = ${maxDiff.toExponential(2)}`);
  assert.ok(maxDiff < 1e-4, `max abs diff ${maxDiff}`);
});

test("CLI greedy on the folder prints exactly what the llama2.c files print (the model card sample)", () => {
  const flags = ["--temperature", "0", "--max-new-tokens", "256"];
  const hf = runCli(["generate", "--model", FOLDER, ...flags]);
  const l2c = runCli(["generate", "--model", STORIES_BIN, "--tokenizer", STORIES_TOK, ...flags]);
  assert.equal(hf.code, 0, hf.stderr);
  assert.equal(l2c.code, 0, l2c.stderr);
  assert.equal(hf.stdout, l2c.stdout);
  assert.equal(hf.stdout, modelCardSample() + "\n");
});

test("tokenizer.json encodes and decodes like tok512.bin's llama2.c tokenizer", async () => {
  const hf = await loadTokenizer(FOLDER);
  const l2c = await loadTokenizer(STORIES_TOK);
  assert.deepEqual(hf.encode("Once upon a time"), l2c.encode("Once upon a time"));
  assert.deepEqual(hf.encode("Once upon a time", { addSpecial: true }), [1, 403, 407, 261, 378]);
  const texts = [
    "",
    " ",
    "  two  spaces ",
    "Hello\nworld\n\n",
    "café naïve 日本 🙂", // byte fallback for characters outside the 512 pieces
    'Tim\'s dog said, "Woof!" 123 4567.',
    modelCardSample(),
    fs
      .readFileSync(path.join(SHARED, "data/tinystories/tinystories-train-head.txt"), "utf8")
      .slice(0, 20_000),
  ];
  for (const t of texts) {
    const ids = hf.encode(t);
    assert.deepEqual(ids, l2c.encode(t), JSON.stringify(t.slice(0, 40)));
    assert.equal(
      hf.decode([1, ...ids], { skipSpecial: true }),
      l2c.decode([1, ...ids], { skipSpecial: true }),
    );
    assert.equal(hf.decode([1, ...ids], { skipSpecial: true }), t);
  }
  // The one known difference: Hugging Face matches special-token text in the input; run.c's encode does not.
  assert.deepEqual(hf.encode("a<s>b"), [261, 1, 268]);
  assert.deepEqual(l2c.encode("a<s>b"), [261, 504, 419, 505, 430]);
});
