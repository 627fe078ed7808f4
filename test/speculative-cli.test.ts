// Speculative decoding from the command line (`generate --strategy speculative|prompt-lookup`, `bench --speculative`):
// the same greedy tokens as plain greedy, the acceptance figures in --json, one-line errors for bad values.

import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import { runSpeculativeBench } from "../src/bench/speculative.js";
import { parseShapes } from "../src/bench/shapes.js";
import { runCli, SHARED, STORIES_BIN, STORIES_TOK, TINY_LLAMA_GGUF, tmpDir } from "./helpers/paths.js";

const MODEL = ["--model", STORIES_BIN, "--tokenizer", STORIES_TOK];
const VOCAB = path.join(SHARED, "vocab/ggml-vocab-llama-spm.gguf");

function json(args: string[]): Record<string, unknown> {
  const r = runCli(["generate", ...MODEL, "--json", ...args]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

test("generate: speculative strategies print plain greedy's tokens and their acceptance figures", () => {
  const common = ["--temperature", "0", "--max-new-tokens", "80", "--prompt", "Once upon a time"];
  const plain = json(common);
  const runs = {
    "self q4_0": json([
      ...common,
      "--strategy",
      "speculative",
      "--draft-quant",
      "q4_0",
      "--draft-tokens",
      "3",
    ]),
    "draft model": json([...common, "--strategy", "speculative", "--draft-model", STORIES_BIN]),
    "prompt lookup": json([...common, "--strategy", "prompt-lookup", "--ngram", "2"]),
  };
  for (const [name, run] of Object.entries(runs)) {
    assert.deepEqual(run["tokens"], plain["tokens"], name);
    assert.equal(run["text"], plain["text"], name);
    const out = run["strategy"] as Record<string, unknown>;
    const drafted = out["drafted"] as number;
    const accepted = out["accepted"] as number;
    assert.ok(Number.isInteger(drafted) && drafted > 0, name);
    assert.ok(Number.isInteger(accepted) && accepted <= drafted, name);
    assert.equal(out["acceptance_rate"], Math.round((accepted / drafted) * 10000) / 10000, name);
    assert.ok((out["target_forwards"] as number) <= 80, name);
  }
  // The draft is the model itself: every draft is accepted, 4 per target pass (16 passes + the prompt's).
  const figures = (r: Record<string, unknown>): Record<string, unknown> =>
    r["strategy"] as Record<string, unknown>;
  assert.equal(figures(runs["draft model"])["acceptance_rate"], 1);
  assert.equal(figures(runs["draft model"])["target_forwards"], 17);
  assert.equal(figures(runs["self q4_0"])["draft_quant"], "q4_0");
  assert.equal(figures(runs["self q4_0"])["name"], "speculative");
  assert.equal(figures(plain)["drafted"], undefined);
});

test("generate: --strategy greedy is temperature 0; sampled speculative decoding runs with a seed", () => {
  const greedy = json(["--strategy", "greedy", "--max-new-tokens", "20"]);
  const t0 = json(["--temperature", "0", "--max-new-tokens", "20"]);
  assert.deepEqual(greedy["tokens"], t0["tokens"]);
  const args = [
    "--strategy",
    "speculative",
    "--draft-quant",
    "q8_0",
    "--seed",
    "5",
    "--max-new-tokens",
    "40",
  ];
  const a = json(args);
  assert.deepEqual(json(args)["tokens"], a["tokens"], "same seed, same tokens");
  assert.equal((a["tokens"] as number[]).length > 0, true);
});

function oneLineError(args: string[], code: number, pattern: RegExp): void {
  const r = runCli(args);
  assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
  assert.equal(r.stdout, "");
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, pattern);
}

test("bad strategy flags give one line and exit 2; a draft with another vocabulary exits 1", () => {
  const g = ["generate", ...MODEL];
  oneLineError(
    [...g, "--strategy", "bogus"],
    2,
    /--strategy must be one of greedy, sample, .*speculative, prompt-lookup/,
  );
  oneLineError([...g, "--strategy", "speculative"], 2, /needs --draft-model PATH or --draft-quant/);
  oneLineError(
    [...g, "--strategy", "speculative", "--draft-quant", "q5_1"],
    2,
    /--draft-quant must be one of q8_0, q4_0/,
  );
  oneLineError(
    [...g, "--strategy", "speculative", "--draft-quant", "q8_0", "--draft-tokens", "0"],
    2,
    /--draft-tokens must be a positive integer/,
  );
  oneLineError(
    [...g, "--strategy", "speculative", "--draft-quant", "q8_0", "--draft-model", STORIES_BIN],
    2,
    /not both/,
  );
  oneLineError(
    [...g, "--strategy", "prompt-lookup", "--ngram", "x"],
    2,
    /--ngram must be a positive integer/,
  );
  oneLineError(
    [...g, "--strategy", "speculative", "--draft-quant", "q8_0", "--ngram", "2"],
    2,
    /--ngram applies to --strategy prompt-lookup, not speculative/,
  );
  oneLineError([...g, "--draft-quant", "q8_0"], 2, /--draft-quant applies to --strategy speculative, not/);
  oneLineError(
    [...g, "--draft-tokens", "3"],
    2,
    /--draft-tokens applies to --strategy speculative or prompt-lookup/,
  );
  oneLineError(
    [...g, "--strategy", "greedy", "--temperature", "0.7"],
    2,
    /--strategy greedy needs --temperature 0/,
  );
  oneLineError(
    [...g, "--strategy", "speculative", "--draft-model", TINY_LLAMA_GGUF],
    1,
    /vocabulary of 32000 tokens, the model 512/,
  );
  oneLineError(
    ["bench", "--speculative", "--draft-quant", "f16"],
    2,
    /--draft-quant must be one of q8_0, q4_0/,
  );
  oneLineError(
    ["bench", "--speculative", "--draft-tokens", "two"],
    2,
    /--draft-tokens must be a positive integer/,
  );
  oneLineError(["bench", "--draft-tokens", "3"], 2, /need --speculative/);
});

test("bench: the speculative row on the tiny shape agrees with plain greedy", async () => {
  const rows = await runSpeculativeBench({
    shape: parseShapes("tiny")[0]!,
    threads: [1],
    promptTokens: 8,
    decodeTokens: 12,
    backend: "reference",
    cacheDir: tmpDir(),
    vocabPath: VOCAB,
    seed: 0,
    draftQuant: "q8_0",
    draftTokens: 3,
  });
  assert.deepEqual(
    rows.map((r) => r.draft),
    ["q8_0", "prompt-lookup"],
  );
  for (const r of rows) {
    assert.equal(r.shape, "tiny");
    assert.equal(r.compared_tokens, 13);
    assert.equal(r.agree_tokens, 13, r.draft);
    for (const k of ["plain_decode_tok_s", "speculative_decode_tok_s", "speedup", "target_forwards"] as const)
      assert.ok(Number.isFinite(r[k]) && r[k] > 0, `${r.draft}: ${k} = ${r[k]}`);
    assert.ok(r.accepted <= r.drafted && r.acceptance_rate >= 0 && r.acceptance_rate <= 1);
    assert.ok(r.target_forwards <= 14); // at most one pass per token, plus the prompt's
  }
  assert.ok(rows[0]!.drafted > 0 && rows[0]!.draft_ms_per_round > 0);
});
