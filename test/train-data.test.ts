// Training data: the character tokenizer (nanoGPT's shakespeare_char vocabulary) and its tokenizer.json read back
// by our Hugging Face loader, the 90/10 split by position, seeded batch sampling, and the generator's saved state.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Rng } from "../src/generation/rng.js";
import { loadTokenizer } from "../src/tokenizers/load.js";
import { sampleBatch, splitTrainVal } from "../src/train/data/batches.js";
import { CharTokenizer } from "../src/train/data/char-tokenizer.js";
import { tmpDir } from "./helpers/paths.js";

const CORPUS =
  "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" +
  "Naïve café — 東京 😀 tab\there; quotes \"'` and \\ backslash.\n";

test("the vocabulary is the corpus's sorted unique characters, one id each", () => {
  const t = CharTokenizer.train("hello world\n");
  assert.deepEqual(t.chars, ["\n", " ", "d", "e", "h", "l", "o", "r", "w"]);
  assert.deepEqual([...t.encode("hello")], [4, 3, 5, 5, 6]);
  assert.equal(t.decode(t.encode("world hello\n")), "world hello\n");
  assert.throws(() => t.encode("help"), /"p" is not in the vocabulary/);
  assert.throws(() => t.decode([9]), /outside/);
  const u = CharTokenizer.train(CORPUS);
  assert.equal(u.chars.filter((c) => c === "😀").length, 1); // a character outside the BMP is one token
  for (let i = 1; i < u.chars.length; i++)
    assert.ok(u.chars[i - 1]!.codePointAt(0)! < u.chars[i]!.codePointAt(0)!);
  assert.throws(() => CharTokenizer.train(""), /empty/);
});

test("tokenizer.json loads through the Hugging Face tokenizer and round-trips the corpus", async () => {
  const t = CharTokenizer.train(CORPUS);
  const file = path.join(tmpDir(), "tokenizer.json");
  fs.writeFileSync(file, JSON.stringify(t.toTokenizerJson()));
  const hf = await loadTokenizer(file);
  const ids = hf.encode(CORPUS);
  assert.deepEqual(ids, [...t.encode(CORPUS)]);
  assert.equal(hf.decode(ids), CORPUS);
  assert.equal(hf.decode(hf.encode("  \n\nspeak")), "  \n\nspeak");
  assert.equal(hf.idToPiece(t.encode("😀")[0]!), "😀");
  const back = CharTokenizer.fromTokenizerJson(
    JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>,
  );
  assert.deepEqual(back.chars, t.chars);
  assert.throws(
    () => CharTokenizer.fromTokenizerJson({ model: { vocab: { a: 0, b: 2 }, merges: [] } }),
    /0\.\.n-1/,
  );
});

test("the split keeps the first 90% (rounded down) for training and the rest for validation", () => {
  const ids = Int32Array.from({ length: 1001 }, (_, i) => i);
  const { train, val } = splitTrainVal(ids);
  assert.equal(train.length, 900);
  assert.equal(val.length, 101);
  assert.equal(train[899], 899);
  assert.equal(val[0], 900);
  assert.throws(() => splitTrainVal(ids, 1), /fraction/);
});

test("batches are windows of the data with targets shifted by one, reproducible from the seed", () => {
  const data = Int32Array.from({ length: 50 }, (_, i) => (i * 7) % 50); // distinct values: a window's start is known
  const [B, T] = [6, 5];
  const a = sampleBatch(data, B, T, new Rng(3));
  for (let b = 0; b < B; b++) {
    const start = data.indexOf(a.x[b * T]!);
    assert.ok(start >= 0 && start < data.length - T);
    for (let t = 0; t < T; t++) {
      assert.equal(a.x[b * T + t], data[start + t]);
      assert.equal(a.y[b * T + t], data[start + t + 1]);
    }
  }
  assert.deepEqual(sampleBatch(data, B, T, new Rng(3)), a);
  assert.notDeepEqual(sampleBatch(data, B, T, new Rng(4)).x, a.x);
  const tight = Int32Array.from([1, 2, 3]); // T + 1 tokens: the one window
  assert.deepEqual([...sampleBatch(tight, 2, 2, new Rng(1)).y], [2, 3, 2, 3]);
  assert.throws(() => sampleBatch(tight, 1, 3, new Rng(1)), /too few/);
});

test("a generator restored from its state continues the same sequence", () => {
  const r = new Rng(42);
  for (let i = 0; i < 5; i++) r.next();
  const s = r.getState();
  const expected = Array.from({ length: 8 }, () => r.nextU32());
  const r2 = new Rng(7);
  r2.setState(s);
  assert.deepEqual(
    Array.from({ length: 8 }, () => r2.nextU32()),
    expected,
  );
  assert.throws(() => r2.setState([0, 0, 0, 0]), /all-zero/);
  assert.throws(() => r2.setState([1, 2, 3]), /four/);
});
