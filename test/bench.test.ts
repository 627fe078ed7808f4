// The benchmark machinery (src/bench/, `decoderkit bench`) on the hidden `tiny` shape: JSON rows with positive
// figures, a cached and deterministic model file, one-line usage errors. Timings are never compared to thresholds.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { ensureBenchModel, randomQ4KBytes, randomQ6KBytes, tensorDType } from "../src/bench/model-file.js";
import { Rng } from "../src/generation/rng.js";
import { dequantizeRow } from "../src/tensor/quant.js";
import { formatPrefixTable, runPrefixBench } from "../src/bench/prefix.js";
import { formatTrainTable, runTrainBench } from "../src/bench/train.js";
import { runBench, type BenchRow } from "../src/bench/run.js";
import { parseShapes } from "../src/bench/shapes.js";
import { formatTable } from "../src/bench/table.js";
import { runCli, SHARED, tmpDir } from "./helpers/paths.js";

const VOCAB = path.join(SHARED, "vocab/ggml-vocab-llama-spm.gguf");
const ARGS = ["--shapes", "tiny", "--threads", "1", "--prompt-tokens", "8", "--decode-tokens", "3"];

const NUMBER_FIELDS = [
  "params",
  "file_bytes",
  "threads",
  "decoderkit_load_ms",
  "decoderkit_prefill_ms",
  "decoderkit_decode_ms",
  "decoderkit_prefill_tok_s",
  "decoderkit_decode_tok_s",
  "decoderkit_peak_rss_bytes",
] as const;
const LLAMA_FIELDS = [
  "llamacpp_load_ms",
  "llamacpp_prefill_ms",
  "llamacpp_decode_ms",
  "llamacpp_prefill_tok_s",
  "llamacpp_decode_tok_s",
  "llamacpp_peak_rss_bytes",
  "prefill_ratio",
  "decode_ratio",
] as const;

function checkRow(row: BenchRow, backend: string): void {
  assert.equal(row.shape, "tiny");
  assert.equal(row.dtype, "f32");
  assert.equal(row.prompt_tokens, 8);
  assert.equal(row.decode_tokens, 3);
  assert.equal(row.compared_tokens, 4);
  assert.equal(row.backend, backend);
  for (const k of NUMBER_FIELDS) assert.ok(Number.isFinite(row[k]) && row[k] > 0, `${k} = ${row[k]}`);
  if (row.llamacpp_error !== null) {
    assert.match(row.llamacpp_error, /llama\.cpp/);
    for (const k of LLAMA_FIELDS) assert.equal(row[k], null, k);
    return;
  }
  for (const k of LLAMA_FIELDS) {
    const x = row[k];
    assert.ok(x !== null && Number.isFinite(x) && x > 0, `${k} = ${x}`);
  }
  assert.equal(row.llamacpp_threads_used, row.threads);
  // Same f32 weights and prompt in both engines: the greedy tokens match.
  assert.equal(row.agree_tokens, row.compared_tokens);
}

test("bench rows on the tiny shape; the model file is cached and not rewritten", async () => {
  const cacheDir = tmpDir();
  const progress: string[] = [];
  const rows = await runBench({
    shapes: parseShapes("tiny"),
    threads: [1],
    promptTokens: 8,
    decodeTokens: 3,
    rounds: 2,
    backend: "reference",
    cacheDir,
    vocabPath: VOCAB,
    seed: 0,
    onProgress: (line) => progress.push(line),
  });
  assert.equal(rows.length, 1);
  checkRow(rows[0]!, "reference");
  // two alternating rounds: decoderkit, llama.cpp (when installed), decoderkit, llama.cpp
  const runs = progress.filter((l) => /round \d of 2/.test(l));
  assert.ok(runs.length === 2 || runs.length === 4, progress.join("\n"));
  assert.match(runs[0]!, /decoderkit .*round 1 of 2/);
  assert.match(runs.at(-1)!, /round 2 of 2/);
  const files = fs.readdirSync(cacheDir).filter((f) => f.endsWith(".gguf"));
  assert.equal(files.length, 1);
  const file = path.join(cacheDir, files[0]!);
  const mtime = fs.statSync(file).mtimeMs;

  const r = runCli(["bench", ...ARGS, "--cache-dir", cacheDir, "--vocab", VOCAB, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /using cached/);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 1);
  const row = JSON.parse(lines[0]!) as BenchRow;
  checkRow(row, row.backend); // generate's default backend: wasm where it runs, else reference
  assert.match(row.backend, /^(wasm|reference)$/);
  assert.equal(fs.statSync(file).mtimeMs, mtime);
  assert.deepEqual(fs.readdirSync(cacheDir), files, "no temporary files left behind");
});

test("the generated model is the same bytes for the same seed", () => {
  const [tiny] = parseShapes("tiny");
  const hash = (dir: string, seed: number): string => {
    const f = ensureBenchModel(tiny!, { cacheDir: dir, seed, vocabPath: VOCAB });
    return createHash("sha256").update(fs.readFileSync(f.path)).digest("hex");
  };
  const a = hash(tmpDir(), 0);
  assert.equal(hash(tmpDir(), 0), a);
  assert.notEqual(hash(tmpDir(), 1), a);
});

test("the table says when llama.cpp is not available", () => {
  const row = {
    shape: "tiny",
    dtype: "f32",
    params: 4e6,
    threads: 2,
    decoderkit_threads_used: 1,
    decoderkit_prefill_tok_s: 10,
    decoderkit_decode_tok_s: 5,
    decoderkit_peak_rss_bytes: 8e7,
    llamacpp_prefill_tok_s: null,
    llamacpp_decode_tok_s: null,
    llamacpp_peak_rss_bytes: null,
    llamacpp_error: "llama.cpp not available: node-llama-cpp cannot be imported",
    llamacpp_version: null,
    prefill_ratio: null,
    decode_ratio: null,
    agree_tokens: null,
    compared_tokens: 4,
  } as unknown as BenchRow;
  const ctx = {
    cores: 2,
    cpu: "cpu",
    node: "v20",
    nodeLlamaCpp: null,
    backend: "reference",
    promptTokens: 8,
    decodeTokens: 3,
    repeat: 1,
  };
  const out = formatTable([row], ctx);
  assert.match(out, /llama\.cpp not available/);
  assert.match(out, /single-threaded/);
  assert.match(out, /^tiny +f32 +4\.0M +2 +10\.0 +- +- +5\.0 +- +- +80 +- +-$/m);
});

test("bench: bad flags give one line and exit 2", () => {
  const cases: [string[], RegExp][] = [
    [["bench", "--threads", "0"], /--threads/],
    [["bench", "--threads", "1,x"], /--threads/],
    [["bench", "--shapes", "huge"], /unknown shape "huge"/],
    [["bench", "--decode-tokens", "-1"], /--decode-tokens/],
    [["bench", "--backend", "nonesuch"], /backend "nonesuch"/],
    [["bench", "--repeat", "0"], /--repeat/],
    [["bench", "--rounds", "x"], /--rounds/],
    [["bench", "--bogus"], /bogus/],
  ];
  for (const [args, pattern] of cases) {
    const r = runCli(args);
    assert.equal(r.code, 2, args.join(" "));
    assert.equal(r.stdout, "");
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, pattern);
  }
  const help = runCli(["bench", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: decoderkit bench/);
});

test("bench --prefix-reuse: the second request reuses all but the last 16 prompt tokens and picks the same token", async () => {
  const rows = await runPrefixBench({
    shapes: parseShapes("tiny"),
    threads: [1],
    promptTokens: 40,
    backend: "reference",
    cacheDir: tmpDir(),
    vocabPath: VOCAB,
    seed: 0,
  });
  assert.equal(rows.length, 1);
  const r = rows[0]!;
  assert.equal(r.prompt_tokens, 40);
  assert.equal(r.shared_tokens, 24);
  assert.equal(r.reused_tokens, 24);
  assert.equal(r.same_first_token, true);
  assert.ok(r.fresh_first_token_ms > 0 && r.reused_first_token_ms > 0 && r.saving > 0);
  assert.match(formatPrefixTable(rows), /^tiny +1 +40 +24 /m);
});

test("bench --train: decoderkit's training steps of the nanoGPT shape, beside PyTorch's where it runs", async () => {
  const rows = await runTrainBench({ threads: [1], steps: 1, backend: "wasm" });
  assert.equal(rows.length, 1);
  const r = rows[0]!;
  assert.equal(r.steps, 1);
  assert.ok(r.ms_per_iter > 0 && r.tokens_per_s > 0);
  // Random data over 65 symbols from nanoGPT's initialisation: the loss starts near ln 65 = 4.17.
  assert.ok(Math.abs(r.first_loss - Math.log(65)) < 0.5, `first loss ${r.first_loss}`);
  if (r.pytorch_error === null) assert.ok(r.pytorch_ms_per_iter! > 0 && r.ms_ratio! > 0);
  else assert.match(r.pytorch_error, /PyTorch not available/);
  assert.match(formatTrainTable(rows), /^gpt 4x128 ctx64 b12 +1 /m);
});

/** Dequantized random k-quant bench rows: every value finite, mean about 0 and spread near the bench's 0.02. */
function assertBenchWeights(dtype: "q4_k" | "q6_k", bytes: Uint8Array, rows: number, cols: number): void {
  const rowBytes = (cols * (dtype === "q4_k" ? 144 : 210)) / 256;
  assert.equal(bytes.length, rows * rowBytes);
  const w = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) dequantizeRow(dtype, bytes, r * rowBytes, w, r * cols, cols);
  let sum = 0;
  let sq = 0;
  for (const v of w) {
    assert.ok(Number.isFinite(v));
    sum += v;
    sq += v * v;
  }
  const mean = sum / w.length;
  const std = Math.sqrt(sq / w.length - mean * mean);
  assert.ok(Math.abs(mean) < 0.003, `${dtype} mean ${mean}`);
  assert.ok(std > 0.015 && std < 0.03, `${dtype} std ${std}`);
}

test("the Q4_K bench weights: whole blocks with finite scales, mean about 0 and spread near 0.02", () => {
  assertBenchWeights("q4_k", randomQ4KBytes(64, 512, new Rng(5)), 64, 512);
  assert.throws(() => randomQ4KBytes(1, 300, new Rng(1)), /multiple of 256/);
  assert.ok(parseShapes("1b-q4_k")[0]!.dtype === "q4_k");
});

test("the Q4_K_M bench mix: Q6_K for the output and llama.cpp's more-bits layers' attn_v and ffn_down", () => {
  const pick = (name: string, layer = -1) => tensorDType("q4_k_m", name, layer, 22);
  assert.equal(pick("output.weight"), "q6_k");
  assert.equal(pick("token_embd.weight"), "q4_k");
  const sixBit = [...Array(22).keys()].filter((l) => pick(`blk.${l}.ffn_down.weight`, l) === "q6_k");
  assert.deepEqual(sixBit, [0, 1, 4, 7, 10, 13, 16, 19, 20, 21]);
  assert.equal(pick("blk.4.attn_v.weight", 4), "q6_k");
  assert.equal(pick("blk.4.attn_q.weight", 4), "q4_k");
  assert.equal(pick("blk.5.attn_v.weight", 5), "q4_k");
  assert.equal(tensorDType("q8_0", "output.weight", -1, 22), "q8_0");
  assertBenchWeights("q6_k", randomQ6KBytes(32, 512, new Rng(6)), 32, 512);
  assert.throws(() => randomQ6KBytes(1, 300, new Rng(1)), /multiple of 256/);
});
