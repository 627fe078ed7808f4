// Logits processors (src/generation/processors/) on hand-computed rows, their chain inside makeSampler and
// generateTokens (a scripted fake CausalLM), and seeded reproducibility.

import assert from "node:assert/strict";
import { test } from "node:test";
import { F32KVCache, type KVCache } from "../src/cache/kv-cache.js";
import { emptyStats, generateTokens } from "../src/generation/generate.js";
import { contextProcessorsFor } from "../src/generation/processors/chain.js";
import {
  badWords,
  forcedBos,
  forcedEos,
  logitBias,
  minNewTokens,
  noRepeatNgram,
} from "../src/generation/processors/constraints.js";
import type { DecodeContext } from "../src/generation/processors/context.js";
import { minP, typicalP } from "../src/generation/processors/filters.js";
import { presenceFrequencyPenalty, repetitionPenalty } from "../src/generation/processors/penalties.js";
import { Rng } from "../src/generation/rng.js";
import { makeSampler } from "../src/generation/sampling.js";
import type { CausalLM } from "../src/models/model.js";
import { Tensor } from "../src/tensor/tensor.js";

const logitsOf = (probs: number[]): Float32Array => Float32Array.from(probs.map(Math.log));
const kept = (l: Float32Array): number[] => Array.from(l.keys()).filter((i) => l[i] !== -Infinity);
const ctx = (promptIds: number[], generated: number[] = []): DecodeContext => ({ promptIds, generated });

test("repetition penalty divides positive and multiplies negative logits of seen tokens (prompt and output)", () => {
  const l = Float32Array.from([2, -1, 3, 0.5, -2]);
  repetitionPenalty(2)(l, ctx([0, 1], [1, 3]));
  assert.deepEqual(Array.from(l), [1, -2, 3, 0.25, -2]);
  const m = Float32Array.from([2, -1]);
  repetitionPenalty(0.5)(m, ctx([0, 1]));
  assert.deepEqual(Array.from(m), [4, -0.5]);
  for (const bad of [0, -1, NaN, Infinity]) assert.throws(() => repetitionPenalty(bad), /repetition penalty/);
});

test("presence and frequency penalties follow OpenAI's formula over the generated tokens only", () => {
  const l = Float32Array.from([1, 1, 1, 1]);
  // token 2 generated 3 times, token 1 once, token 0 only in the prompt
  presenceFrequencyPenalty(0.5, 0.25)(l, ctx([0, 0], [2, 1, 2, 2]));
  assert.deepEqual(Array.from(l), [1, 1 - 0.25 - 0.5, 1 - 0.75 - 0.5, 1]);
  const neg = Float32Array.from([0, 0]);
  presenceFrequencyPenalty(-1, 0)(neg, ctx([], [1]));
  assert.deepEqual(Array.from(neg), [0, 1]);
  assert.throws(() => presenceFrequencyPenalty(NaN, 0), /presence penalty/);
  assert.throws(() => presenceFrequencyPenalty(0, Infinity), /frequency penalty/);
});

test("no-repeat n-gram bans tokens completing an n-gram already in prompt + output", () => {
  // sequence 1 2 3 1 2 : the bigram prefix is (2) -> 3 banned for n = 2? prefix is last n-1 = [2]; 2 was followed by 3
  const l = new Float32Array(5);
  noRepeatNgram(2)(l, ctx([1, 2, 3], [1, 2]));
  assert.deepEqual(kept(l), [0, 1, 2, 4]);
  const t = new Float32Array(5);
  noRepeatNgram(3)(t, ctx([1, 2, 3, 1, 2, 4, 1], [2])); // prefix (1, 2) was followed by 3 and 4
  assert.deepEqual(kept(t), [0, 1, 2]);
  const u = new Float32Array(5);
  noRepeatNgram(1)(u, ctx([4], [0])); // unigrams: every seen token
  assert.deepEqual(kept(u), [1, 2, 3]);
  const short = new Float32Array(5);
  noRepeatNgram(4)(short, ctx([1, 2])); // fewer tokens than n - 1: nothing to ban
  assert.deepEqual(kept(short), [0, 1, 2, 3, 4]);
  for (const bad of [0, -1, 1.5]) assert.throws(() => noRepeatNgram(bad), /no-repeat n-gram size/);
});

test("bad words ban single tokens always and a sequence's last token when its prefix ends the text", () => {
  const ban = badWords([[4], [1, 2, 3], [0, 2]]);
  const a = new Float32Array(5);
  ban(a, ctx([0], [1, 2])); // [1,2] matches the prefix of [1,2,3]; [0] does not end the text
  assert.deepEqual(kept(a), [0, 1, 2]);
  const b = new Float32Array(5);
  ban(b, ctx([1], [0]));
  assert.deepEqual(kept(b), [0, 1, 3]);
  const c = new Float32Array(5);
  ban(c, ctx([2]));
  assert.deepEqual(kept(c), [0, 1, 2, 3]);
  assert.throws(() => badWords([[]]), /empty/);
  assert.throws(() => badWords([[1, -2]]), /not a token id/);
});

test("min new tokens masks EOS ids until enough tokens exist", () => {
  const p = minNewTokens(2, [1, 3]);
  const a = new Float32Array(4);
  p(a, ctx([0], [2]));
  assert.deepEqual(kept(a), [0, 2]);
  const b = new Float32Array(4);
  p(b, ctx([0], [2, 2]));
  assert.deepEqual(kept(b), [0, 1, 2, 3]);
  assert.throws(() => minNewTokens(-1, [1]), /min new tokens/);
});

test("forced BOS at the first step, forced EOS at the last step, nothing in between", () => {
  const bos = forcedBos(2);
  const eos = forcedEos(3, 4);
  const first = new Float32Array(5);
  bos(first, ctx([0]));
  assert.deepEqual(kept(first), [2]);
  const mid = new Float32Array(5);
  bos(mid, ctx([0], [2]));
  eos(mid, ctx([0], [2]));
  assert.deepEqual(kept(mid), [0, 1, 2, 3, 4]);
  const last = new Float32Array(5);
  eos(last, ctx([0], [2, 2, 2, 2]));
  assert.deepEqual(kept(last), [3]);
  assert.throws(() => forcedBos(7)(new Float32Array(5), ctx([0])), /outside the vocabulary/);
});

test("logit bias adds per-token values, -Infinity bans, and ids outside the vocabulary are refused", () => {
  const l = Float32Array.from([0, 1, 2]);
  logitBias(
    new Map([
      [0, 5],
      [2, -Infinity],
    ]),
  )(l, ctx([0]));
  assert.deepEqual(Array.from(l), [5, 1, -Infinity]);
  assert.throws(() => logitBias(new Map([[9, 1]]))(new Float32Array(3), ctx([0])), /token 9 is outside/);
  assert.throws(() => logitBias(new Map([[1, NaN]])), /logit bias for token 1/);
  assert.throws(() => logitBias(new Map([[-1, 1]])), /not a token id/);
});

test("min-p keeps tokens with p >= min_p * p_max (probs 0.5, 0.3, 0.15, 0.05)", () => {
  const probs = [0.3, 0.05, 0.5, 0.15];
  const cases: [number, number[]][] = [
    [0, [0, 1, 2, 3]],
    [0.09, [0, 1, 2, 3]],
    [0.11, [0, 2, 3]],
    [0.29, [0, 2, 3]],
    [0.31, [0, 2]],
    [0.61, [2]],
    [1, [2]],
  ];
  for (const [p, expected] of cases) {
    const l = logitsOf(probs);
    minP(p)(l);
    assert.deepEqual(kept(l), expected, `min-p ${p}`);
  }
  for (const bad of [-0.1, 1.1, NaN]) assert.throws(() => minP(bad), /min-p must be in \[0, 1\]/);
});

test("typical-p keeps tokens closest to the entropy until the mass is reached", () => {
  // probs 0.5, 0.3, 0.15, 0.05: H = 1.1412 nats; |-ln p - H| = 0.4481, 0.0628, 0.7559, 1.8545
  // order: 0.3 (id 0), 0.5 (id 2), 0.15 (id 3), 0.05 (id 1); cumulative 0.3, 0.8, 0.95, 1
  const probs = [0.3, 0.05, 0.5, 0.15];
  const cases: [number, number[]][] = [
    [0.2, [0]],
    [0.29, [0]],
    [0.31, [0, 2]],
    [0.79, [0, 2]],
    [0.81, [0, 2, 3]],
    [0.96, [0, 1, 2, 3]],
    [1, [0, 1, 2, 3]],
  ];
  for (const [p, expected] of cases) {
    const l = logitsOf(probs);
    typicalP(p)(l);
    assert.deepEqual(kept(l), expected, `typical-p ${p}`);
  }
  // masked tokens stay masked
  const m = Float32Array.from([Math.log(0.5), -Infinity, Math.log(0.5)]);
  typicalP(0.5)(m);
  assert.deepEqual(kept(m), [0, 2]);
  for (const bad of [0, 1.5, NaN]) assert.throws(() => typicalP(bad), /typical-p must be in \(0, 1\]/);
});

test("the chain runs in order: logit bias before the repetition penalty", () => {
  const chain = contextProcessorsFor({ logitBias: new Map([[0, 1]]), repetitionPenalty: 2 });
  const l = Float32Array.from([1, 4]);
  for (const p of chain) p(l, ctx([0, 1]));
  assert.deepEqual(Array.from(l), [1, 2]); // (1 + 1) / 2, 4 / 2
  assert.deepEqual(
    contextProcessorsFor({ repetitionPenalty: 1, presencePenalty: 0, noRepeatNgramSize: 0 }),
    [],
  );
});

test("makeSampler applies penalties before the greedy pick and leaves the caller's logits alone", () => {
  const l = Float32Array.from([3, 2.5, 0]);
  const pick = makeSampler({ repetitionPenalty: 2 }, new Rng(0));
  assert.equal(pick(l, ctx([0])), 1); // 3 / 2 = 1.5 < 2.5
  assert.equal(pick(l, ctx([2])), 0);
  assert.deepEqual(Array.from(l), [3, 2.5, 0]);
  assert.throws(() => pick(l), /need the decoding context/);
  const all = makeSampler({ logitBias: new Map([[0, -Infinity]]) }, new Rng(0));
  assert.throws(() => all(Float32Array.from([1]), ctx([0])), /every token is masked/);
});

test("makeSampler with min-p / typical-p draws only from the kept set, and the same seed repeats", () => {
  const l = logitsOf([0.3, 0.05, 0.5, 0.15]);
  const pickMin = makeSampler({ temperature: 1, minP: 0.31 }, new Rng(4));
  const pickTyp = makeSampler({ temperature: 1, typicalP: 0.8 }, new Rng(4));
  for (let i = 0; i < 200; i++) {
    assert.ok([0, 2].includes(pickMin(l)));
    assert.ok([0, 2].includes(pickTyp(l)));
  }
  const draws = (seed: number): number[] => {
    const p = makeSampler({ temperature: 0.9, minP: 0.05, presencePenalty: 0.3 }, new Rng(seed));
    return Array.from({ length: 40 }, (_, i) => p(l, ctx([0], [i % 4])));
  };
  assert.deepEqual(draws(5), draws(5));
  assert.notDeepEqual(draws(5), draws(6));
});

/** Logits favour token `favourite` (10) over `second` (9) forever; everything else 0. */
class FixedLM implements CausalLM {
  readonly architecture = "Fixed";
  readonly weights = new Map<string, Tensor>();
  readonly config = {};
  readonly contextLength = 64;
  constructor(
    readonly vocabSize: number,
    private readonly row: number[],
  ) {}
  newCache(): KVCache {
    return new F32KVCache({ nLayers: 1, nKvHeads: 1, headDim: 1, maxLength: this.contextLength });
  }
  forward(ids: readonly number[], cache: KVCache): Tensor {
    const z = Tensor.zeros([ids.length, 1, 1]);
    cache.update(0, z, z);
    cache.commit(ids.length);
    return Tensor.fromArray(this.row, [1, this.vocabSize]);
  }
}

async function collect(g: AsyncGenerator<number, unknown>): Promise<number[]> {
  const out: number[] = [];
  for await (const v of g) out.push(v);
  return out;
}

test("generateTokens feeds the context: no-repeat bigrams, min new tokens over a stop token, forced EOS", async () => {
  const lm = new FixedLM(5, [0, 1, 10, 9, 8]); // EOS = 1
  // greedy would repeat 2 forever; with no-repeat-ngram 2 the bigram (2, 2) is banned once it appears; after 3
  // (never followed by anything yet) 2 comes back, and then both (2, 2) and (2, 3) exist, so 4
  assert.deepEqual(
    await collect(generateTokens(lm, [0], { maxNewTokens: 5, noRepeatNgramSize: 2 })),
    [2, 2, 3, 2, 4],
  );
  // frequency penalty 1.5: 2 (10) -> 8.5 after one use, 3 (9) wins, then 2 (8.5 > 8 > 7.5), then 4 (8 > 7.5 > 7)
  assert.deepEqual(
    await collect(generateTokens(lm, [0], { maxNewTokens: 4, frequencyPenalty: 1.5 })),
    [2, 3, 2, 4],
  );
  const eosFirst = new FixedLM(5, [0, 20, 10, 9, 8]);
  const stats = emptyStats();
  const out = await collect(
    generateTokens(eosFirst, [0], { maxNewTokens: 10, stopTokens: [1], minNewTokens: 3 }, stats),
  );
  assert.deepEqual(out, [2, 2, 2]);
  assert.equal(stats.finishReason, "stop");
  const forced = emptyStats();
  const f = await collect(
    generateTokens(lm, [0], { maxNewTokens: 3, stopTokens: [1], forcedEosId: 1 }, forced),
  );
  assert.deepEqual(f, [2, 2]);
  assert.equal(forced.finishReason, "stop");
  assert.deepEqual(await collect(generateTokens(lm, [0], { maxNewTokens: 2, forcedBosId: 4 })), [4, 2]);
  assert.deepEqual(
    await collect(generateTokens(lm, [0], { maxNewTokens: 3, badWords: [[2, 2], [3]] })),
    [2, 4, 2],
  );
});

test("generateTokens with processors and a seed is reproducible", async () => {
  const lm = new FixedLM(6, [0, 1, 1.2, 0.8, 0.5, 1.1]);
  const run = (seed: number): Promise<number[]> =>
    collect(
      generateTokens(lm, [0], {
        temperature: 1,
        seed,
        maxNewTokens: 30,
        repetitionPenalty: 1.3,
        presencePenalty: 0.2,
        typicalP: 0.9,
      }),
    );
  assert.deepEqual(await run(21), await run(21));
  assert.notDeepEqual(await run(21), await run(22));
});
