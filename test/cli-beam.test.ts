// `decoderkit generate` with --strategy beam|diverse-beam and the KV-cache flags: good values run, bad ones
// give one line and exit 2.

import assert from "node:assert/strict";
import { test } from "node:test";
import { runCli, STORIES_BIN, STORIES_TOK } from "./helpers/paths.js";

const M = ["generate", "--model", STORIES_BIN, "--tokenizer", STORIES_TOK];

function json(args: string[]): Record<string, unknown> {
  const r = runCli([...M, ...args, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

interface Seq {
  text: string;
  tokens: number[];
  score: number;
  log_prob: number;
}

test("--strategy beam prints the best sequences, best first; --strategy greedy is temperature 0", () => {
  const one = json(["--strategy", "beam", "--num-beams", "3", "--max-new-tokens", "24"]);
  assert.equal(one["strategy"], "beam");
  const seqs = one["sequences"] as Seq[];
  assert.equal(seqs.length, 1);
  assert.deepEqual(one["tokens"], seqs[0]!.tokens);
  const three = json([
    "--strategy",
    "beam",
    "--num-beams",
    "3",
    "--max-new-tokens",
    "24",
    "--num-return-sequences",
    "3",
  ]);
  const s3 = three["sequences"] as Seq[];
  assert.equal(s3.length, 3);
  assert.deepEqual(s3[0], seqs[0]);
  assert.ok(s3[0]!.score >= s3[1]!.score && s3[1]!.score >= s3[2]!.score);
  const text = runCli([
    ...M,
    "--strategy",
    "beam",
    "--num-beams",
    "3",
    "--max-new-tokens",
    "24",
    "Once upon",
  ]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^Once upon/);
  const greedy = json(["--strategy", "greedy", "--max-new-tokens", "24"]);
  const t0 = json(["--temperature", "0", "--max-new-tokens", "24"]);
  assert.deepEqual(greedy["tokens"], t0["tokens"]);
});

test("--strategy diverse-beam with groups and a diversity penalty", () => {
  const args = ["--strategy", "diverse-beam", "--num-beams", "4", "--num-beam-groups", "2"];
  const out = json([
    ...args,
    "--diversity-penalty",
    "2",
    "--num-return-sequences",
    "4",
    "--max-new-tokens",
    "16",
  ]);
  assert.equal(out["strategy"], "diverse-beam");
  assert.equal((out["sequences"] as Seq[]).length, 4);
});

test("--kv-cache, --sliding-window and --attention-sinks choose the cache", () => {
  const f32 = json(["--temperature", "0", "--max-new-tokens", "40"]);
  assert.equal(f32["kv_cache_bytes_per_token"], 1280);
  const int8 = json(["--temperature", "0", "--max-new-tokens", "40", "--kv-cache", "int8"]);
  assert.equal(int8["kv_cache_bytes_per_token"], 480);
  const int4 = json(["--temperature", "0", "--max-new-tokens", "40", "--kv-cache", "int4"]);
  assert.equal(int4["kv_cache_bytes_per_token"], 320);
  const recent = json([
    "--temperature",
    "0",
    "--max-new-tokens",
    "40",
    "--kv-cache",
    "int4",
    "--kv-f32-recent",
    "8",
  ]);
  assert.equal(recent["kv_cache_bytes_per_token"], 320);
  assert.equal(recent["kv_cache_bytes"], 40 * 320 + 8 * 1280); // BOS + 39 forwarded tokens, and 8 f32 rows
  const sw = json(["--temperature", "0", "--max-new-tokens", "40", "--sliding-window", "16"]);
  assert.equal(sw["kv_cache_bytes"], 16 * 1280);
  const sinks = json([
    "--temperature",
    "0",
    "--max-new-tokens",
    "40",
    "--attention-sinks",
    "4",
    "--sliding-window",
    "8",
  ]);
  assert.equal(sinks["kv_cache_bytes"], 12 * 1280);
  const beam8 = json([
    "--strategy",
    "beam",
    "--num-beams",
    "2",
    "--max-new-tokens",
    "8",
    "--kv-cache",
    "int8",
  ]);
  assert.equal(beam8["kv_cache_bytes_per_token"], 480);
});

function usage(args: string[], pattern: RegExp): void {
  const r = runCli([...M, ...args]);
  assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
  assert.equal(r.stdout, "");
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, pattern);
}

test("bad beam and cache flags give one line and exit 2", () => {
  usage(["--strategy", "bogus"], /--strategy must be one of greedy, sample, .*beam, diverse-beam/);
  usage(["--strategy", "beam", "--num-beams", "0"], /--num-beams must be/);
  usage(["--strategy", "beam", "--num-beams", "2", "--num-return-sequences", "3"], /--num-return-sequences/);
  usage(["--strategy", "beam", "--length-penalty", "long"], /--length-penalty/);
  usage(["--strategy", "beam", "--early-stopping", "maybe"], /--early-stopping/);
  usage(["--strategy", "beam", "--num-beam-groups", "2"], /need --strategy diverse-beam/);
  usage(["--strategy", "diverse-beam", "--num-beams", "3"], /multiple of --num-beam-groups/);
  usage(["--strategy", "diverse-beam", "--num-beams", "4", "--num-beam-groups", "3"], /--num-beam-groups/);
  usage(["--strategy", "diverse-beam", "--diversity-penalty", "-1"], /--diversity-penalty/);
  usage(["--num-beams", "4"], /--num-beams needs --strategy beam/);
  usage(["--strategy", "beam", "--stop", "x"], /--stop/);
  usage(["--kv-cache", "int3"], /--kv-cache must be one of f32, int8, int4/);
  usage(["--sliding-window", "1"], /--sliding-window/);
  usage(["--attention-sinks", "0"], /--attention-sinks/);
  usage(["--attention-sinks", "600"], /attention sinks must be/);
  usage(["--kv-f32-recent", "8"], /--kv-f32-recent needs --kv-cache int8 or int4/);
  usage(["--kv-cache", "int8", "--kv-f32-recent", "0"], /--kv-f32-recent must be/);
});
