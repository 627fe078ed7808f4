// BLEU and chrF (src/eval/) against sacreBLEU 2.6.0 (test/fixtures/sacrebleu-reference.json, written by
// tools/sacrebleu-reference.py) and against a sentence worked by hand.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import { test } from "node:test";
import { bleuStats, corpusBleu, sentenceBleu } from "../src/eval/bleu.js";
import { corpusChrf, sentenceChrf } from "../src/eval/chrf.js";
import { tokenize13a } from "../src/eval/tokenize-13a.js";

interface SentenceCase {
  hyp: string;
  refs: string[];
  bleu: number;
  bleu_precisions: number[];
  bleu_bp: number;
  bleu_sys_len: number;
  bleu_ref_len: number;
  chrf: number;
}
const REF = JSON.parse(fs.readFileSync("test/fixtures/sacrebleu-reference.json", "utf8")) as {
  sentences: SentenceCase[];
  corpus: { hyps: string[]; refs: string[][]; bleu: number; bleu_none: number; chrf: number };
};

const close = (a: number, b: number, what: string): void =>
  assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test("sentence BLEU by hand: 'the cat sat on the mat' vs 'the cat is on the mat'", () => {
  const s = sentenceBleu("the cat sat on the mat", ["the cat is on the mat"]);
  // matches 5/6, 3/5, 1/4, 0/3 -> exp smoothing gives the 4-gram precision 1 / (2 * 3)
  assert.deepEqual(s.correct, [5, 3, 1, 0]);
  assert.deepEqual(s.total, [6, 5, 4, 3]);
  const expected =
    100 * Math.exp((Math.log(5 / 6) + Math.log(3 / 5) + Math.log(1 / 4) + Math.log(1 / 6)) / 4);
  close(s.score, expected, "score");
});

test("13a tokenization splits punctuation and symbols, keeps digit groups", () => {
  assert.equal(tokenize13a("It costs $3,000.50, ok?"), "It costs $ 3,000.50 , ok ?");
  assert.equal(tokenize13a("12-15 and a-b"), "12 - 15 and a-b");
  assert.equal(tokenize13a("Tom &amp; Jerry"), "Tom & Jerry");
  assert.equal(tokenize13a("   "), "");
});

test("sentence BLEU equals sacreBLEU's sentence_bleu on every fixture case", () => {
  for (const c of REF.sentences) {
    const s = sentenceBleu(c.hyp, c.refs);
    close(s.score, c.bleu, `bleu of ${JSON.stringify(c.hyp)}`);
    close(s.brevityPenalty, c.bleu_bp, "bp");
    assert.equal(s.hypLen, c.bleu_sys_len);
    assert.equal(s.refLen, c.bleu_ref_len);
    c.bleu_precisions.forEach((p, n) => close(s.precisions[n]!, p, `p${n + 1}`));
  }
});

test("sentence chrF equals sacreBLEU's CHRF() on every fixture case", () => {
  for (const c of REF.sentences)
    close(sentenceChrf(c.hyp, c.refs), c.chrf, `chrf of ${JSON.stringify(c.hyp)}`);
});

test("corpus BLEU and chrF equal sacreBLEU's corpus_bleu / corpus_chrf with two reference sets", () => {
  const { hyps, refs } = REF.corpus;
  close(corpusBleu(hyps, refs).score, REF.corpus.bleu, "corpus bleu");
  close(corpusBleu(hyps, refs, { smooth: "none" }).score, REF.corpus.bleu_none, "corpus bleu, no smoothing");
  close(corpusChrf(hyps, refs), REF.corpus.chrf, "corpus chrf");
  assert.throws(() => corpusBleu(hyps, [refs[0]!.slice(1)]), /3 hypotheses but a reference set of 2/);
});

test("BLEU and chrF are 100 for identical text and refuse an empty reference list", () => {
  close(sentenceBleu("a b c d", ["a b c d"]).score, 100, "bleu");
  close(sentenceChrf("abc def", ["abc def"]), 100, "chrf");
  assert.throws(() => bleuStats("a", []), /no references/);
  assert.throws(() => sentenceChrf("a", []), /no references/);
});
