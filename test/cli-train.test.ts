// `decoderkit train` on a tiny corpus with a tiny model: the output folder (model, tokenizer, optimizer state,
// loss curve), the --json line, `decoderkit generate` on the result, resuming identically, and bad flags.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { runCli, tmpDir } from "./helpers/paths.js";

const CORPUS =
  "ROMEO: But soft, what light through yonder window breaks?\nJULIET: O Romeo, Romeo, wherefore art thou Romeo?\n".repeat(
    4,
  );
const TINY = ["--layers", "1", "--heads", "2", "--dim", "16", "--batch", "4", "--eval-iters", "2"];

function corpus(): string {
  const f = path.join(tmpDir(), "corpus.txt");
  fs.writeFileSync(f, CORPUS);
  return f;
}

function trainJson(args: string[]): Record<string, unknown> {
  const r = runCli(["train", ...args, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split("\n");
  assert.equal(lines.length, 1, r.stdout);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

test("train writes a model folder that generate runs, a loss curve and a JSON summary", () => {
  const data = corpus();
  const out = path.join(tmpDir(), "out");
  const args = [
    ...TINY,
    "--context",
    "32",
    "--steps",
    "6",
    "--eval-every",
    "3",
    "--log-every",
    "2",
    "--json",
  ];
  const r = runCli(["train", "--data", data, "--out", out, ...args]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout.trim()) as Record<string, number | string>;
  assert.deepEqual(Object.keys(j), ["steps", "train_loss", "val_loss", "ms_per_iter", "tokens_per_s", "out"]);
  assert.equal(j["steps"], 6);
  assert.equal(j["out"], out);
  for (const k of ["train_loss", "val_loss", "ms_per_iter", "tokens_per_s"])
    assert.ok(typeof j[k] === "number" && (j[k] as number) > 0, k);
  assert.match(r.stderr, /step 2\/6 {2}loss \d+\.\d+ {2}lr \S+ {2}[\d.]+ ms\/iter {2}\d+ tok\/s {2}ETA/);
  assert.match(r.stderr, /step 3: train loss [\d.]+, val loss [\d.]+/);
  for (const f of [
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "optimizer.safetensors",
    "trainer_state.json",
  ])
    assert.ok(fs.existsSync(path.join(out, f)), f);
  const svg = fs.readFileSync(path.join(out, "loss.svg"), "utf8");
  assert.match(svg, /<svg[\s\S]*<polyline[\s\S]*<\/svg>/);

  const g = runCli([
    "generate",
    "--model",
    out,
    "--temperature",
    "0",
    "--max-new-tokens",
    "20",
    "--json",
    "ROMEO:",
  ]);
  assert.equal(g.code, 0, g.stderr);
  const gen = JSON.parse(g.stdout) as { text: string; tokens: number[] };
  assert.equal(gen.tokens.length, 20);
  for (const c of gen.text) assert.ok(CORPUS.includes(c), `generated ${JSON.stringify(c)}`);

  const again = runCli(["train", "--data", data, "--out", out, "--steps", "2"]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^decoderkit: error: .* is not empty \(use --resume/);
});

test("--resume continues identically to a run that never stopped", () => {
  const data = corpus();
  const sched = [
    "--context",
    "16",
    "--warmup",
    "1",
    "--lr-decay-iters",
    "6",
    "--lr",
    "3e-3",
    "--dropout",
    "0.1",
    "--eval-every",
    "3",
  ];
  const a = path.join(tmpDir(), "a");
  const b = path.join(tmpDir(), "b");
  const straight = trainJson(["--data", data, "--out", a, ...TINY, ...sched, "--steps", "6"]);
  const half = trainJson(["--data", data, "--out", b, ...TINY, ...sched, "--steps", "3"]);
  assert.equal(half["steps"], 3);
  const resumed = trainJson(["--data", data, "--out", b, "--resume", "--steps", "6"]);
  assert.equal(resumed["steps"], 6);
  assert.equal(resumed["val_loss"], straight["val_loss"]);
  const ev = runCli(["train", "--data", data, "--out", b, "--resume", "--eval-only", "--json"]);
  assert.equal(ev.code, 0, ev.stderr);
  assert.deepEqual(JSON.parse(ev.stdout), {
    step: 6,
    train_loss: resumed["train_loss"],
    val_loss: resumed["val_loss"],
    eval_iters: 2,
  });
  assert.equal(resumed["train_loss"], straight["train_loss"]);
  for (const f of ["model.safetensors", "optimizer.safetensors"])
    assert.ok(fs.readFileSync(path.join(a, f)).equals(fs.readFileSync(path.join(b, f))), f);
  const state = (d: string) =>
    JSON.parse(fs.readFileSync(path.join(d, "trainer_state.json"), "utf8")) as { state: unknown };
  assert.deepEqual(state(b).state, state(a).state);
});

function usage(args: string[], pattern: RegExp): void {
  const r = runCli(["train", ...args]);
  assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, pattern);
}

test("bad train flags give one line and exit 2; a missing file exits 1", () => {
  const data = corpus();
  const out = path.join(tmpDir(), "o");
  const base = ["--data", data, "--out", out];
  usage(["--out", out], /--data FILE is required/);
  usage(["--data", data], /--out DIR is required/);
  usage([...base, "--steps", "0"], /--steps must be a positive integer/);
  usage([...base, "--dim", "10", "--heads", "3"], /not a multiple of --heads/);
  usage([...base, "--tokenizer", "bpe:100"], /--tokenizer bpe:N needs an integer N in \[257, 65536\]/);
  usage([...base, "--arch", "t5"], /--arch must be gpt2 or llama/);
  usage([...base, "--kv-heads", "2"], /--kv-heads applies to --arch llama only/);
  usage([...base, "--arch", "llama", "--bias", "false"], /--bias applies to --arch gpt2 only/);
  usage(
    [...base, "--arch", "llama", "--heads", "4", "--kv-heads", "3"],
    /--kv-heads 3 does not divide --heads 4/,
  );
  usage([...base, "--eval-only"], /--eval-only needs --resume/);
  usage([...base, "--bias", "maybe"], /--bias must be true or false/);
  usage([...base, "--activation", "relu"], /--activation must be gelu_new or gelu/);
  const cfg = path.join(tmpDir(), "bad.json");
  fs.writeFileSync(cfg, JSON.stringify({ layers: 2, colour: "red" }));
  usage([...base, "--config", cfg], /bad\.json: unknown key "colour"/);
  fs.writeFileSync(cfg, JSON.stringify({ resume: "yes" }));
  usage([...base, "--config", cfg], /"resume" must be true or false/);
  fs.writeFileSync(cfg, "[1]");
  usage([...base, "--config", cfg], /one JSON object/);
  usage([...base, "--dropout", "1"], /--dropout/);
  usage([...base, "--lr", "-1"], /--lr/);
  usage([...base, "--warmup", "10", "--steps", "10"], /must exceed --warmup/);
  usage([...base, "--resume", "--lr", "1e-3"], /--lr cannot change on --resume/);
  usage([...base, "--bogus"], /bogus/);
  const r = runCli(["train", "--data", path.join(out, "missing.txt"), "--out", out]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^decoderkit: error: .*missing\.txt: cannot read the file\n$/);
  const noCk = runCli(["train", ...base, "--resume"]);
  assert.equal(noCk.code, 1);
  assert.match(noCk.stderr, /no trainer_state\.json/);
  assert.equal(runCli(["train", "--help"]).code, 0);
});

test("a Llama with a trained BPE tokenizer from a --config file: generate runs it; resume; --tokenizer PATH", () => {
  const data = corpus();
  const out = path.join(tmpDir(), "llama");
  const cfg = path.join(tmpDir(), "llama.json");
  fs.writeFileSync(
    cfg,
    JSON.stringify({
      arch: "llama",
      tokenizer: "bpe:300",
      layers: 1,
      heads: 4,
      "kv-heads": 2,
      dim: 16,
      ffn: 24,
      tie: true,
      context: 16,
      batch: 4,
      steps: 4,
      warmup: 1,
      "lr-decay-iters": 4,
      "eval-every": 2,
      "eval-iters": 2,
    }),
  );
  const j = trainJson(["--config", cfg, "--data", data, "--out", out, "--steps", "2"]); // the flag wins
  assert.equal(j["steps"], 2);
  const config = JSON.parse(fs.readFileSync(path.join(out, "config.json"), "utf8")) as Record<
    string,
    unknown
  >;
  assert.equal(config["model_type"], "llama");
  assert.equal(config["num_key_value_heads"], 2);
  assert.equal(config["intermediate_size"], 24);
  assert.equal(config["tie_word_embeddings"], true);
  const tok = JSON.parse(fs.readFileSync(path.join(out, "tokenizer.json"), "utf8")) as {
    model: { vocab: Record<string, number> };
  };
  assert.equal(config["vocab_size"], Object.keys(tok.model.vocab).length);
  assert.equal(config["eos_token_id"], tok.model.vocab["<|endoftext|>"]);
  assert.ok(fs.existsSync(path.join(out, "tokenizer_config.json")));

  const g = runCli([
    "generate",
    "--model",
    out,
    "--temperature",
    "0",
    "--max-new-tokens",
    "8",
    "--json",
    "ROMEO:",
  ]);
  assert.equal(g.code, 0, g.stderr);
  assert.equal((JSON.parse(g.stdout) as { tokens: number[] }).tokens.length <= 8, true);

  const resumed = trainJson(["--data", data, "--out", out, "--resume", "--steps", "4"]);
  const straight = trainJson(["--config", cfg, "--data", data, "--out", path.join(tmpDir(), "llama4")]);
  assert.equal(resumed["val_loss"], straight["val_loss"]);
  const ev = runCli(["train", "--data", data, "--out", out, "--resume", "--eval-only", "--json"]);
  assert.equal(ev.code, 0, ev.stderr);
  assert.deepEqual(JSON.parse(ev.stdout), {
    step: 4,
    train_loss: resumed["train_loss"],
    val_loss: resumed["val_loss"],
    eval_iters: 2,
  });

  const reuse = path.join(tmpDir(), "reuse");
  trainJson([
    ...TINY,
    "--data",
    data,
    "--out",
    reuse,
    "--context",
    "16",
    "--steps",
    "1",
    "--tokenizer",
    path.join(out, "tokenizer.json"),
  ]);
  const reused = JSON.parse(fs.readFileSync(path.join(reuse, "tokenizer.json"), "utf8")) as unknown;
  assert.deepEqual(reused, tok);
});
