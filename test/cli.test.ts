// The command line: help on every command, one clear line and a non-zero exit for bad flags and bad files.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { runCli, SHARED, STORIES_BIN, TINY_LLAMA_GGUF, tmpDir } from "./helpers/paths.js";

test("--help works for every command", () => {
  for (const cmd of ["generate", "eval", "tokenize", "inspect", "convert", "train"]) {
    const r = runCli([cmd, "--help"]);
    assert.equal(r.code, 0, cmd);
    assert.match(r.stdout, new RegExp(`Usage: decoderkit ${cmd}`));
  }
  assert.equal(runCli(["--help"]).code, 0);
});

function oneLineError(args: string[], pattern: RegExp): void {
  const r = runCli(args);
  assert.notEqual(r.code, 0, args.join(" "));
  assert.equal(r.stdout, "");
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, pattern);
}

test("bad flags and values give one line and exit 2", () => {
  oneLineError(["generate", "--bogus"], /^decoderkit: usage: .*bogus/);
  oneLineError(["generate", "--temperature", "hot"], /--temperature must be/);
  oneLineError(["generate", "--top-p", "1.5"], /--top-p/);
  oneLineError(["generate", "--max-new-tokens", "-3"], /--max-new-tokens/);
  oneLineError(["generate", "--threads", "0"], /--threads/);
  oneLineError(["generate", "--prompt-tokens", "1,x"], /--prompt-tokens/);
  oneLineError(["generate", "--prompt-tokens", "1,99999"], /--prompt-tokens/);
  oneLineError(["frobnicate"], /unknown command/);
  oneLineError(["convert", STORIES_BIN, "/tmp/x", "--to", "onnx"], /--to must be/);
  oneLineError(["eval"], /--data/);
});

test("missing, truncated and foreign files give one clear line and exit 1", () => {
  const dir = tmpDir();
  oneLineError(["generate", "--model", path.join(dir, "nope.gguf")], /no such file/);
  const text = path.join(dir, "notes.txt");
  fs.writeFileSync(text, "hello");
  oneLineError(["inspect", text], /unknown checkpoint format/);
  const gguf = fs.readFileSync(TINY_LLAMA_GGUF);
  const cut = path.join(dir, "cut.gguf");
  fs.writeFileSync(cut, gguf.subarray(0, 50_000));
  oneLineError(["generate", "--model", cut], /^decoderkit: error: GGUF/);
  const bin = fs.readFileSync(STORIES_BIN);
  const cutBin = path.join(dir, "cut.bin");
  fs.writeFileSync(cutBin, bin.subarray(0, 100_000));
  oneLineError(
    ["generate", "--model", cutBin, "--tokenizer", path.join(SHARED, "models/stories260K/tok512.bin")],
    /llama2c/,
  );
  const emptyDir = path.join(dir, "folder");
  fs.mkdirSync(emptyDir);
  oneLineError(["generate", "--model", emptyDir], /config\.json/);
  fs.writeFileSync(
    path.join(emptyDir, "config.json"),
    JSON.stringify({ architectures: ["MambaForCausalLM"] }),
  );
  fs.writeFileSync(
    path.join(emptyDir, "model.safetensors"),
    Buffer.from([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]),
  );
  assert.match(runCli(["inspect", emptyDir]).stdout, /MambaForCausalLM \(not supported\)/);
  oneLineError(["generate", "--model", emptyDir], /unsupported architecture "MambaForCausalLM"/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("tokenize: ids without BOS by default, with --add-special, -- before dashed text, vocab-only GGUF", () => {
  const plain = JSON.parse(runCli(["tokenize", "--json", "Hello world"]).stdout);
  const special = JSON.parse(runCli(["tokenize", "--json", "--add-special", "Hello world"]).stdout);
  assert.deepEqual(special.ids, [1, ...plain.ids]);
  const dashed = runCli(["tokenize", "--json", "--", "-n is a flag"]);
  assert.equal(dashed.code, 0, dashed.stderr);
  assert.ok(JSON.parse(dashed.stdout).ids.length > 0);
  const vocab = runCli([
    "tokenize",
    "--model",
    path.join(SHARED, "vocab/ggml-vocab-llama-spm.gguf"),
    "--json",
    "Hello world",
  ]);
  assert.equal(vocab.code, 0, vocab.stderr);
  assert.deepEqual(JSON.parse(vocab.stdout).ids, [15043, 3186]);
});

test("inspect reports architecture, parameters and dtypes", () => {
  const r = runCli(["inspect", "--json", TINY_LLAMA_GGUF]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.architecture, "LlamaForCausalLM");
  assert.equal(j.format, "gguf");
  assert.ok(j.parameters > 0 && j.dtypes.f16 > 0);
  const s = runCli(["inspect", STORIES_BIN]);
  assert.match(s.stdout, /parameters\s+[\d,]+/);
});

test("eval prints tokens, loss and perplexity as JSON", () => {
  const r = runCli([
    "eval",
    "--data",
    path.join(SHARED, "data/tinystories/tinystories-train-head.txt"),
    "--max-tokens",
    "1024",
    "--json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.tokens, 1022);
  assert.ok(j.loss > 0.5 && j.loss < 3);
  assert.ok(Math.abs(j.perplexity - Math.exp(j.loss)) < 1e-9);
});
