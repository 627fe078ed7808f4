// `decoderkit generate --strategy ...` and the processor flags: bad values (one line, exit 2), the --json
// "strategy" object, and end-to-end runs on stories260K (contrastive decoding against a q8_0 copy as amateur).

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { runCli, STORIES_BIN, STORIES_TOK, TINY_LLAMA_GGUF, tmpDir } from "./helpers/paths.js";

function usageError(args: string[], pattern: RegExp): void {
  const r = runCli(["generate", ...args]);
  assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
  assert.equal(r.stdout, "");
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^decoderkit: usage: /);
  assert.match(lines[0]!, pattern);
}

function json(args: string[]): Record<string, any> {
  const r = runCli(["generate", "--json", "--max-new-tokens", "24", ...args]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test("--help lists the strategies and the processor flags", () => {
  const r = runCli(["generate", "--help"]);
  for (const flag of [
    "--strategy",
    "contrastive-search",
    "--penalty-alpha",
    "--amateur-model",
    "--contrastive-alpha",
    "--mbr-samples",
    "--mbr-metric",
    "--min-p",
    "--typical-p",
    "--repetition-penalty",
    "--presence-penalty",
    "--frequency-penalty",
    "--no-repeat-ngram-size",
    "--bad-words",
    "--min-new-tokens",
    "--logit-bias",
  ])
    assert.ok(r.stdout.includes(flag), flag);
});

test("bad strategy and processor values give one line naming the flag and exit 2", () => {
  usageError(
    ["--strategy", "bogus"],
    /--strategy must be one of greedy, sample, contrastive-search, contrastive, mbr, .*got "bogus"/,
  );
  usageError(
    ["--strategy", "contrastive-search", "--penalty-alpha", "1.5"],
    /--penalty-alpha must be a number in \[0, 1\]/,
  );
  usageError(
    ["--penalty-alpha", "0.5"],
    /--penalty-alpha applies to --strategy contrastive-search, not sample/,
  );
  usageError(
    ["--temperature", "0", "--mbr-samples", "3"],
    /--mbr-samples applies to --strategy mbr, not greedy/,
  );
  usageError(["--strategy", "contrastive"], /needs --amateur-model/);
  usageError(
    ["--strategy", "contrastive", "--amateur-model", STORIES_BIN, "--contrastive-alpha=-1"],
    /--contrastive-alpha/,
  );
  usageError(["--strategy", "mbr", "--mbr-samples", "0"], /--mbr-samples must be a positive integer/);
  usageError(["--strategy", "mbr", "--mbr-metric", "ter"], /--mbr-metric must be bleu or chrf/);
  usageError(["--strategy", "mbr", "--temperature", "0"], /--temperature must be > 0/);
  usageError(["--min-p", "2"], /--min-p must be a number in \[0, 1\]/);
  usageError(["--typical-p", "0"], /--typical-p must be a number in \(0, 1\]/);
  usageError(["--repetition-penalty", "0"], /--repetition-penalty must be a number > 0/);
  usageError(["--presence-penalty", "lots"], /--presence-penalty must be a number/);
  usageError(["--frequency-penalty", "Infinity"], /--frequency-penalty must be a number/);
  usageError(["--no-repeat-ngram-size", "1.5"], /--no-repeat-ngram-size must be a non-negative integer/);
  usageError(["--min-new-tokens=-1"], /--min-new-tokens must be a non-negative integer/);
  usageError(["--bad-words", "Lily,,dog"], /--bad-words has an empty entry/);
  usageError(["--logit-bias", "3:x"], /--logit-bias must be ID:BIAS pairs/);
  usageError(["--logit-bias", "3"], /--logit-bias must be ID:BIAS pairs/);
  usageError(["--logit-bias", "9999:1"], /--logit-bias: token 9999 is not below the vocabulary size 512/);
  usageError(["--forced-bos-id", "x"], /--forced-bos-id must be a token id/);
  usageError(["--forced-eos-id", "512"], /--forced-eos-id: token 512 is not below the vocabulary size 512/);
});

test("greedy by --strategy or by --temperature 0 is the same run; --json names the strategy", () => {
  const a = json(["--temperature", "0"]);
  const b = json(["--strategy", "greedy"]);
  assert.deepEqual(a.strategy, { name: "greedy" });
  assert.deepEqual(b.tokens, a.tokens);
  const s = json(["--seed", "5", "--top-k", "20"]);
  assert.deepEqual(s.strategy, { name: "sample", temperature: 1, top_k: 20, top_p: 0.9 });
});

test("--forced-bos-id and --forced-eos-id fix the first and the last new token", () => {
  const plain = json(["--temperature", "0", "--max-new-tokens", "6", "Once upon a time"]);
  const forced = json([
    ...["--temperature", "0", "--max-new-tokens", "6", "--forced-bos-id", "300"],
    ...["--forced-eos-id", "301", "Once upon a time"],
  ]);
  const t = forced.tokens as number[];
  assert.equal(t.length, 6);
  assert.equal(t[0], 300);
  assert.equal(t[5], 301);
  assert.notEqual((plain.tokens as number[])[0], 300);
});

test("--bad-words and --logit-bias keep a token out of greedy output; penalties are seeded", () => {
  const plain = json(["--temperature", "0", "--max-new-tokens", "40"]);
  const lily = 317; // " Lily" in tok512
  assert.ok(plain.tokens.includes(lily), "greedy names Lily");
  const banned = json(["--temperature", "0", "--max-new-tokens", "40", "--bad-words", "Lily,park"]);
  assert.ok(!banned.tokens.includes(lily));
  const biased = json(["--temperature", "0", "--max-new-tokens", "40", "--logit-bias", `${lily}:-inf`]);
  assert.ok(!biased.tokens.includes(lily));
  const args = ["--seed", "9", "--repetition-penalty", "1.3", "--presence-penalty", "0.4", "--min-p", "0.05"];
  assert.deepEqual(json(args).tokens, json(args).tokens);
  const noRepeat = json(["--temperature", "0", "--max-new-tokens", "60", "--no-repeat-ngram-size", "3"]);
  const ids: number[] = [...noRepeat.prompt_tokens, ...noRepeat.tokens];
  const seen = new Set<string>();
  for (let i = 0; i + 3 <= ids.length; i++) {
    const g = ids.slice(i, i + 3).join(",");
    assert.ok(!seen.has(g), `trigram ${g} repeats`);
    seen.add(g);
  }
});

test("contrastive search reports its forward passes and differs from greedy", () => {
  const j = json([
    "--strategy",
    "contrastive-search",
    "--penalty-alpha",
    "0.6",
    "--top-k",
    "4",
    "Once upon a time",
  ]);
  assert.equal(j.strategy.name, "contrastive-search");
  assert.equal(j.strategy.penalty_alpha, 0.6);
  assert.equal(j.strategy.top_k, 4);
  // prefill + 4 candidates per step + re-runs of winners that were not tried last, none for the last step
  assert.ok(j.strategy.forward_passes >= 1 + 4 * 24 && j.strategy.forward_passes <= 1 + 5 * 24);
  assert.equal(j.tokens.length, 24);
  const a0 = json(["--strategy", "contrastive-search", "--penalty-alpha", "0", "Once upon a time"]);
  const greedy = json(["--temperature", "0", "Once upon a time"]);
  assert.deepEqual(a0.tokens, greedy.tokens);
  assert.notDeepEqual(j.tokens, greedy.tokens);
});

test("contrastive decoding with a q8_0 copy of stories260K as the amateur", () => {
  const dir = tmpDir();
  const amateur = path.join(dir, "amateur-q8.gguf");
  const c = runCli([
    "convert",
    STORIES_BIN,
    amateur,
    "--to",
    "gguf",
    "--dtype",
    "q8_0",
    "--tokenizer",
    STORIES_TOK,
  ]);
  assert.equal(c.code, 0, c.stderr);
  const j = json([
    "--strategy",
    "contrastive",
    "--amateur-model",
    amateur,
    "--contrastive-alpha",
    "0.1",
    "Once upon a time",
  ]);
  assert.equal(j.strategy.name, "contrastive");
  assert.equal(j.strategy.alpha, 0.1);
  assert.equal(j.strategy.temperature, 0);
  assert.ok(j.strategy.mean_plausible_set >= 1);
  // alpha 1 keeps only the expert's argmax: the greedy tokens
  const one = json([
    "--strategy",
    "contrastive",
    "--amateur-model",
    amateur,
    "--contrastive-alpha",
    "1",
    "Once upon a time",
  ]);
  assert.deepEqual(one.tokens, json(["--temperature", "0", "Once upon a time"]).tokens);
  assert.equal(one.strategy.differs_from_expert_greedy, 0);
  const foreign = runCli(["generate", "--strategy", "contrastive", "--amateur-model", TINY_LLAMA_GGUF]);
  assert.equal(foreign.code, 1);
  assert.match(
    foreign.stderr,
    /^decoderkit: error: --amateur-model: its vocabulary \(32000\) differs from the model's \(512\)\n$/,
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

test("MBR returns the candidate with the highest expected utility, reproducibly", () => {
  const args = ["--strategy", "mbr", "--mbr-samples", "4", "--seed", "3", "--mbr-metric", "bleu"];
  const j = json(args);
  const cands = j.strategy.candidates as { text: string; expected_utility: number }[];
  assert.equal(cands.length, 4);
  const best = Math.max(...cands.map((c) => c.expected_utility));
  assert.equal(cands[j.strategy.chosen]!.expected_utility, best);
  assert.equal(j.text, cands[j.strategy.chosen]!.text);
  const again = json(args);
  assert.deepEqual([again.tokens, again.strategy], [j.tokens, j.strategy]);
});
