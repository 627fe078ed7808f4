// StreamDecoder against decode() of the whole sequence: random id sequences for each tokenizer type,
// and UTF-8 characters split across byte-fallback and byte-level BPE tokens.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadTokenizer } from "../src/tokenizers/load.js";
import { StreamDecoder, type DecodeOptions, type Tokenizer } from "../src/tokenizers/tokenizer.js";
import { rng } from "./helpers/fixtures.js";

const PATHS: Record<string, string> = {
  spm: "../shared/vocab/ggml-vocab-llama-spm.gguf",
  bpe: "../shared/vocab/ggml-vocab-gpt-2.gguf",
  llama2c: "../shared/models/stories260K/tok512.bin",
  llama2c32k: "../shared/tokenizers/llama2-32k/tokenizer.bin",
  hf: "../shared/models/tiny-random-t5",
};

/** Random ids, weighted towards the hard cases: specials, low ids (byte tokens) and multi-byte text. */
function randomIds(tok: Tokenizer, rand: () => number, n: number): number[] {
  const multiByte = tok.encode("’é🦙 Привет 世界 x");
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.1 && tok.bosId !== null) ids.push(tok.bosId);
    else if (r < 0.15 && tok.eosId !== null) ids.push(tok.eosId);
    else if (r < 0.45) ids.push(Math.floor(rand() * Math.min(tok.vocabSize, 300)));
    else if (r < 0.65) ids.push(multiByte[Math.floor(rand() * multiByte.length)]!);
    else ids.push(Math.floor(rand() * tok.vocabSize));
  }
  return ids;
}

function streamed(
  tok: Tokenizer,
  ids: readonly number[],
  opts: DecodeOptions,
  context: number[] = [],
): string {
  const dec = new StreamDecoder(tok, context, opts);
  let out = "";
  for (const id of ids) out += dec.push(id);
  return out + dec.flush();
}

describe("StreamDecoder", async () => {
  const toks: Record<string, Tokenizer> = {};
  for (const [name, p] of Object.entries(PATHS)) toks[name] = await loadTokenizer(p);

  for (const name of Object.keys(PATHS)) {
    it(`${name}: concatenated push() output equals decode() on random sequences`, () => {
      const tok = toks[name]!;
      const rand = rng(1234);
      for (let trial = 0; trial < 150; trial++) {
        const ids = randomIds(tok, rand, 1 + Math.floor(rand() * 40));
        for (const skipSpecial of [true, false]) {
          assert.equal(
            streamed(tok, ids, { skipSpecial }),
            tok.decode(ids, { skipSpecial }),
            `ids ${ids.join(",")}`,
          );
        }
      }
    });

    it(`${name}: with a prompt as context, emits decode(prompt + new) minus decode(prompt)`, () => {
      const tok = toks[name]!;
      const prompt = tok.encode("Once upon a time", { addSpecial: true });
      const gen = tok.encode(" there was a cat’s 🦙.");
      const whole = tok.decode([...prompt, ...gen], { skipSpecial: true });
      const head = tok.decode(prompt, { skipSpecial: true });
      assert.ok(whole.startsWith(head));
      assert.equal(streamed(tok, gen, {}, prompt), whole.slice(head.length));
    });
  }

  it("holds back a character split across byte-fallback tokens", () => {
    const tok = toks["spm"]!;
    // <s> ▁it <0xE2> <0x80> <0x99>: "’" spelled in byte-fallback tokens.
    const ids = [1, 372, 0xe2 + 3, 0x80 + 3, 0x99 + 3];
    const dec = new StreamDecoder(tok);
    assert.deepEqual(
      ids.map((id) => dec.push(id)),
      ["", "it", "", "", "’"],
    );
    assert.equal(dec.flush(), "");
  });

  it("holds back a character split across byte-level BPE tokens", () => {
    const tok = toks["bpe"]!;
    const ids = tok.encode("🦙!");
    assert.ok(ids.length > 2);
    const dec = new StreamDecoder(tok);
    const out = ids.map((id) => dec.push(id));
    assert.ok(out.slice(0, -1).every((s) => s === "" || s === "🦙"));
    assert.equal(out.join(""), "🦙!");
  });

  it("flush() emits an incomplete tail as U+FFFD, like decode()", () => {
    const tok = toks["llama2c32k"]!;
    const dec = new StreamDecoder(tok);
    assert.equal(dec.push(0xe2 + 3), "");
    assert.equal(dec.flush(), tok.decode([0xe2 + 3]));
    assert.equal(dec.flush(), "");
  });
});
