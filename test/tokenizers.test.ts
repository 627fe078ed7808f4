// Tokenizers against llama.cpp's test vectors (llama-spm, gpt-2), llama2.c tokenizer.bin against the
// same Llama 2 vocabulary, tokenizer.json through @huggingface/tokenizers, loading and its errors.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import { describe, it } from "node:test";
import { readGGUF } from "../src/io/gguf.js";
import { BpeTokenizer } from "../src/tokenizers/bpe.js";
import { tokenizerFromGGUF } from "../src/tokenizers/from-gguf.js";
import { HfTokenizer } from "../src/tokenizers/hf.js";
import { Llama2cTokenizer } from "../src/tokenizers/llama2c.js";
import { loadTokenizer } from "../src/tokenizers/load.js";
import { SpmTokenizer } from "../src/tokenizers/spm.js";
import { readVocabVectors } from "./tokenizer-vectors.js";

const SPM_GGUF = "../shared/vocab/ggml-vocab-llama-spm.gguf";
const GPT2_GGUF = "../shared/vocab/ggml-vocab-gpt-2.gguf";
const TOK512 = "../shared/models/stories260K/tok512.bin";
const LLAMA2_BIN = "../shared/tokenizers/llama2-32k/tokenizer.bin";
const T5_DIR = "../shared/models/tiny-random-t5";

function runVectors(tok: { encode(t: string): number[] }, gguf: string): void {
  const cases = readVocabVectors(gguf);
  assert.equal(cases.length, 46);
  const failed = cases.filter((c) => JSON.stringify(tok.encode(c.text)) !== JSON.stringify(c.ids));
  assert.deepEqual(
    failed.map((c) => c.text),
    [],
    `${cases.length - failed.length}/${cases.length} vectors pass`,
  );
}

describe("llama SentencePiece (GGUF vocab)", async () => {
  const tok = await loadTokenizer(SPM_GGUF);

  it("is an SpmTokenizer with the file's special ids", () => {
    assert.ok(tok instanceof SpmTokenizer);
    assert.equal(tok.vocabSize, 32000);
    assert.deepEqual([tok.bosId, tok.eosId, tok.addBos], [1, 2, true]);
    assert.ok(tok.isSpecial(1) && tok.isSpecial(2) && !tok.isSpecial(3) && !tok.isSpecial(15043));
    assert.equal(tok.idToPiece(15043), "\u2581Hello");
  });

  it("passes every llama.cpp test vector (no BOS)", () => runVectors(tok, SPM_GGUF));

  it("decodes every vector back to its input", () => {
    for (const c of readVocabVectors(SPM_GGUF)) assert.equal(tok.decode(c.ids), c.text);
  });

  it("adds BOS only with addSpecial, and drops the dummy space after it", () => {
    const ids = tok.encode("Hello world", { addSpecial: true });
    assert.deepEqual(ids, [1, 15043, 3186]);
    assert.equal(tok.decode(ids), "<s>Hello world");
    assert.equal(tok.decode(ids, { skipSpecial: true }), "Hello world");
    assert.deepEqual(tok.encode("", { addSpecial: true }), [1]);
  });

  it("falls back to byte tokens for unknown characters", () => {
    assert.deepEqual(tok.encode("\u{1F999}"), [29871, 243, 162, 169, 156]);
    assert.equal(tok.decode([243, 162, 169, 156]), "\u{1F999}");
  });
});

describe("GPT-2 byte-level BPE", async () => {
  const gguf = await loadTokenizer(GPT2_GGUF);
  const files = await loadTokenizer("../shared/tokenizers/gpt2");

  it("reads the GGUF and the vocab.json + merges.txt folder", () => {
    for (const tok of [gguf, files]) {
      assert.ok(tok instanceof BpeTokenizer);
      assert.equal(tok.vocabSize, 50257);
      assert.deepEqual([tok.bosId, tok.eosId, tok.addBos], [50256, 50256, false]);
      assert.ok(tok.isSpecial(50256) && !tok.isSpecial(0));
      assert.equal(tok.idToPiece(18435), "\u0120Hello");
    }
  });

  it("passes every llama.cpp test vector (GGUF)", () => runVectors(gguf, GPT2_GGUF));
  it("passes every llama.cpp test vector (vocab.json + merges.txt)", () => runVectors(files, GPT2_GGUF));

  it("decodes every vector back to its input", () => {
    for (const c of readVocabVectors(GPT2_GGUF)) assert.equal(gguf.decode(c.ids), c.text);
  });

  it("renders <|endoftext|> unless skipSpecial", () => {
    const ids = [...gguf.encode("Hi"), 50256];
    assert.equal(gguf.decode(ids), "Hi<|endoftext|>");
    assert.equal(gguf.decode(ids, { skipSpecial: true }), "Hi");
    assert.deepEqual(gguf.encode("Hi", { addSpecial: true }), gguf.encode("Hi"));
  });
});

describe("llama2.c tokenizer.bin", async () => {
  const small = Llama2cTokenizer.fromFile(TOK512, 512);
  const big = await loadTokenizer(LLAMA2_BIN);
  const spm = await loadTokenizer(SPM_GGUF);

  it("infers the vocab size from the file", async () => {
    assert.equal((await loadTokenizer(TOK512)).vocabSize, 512);
    assert.equal(big.vocabSize, 32000);
    assert.deepEqual([big.bosId, big.eosId, big.addBos], [1, 2, true]);
  });

  it("round-trips text through encode (with BOS) and decode", () => {
    for (const tok of [small, big]) {
      for (const text of ["Once upon a time", "Lily’s cat said: «héllo» 🦙\nThe end."]) {
        const ids = tok.encode(text, { addSpecial: true });
        assert.equal(ids[0], 1);
        assert.equal(tok.decode(ids, { skipSpecial: true }), text);
        assert.equal(tok.decode(ids.slice(1)), " " + text, "no BOS: the dummy space stays");
      }
    }
  });

  it("matches the SentencePiece GGUF tokenizer on the same Llama 2 vocabulary", () => {
    assert.deepEqual(big.encode("Once upon a time", { addSpecial: true }), [1, 9038, 2501, 263, 931]);
    for (const c of readVocabVectors(SPM_GGUF)) {
      if (c.text === "") continue;
      assert.deepEqual(big.encode(c.text), spm.encode(c.text), JSON.stringify(c.text));
    }
  });

  it("uses byte fallback ids (byte + 3) for unknown characters", () => {
    const space = small.encode(" ")[0]!;
    assert.deepEqual(small.encode("\u{1F999}"), [space, 243, 162, 169, 156]);
    assert.equal(small.decode([1, 243, 162, 169, 156], { skipSpecial: true }), "\u{1F999}");
  });

  it("rejects malformed files with errors naming tokenizer.bin", () => {
    const good = new Uint8Array(fs.readFileSync(TOK512));
    const bad = (buf: Uint8Array, vocab?: number): void =>
      assert.throws(() => Llama2cTokenizer.fromBuffer(buf, vocab), /^Error: tokenizer\.bin: /);
    bad(new Uint8Array(2));
    bad(good.subarray(0, good.length - 3));
    bad(good, 511);
    bad(good, 513);
    const negLen = good.slice();
    new DataView(negLen.buffer).setInt32(8, -5, true);
    bad(negLen);
    const zeroMax = good.slice();
    new DataView(zeroMax.buffer).setInt32(0, 0, true);
    bad(zeroMax);
  });
});

describe("tokenizer.json (@huggingface/tokenizers)", async () => {
  const tok = await loadTokenizer(T5_DIR);

  it("reads special ids from tokenizer_config.json", () => {
    assert.ok(tok instanceof HfTokenizer);
    assert.equal(tok.vocabSize, 1302);
    assert.deepEqual([tok.bosId, tok.eosId, tok.addBos], [null, 1, false]);
    assert.ok(tok.isSpecial(0) && tok.isSpecial(1) && !tok.isSpecial(175));
    assert.equal(tok.idToPiece(1), "</s>");
  });

  it("encodes, appends </s> with addSpecial, and decodes", () => {
    const ids = tok.encode("Hello world");
    assert.ok(ids.length > 0 && !ids.includes(1));
    assert.deepEqual(tok.encode("Hello world", { addSpecial: true }), [...ids, 1]);
    assert.equal(tok.decode(ids), "Hello world");
    assert.equal(tok.decode([...ids, 1]), "Hello world</s>");
    assert.equal(tok.decode([...ids, 1], { skipSpecial: true }), "Hello world");
  });

  it("loads from the tokenizer.json path too", async () => {
    const direct = await loadTokenizer(`${T5_DIR}/tokenizer.json`);
    assert.deepEqual(direct.encode("a b c"), tok.encode("a b c"));
  });
});

describe("tokenizerFromGGUF", () => {
  const meta = readGGUF(SPM_GGUF, { metadataOnly: true }).metadata;
  const gptMeta = readGGUF(GPT2_GGUF, { metadataOnly: true }).metadata;
  const edit = (m: Map<string, unknown>, changes: Record<string, unknown>): Map<string, unknown> => {
    const out = new Map(m);
    for (const [k, v] of Object.entries(changes)) {
      if (v === undefined) out.delete(k);
      else out.set(k, v);
    }
    return out;
  };

  it("defaults add_bos to true for llama and false for gpt2, and honours the key", () => {
    assert.equal(tokenizerFromGGUF(edit(meta, { "tokenizer.ggml.add_bos_token": undefined })).addBos, true);
    assert.equal(tokenizerFromGGUF(edit(meta, { "tokenizer.ggml.add_bos_token": false })).addBos, false);
    assert.equal(tokenizerFromGGUF(gptMeta).addBos, false);
    assert.equal(tokenizerFromGGUF(edit(gptMeta, { "tokenizer.ggml.add_bos_token": true })).addBos, true);
  });

  it("honours add_space_prefix = false", () => {
    const tok = tokenizerFromGGUF(edit(meta, { "tokenizer.ggml.add_space_prefix": false }));
    assert.deepEqual(tok.encode("Hello"), [10994]);
    assert.equal(tok.decode([15043]), " Hello");
  });

  it("reads the tiny random Llama GGUF's vocabulary", async () => {
    const tok = await loadTokenizer("../shared/models/tiny-random-llama-gguf/llama-2-tiny-random.gguf");
    assert.deepEqual(tok.encode("Hello world"), [15043, 3186]);
  });

  it("names unsupported models and pre-tokenizers", () => {
    assert.throws(
      () => tokenizerFromGGUF(edit(meta, { "tokenizer.ggml.model": "bert" })),
      /"bert" is not supported/,
    );
    assert.throws(
      () => tokenizerFromGGUF(edit(meta, { "tokenizer.ggml.model": undefined })),
      /no tokenizer\.ggml\.model/,
    );
    assert.throws(
      () => tokenizerFromGGUF(edit(gptMeta, { "tokenizer.ggml.pre": "qwen2" })),
      /"qwen2" is not supported/,
    );
    assert.throws(
      () => tokenizerFromGGUF(edit(meta, { "tokenizer.ggml.tokens": undefined })),
      /tokenizer\.ggml\.tokens/,
    );
  });
});

describe("loadTokenizer errors", () => {
  it("explains what it cannot read", async () => {
    await assert.rejects(loadTokenizer("../shared/nope.gguf"), /no such file/);
    await assert.rejects(
      loadTokenizer("../shared/tokenizers/llama2-32k/tokenizer.model"),
      /SentencePiece \.model/,
    );
    await assert.rejects(loadTokenizer("../shared/README.md"), /not a tokenizer we read/);
    await assert.rejects(loadTokenizer("../shared/models/stories260K"), /no tokenizer found/);
  });
});
