// Byte-level BPE training: merges of a hand-computed case, determinism, lossless round trips (unicode, emoji,
// bytes never seen in training), <|endoftext|>, and the written tokenizer.json giving the same ids and text
// through @huggingface/tokenizers (HfTokenizer) as our own encoder.

import assert from "node:assert/strict";
import { test } from "node:test";
import { HfTokenizer } from "../src/tokenizers/hf.js";
import { countWords, trainBpeMerges } from "../src/train/data/bpe-trainer.js";
import { ByteLevelBpe, END_OF_TEXT } from "../src/train/data/byte-bpe.js";
import { parseTokenizerSpec, tokenizerFromJson } from "../src/train/data/tokenizers.js";

const CORPUS =
  "Once upon a time, there was a little girl named Lily. She liked to play in the park with her dog.\n" +
  'One day, Lily saw a big red ball. "Can I play?" she asked. Her mom said yes, and Lily was happy!\n' +
  "The dog ran fast. It was 3 o'clock, and they'll go home soon. Café naïve — 東京 🙂👍🏽.\n";

test("merges of a hand-computed case: most frequent pair first, ties to the smaller ids", () => {
  const words = new Map([
    ["hug", 10],
    ["pug", 5],
    ["pun", 12],
    ["bun", 4],
    ["hugs", 5],
  ]);
  const { merges } = trainBpeMerges(words, 10);
  const c = (s: string) => s.charCodeAt(0);
  // ug (20), un (16), h+ug (15), p+un (12), then p+ug and hug+s tie at 5 (p < hug), then b+un (4); no pairs left.
  assert.deepEqual(merges, [
    [c("u"), c("g")],
    [c("u"), c("n")],
    [c("h"), 256],
    [c("p"), 257],
    [c("p"), 256],
    [258, c("s")],
    [c("b"), 257],
  ]);
  assert.deepEqual(trainBpeMerges(words, 2).merges, merges.slice(0, 2));
  assert.deepEqual(
    countWords(["a hug, a hug"]),
    new Map([
      ["a", 1],
      [" hug", 2],
      [",", 1],
      [" a", 1],
    ]),
  );
});

test("byte-level BPE: ids 0..255 are bytes, merges named in GPT-2's byte alphabet, <|endoftext|> last", () => {
  const t = ByteLevelBpe.train(CORPUS.repeat(3), 300);
  assert.equal(t.vocabSize, 300);
  assert.equal(t.merges.length, 43);
  assert.equal(t.tokens[299], END_OF_TEXT);
  assert.equal(t.eosId, 299);
  assert.equal(t.tokens[32], "Ġ");
  assert.ok(t.merges.includes("Ġ p"), "a space-prefixed merge");
  for (const m of t.merges) assert.ok(t.tokens.includes(m.replace(" ", "")), m);
  assert.throws(() => ByteLevelBpe.train(CORPUS, 256), /integer in \[257, 65536\]/);
  assert.throws(() => ByteLevelBpe.train("", 300), /empty/);
});

test("training is deterministic and the encoding round-trips any text", () => {
  const a = ByteLevelBpe.train(CORPUS, 400);
  const b = ByteLevelBpe.train(CORPUS, 400);
  assert.deepEqual(a.toTokenizerJson(), b.toTokenizerJson());
  const text = CORPUS + "Ünïcödé ✓ 🚀🎉 zebra qux\t\r\n  x" + END_OF_TEXT + "Once" + "\u0000\u00ff";
  const ids = a.encode(text);
  assert.equal(a.decode(ids), text);
  assert.ok(ids.length < new TextEncoder().encode(text).length * 0.8, "merges shorten the text");
  assert.equal([...ids].filter((i) => i === a.eosId).length, 1);
  const back = ByteLevelBpe.fromTokenizerJson(JSON.parse(JSON.stringify(a.toTokenizerJson())));
  assert.ok(back);
  assert.deepEqual(back.encode(text), ids);
});

test("the tokenizer.json loads in @huggingface/tokenizers with the same ids and text as our encoder", () => {
  const t = ByteLevelBpe.train(CORPUS.repeat(2), 380);
  const hf = new HfTokenizer(t.toTokenizerJson(), t.tokenizerConfig());
  const texts = [
    CORPUS,
    "Lily's dog didn't run; they've 12345 apples!!  Two  spaces\n\nand\ttabs.",
    "emoji 🙂👍🏽 and 東京 and é vs e\u0301, then " + END_OF_TEXT + " next story",
  ];
  for (const text of texts) {
    const ours = [...t.encode(text)];
    assert.deepEqual(hf.encode(text), ours, text);
    assert.equal(hf.decode(ours), text);
  }
  assert.equal(hf.eosId, t.eosId);
  assert.equal(hf.vocabSize, 380);
  const all = ByteLevelBpe.train(CORPUS, 5000); // the corpus runs out of pairs first: a smaller vocabulary
  assert.ok(all.vocabSize < 5000 && all.tokens[all.vocabSize - 1] === END_OF_TEXT);
  assert.ok(hf.isSpecial(t.eosId));
});

test("--tokenizer specs and tokenizer.json files read back as the tokenizer that wrote them", () => {
  assert.deepEqual(parseTokenizerSpec("char"), { kind: "char" });
  assert.deepEqual(parseTokenizerSpec("bpe:1000"), { kind: "bpe", vocabSize: 1000 });
  assert.equal(parseTokenizerSpec("bpe:12"), null);
  assert.equal(parseTokenizerSpec("bpe:x"), null);
  assert.deepEqual(parseTokenizerSpec("a/tokenizer.json"), { kind: "file", path: "a/tokenizer.json" });
  const bpe = ByteLevelBpe.train(CORPUS, 320);
  const t = tokenizerFromJson(bpe.toTokenizerJson(), bpe.tokenizerConfig());
  assert.deepEqual(t.encode(CORPUS), bpe.encode(CORPUS));
  assert.equal(t.eosId, 319);
});
