// Contrastive search, contrastive decoding and MBR (src/generation/) on fake causal LMs with fixed logits and
// hidden states, against choices computed by hand; alpha = 0 contrastive search against greedy generateTokens.

import assert from "node:assert/strict";
import { test } from "node:test";
import { F32KVCache, type KVCache } from "../src/cache/kv-cache.js";
import {
  contrastiveDecoding,
  contrastiveScores,
  emptyContrastiveDecodingInfo,
} from "../src/generation/contrastive-decoding.js";
import {
  contrastiveSearch,
  emptyContrastiveInfo,
  maxCosine,
  topKIds,
} from "../src/generation/contrastive-search.js";
import { emptyStats, generateTokens } from "../src/generation/generate.js";
import { mbrDecode, mbrSelect, type MbrInfo } from "../src/generation/mbr.js";
import type { CausalLM, ForwardOptions } from "../src/models/model.js";
import { Tensor } from "../src/tensor/tensor.js";

/**
 * A Markov fake: the logits after a position depend only on its token (rows[token]), and the hidden state of a
 * position is hidden[token]. It records every forward call.
 */
class MarkovLM implements CausalLM {
  readonly architecture = "Markov";
  readonly weights = new Map<string, Tensor>();
  readonly config = {};
  readonly calls: number[][] = [];
  constructor(
    private readonly rows: number[][],
    private readonly hidden: number[][] | null,
    readonly contextLength = 64,
  ) {}
  get vocabSize(): number {
    return this.rows[0]!.length;
  }
  newCache(): KVCache {
    return new F32KVCache({ nLayers: 1, nKvHeads: 1, headDim: 1, maxLength: this.contextLength });
  }
  forward(ids: readonly number[], cache: KVCache, opts: ForwardOptions = {}): Tensor {
    this.calls.push([...ids]);
    const z = Tensor.zeros([ids.length, 1, 1]);
    cache.update(0, z, z);
    cache.commit(ids.length);
    if (opts.onHidden && this.hidden) {
      const D = this.hidden[0]!.length;
      opts.onHidden(
        Tensor.fromArray(
          ids.flatMap((t) => this.hidden![t]!),
          [ids.length, D],
        ),
      );
    }
    const rows = opts.allLogits ? ids : [ids[ids.length - 1]!];
    return Tensor.fromArray(
      rows.flatMap((t) => this.rows[t]!),
      [rows.length, this.vocabSize],
    );
  }
}

const ln = (ps: number[]): number[] => ps.map(Math.log);

async function collect(g: AsyncGenerator<number, unknown>): Promise<number[]> {
  const out: number[] = [];
  for await (const v of g) out.push(v);
  return out;
}

// ---------------------------------------------------------------- contrastive search

test("maxCosine and topKIds", () => {
  assert.equal(
    maxCosine(Float32Array.from([1, 0]), [Float32Array.from([0, 1]), Float32Array.from([0.6, 0.8])]),
    0.6000000238418579,
  );
  assert.equal(maxCosine(Float32Array.from([1, 0]), []), 0);
  assert.deepEqual(topKIds(Float64Array.from([0.2, 0.5, 0.2, 0, 0.1]), 3), [1, 0, 2]);
  assert.deepEqual(topKIds(Float64Array.from([0, 1, 0]), 3), [1]);
  assert.deepEqual(topKIds(Float64Array.from([0.5, 0.5]), 0), []);
  // against the definition (a full sort), with many ties and masked entries
  let seed = 7;
  const r = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  for (let t = 0; t < 200; t++) {
    const probs = Float64Array.from({ length: 1 + Math.floor(r() * 60) }, () =>
      r() < 0.2 ? 0 : Math.floor(r() * 8) / 8,
    );
    const k = 1 + Math.floor(r() * 10);
    const want = Array.from(probs.keys())
      .filter((i) => probs[i]! > 0)
      .sort((a, b) => probs[b]! - probs[a]! || a - b)
      .slice(0, k);
    assert.deepEqual(topKIds(probs, k), want, `case ${t}`);
  }
});

// Every row has probabilities 0.05, 0.5, 0.3, 0.15; hidden states: 0 and 1 along x, 2 along y, 3 at (0.6, 0.8).
const SAME = ln([0.05, 0.5, 0.3, 0.15]);
const HIDDEN = [
  [1, 0],
  [2, 0],
  [0, 3],
  [0.6, 0.8],
];

test("contrastive search picks argmax (1 - a) p - a max cos by hand (a = 0.5, k = 3)", async () => {
  // step 0, context {x}:        1: 0.25 - 0.5 = -0.25   2: 0.15 - 0 = 0.15      3: 0.075 - 0.3 = -0.225  -> 2
  // step 1, context {x, y}:     1: -0.25                2: 0.15 - 0.5 = -0.35   3: 0.075 - 0.4 = -0.325  -> 1
  // step 2, context {x, y, x}:  same as step 1                                                           -> 1
  const lm = new MarkovLM([SAME, SAME, SAME, SAME], HIDDEN);
  const stats = emptyStats();
  const info = emptyContrastiveInfo();
  const out = await collect(
    contrastiveSearch(lm, [0], { penaltyAlpha: 0.5, topK: 3, maxNewTokens: 3 }, stats, info),
  );
  assert.deepEqual(out, [2, 1, 1]);
  assert.equal(stats.newTokens, 3);
  assert.equal(stats.finishReason, "length");
  // the final token is not fed, as in generateTokens: prompt + 2 positions
  assert.equal(stats.cache!.length, 3);
  assert.equal(info.steps, 3);
  assert.ok(Math.abs(info.probabilitySum - (0.3 + 0.5 + 0.5)) < 1e-6);
  assert.ok(Math.abs(info.penaltySum - (0 + 1 + 1)) < 1e-6);
  // prefill, then 3 candidates per step; the winner is re-run unless it was the last one tried
  assert.deepEqual(lm.calls, [[0], [1], [2], [3], [2], [1], [2], [3], [1], [1], [2], [3]]);
  assert.equal(info.forwardPasses, 12);
});

test("contrastive search with alpha = 0 (or k = 1) equals greedy", async () => {
  const rows = [
    ln([0.1, 0.2, 0.3, 0.4]),
    ln([0.4, 0.1, 0.3, 0.2]),
    ln([0.2, 0.5, 0.2, 0.1]),
    ln([0.25, 0.25, 0.4, 0.1]),
  ];
  const greedy = await collect(generateTokens(new MarkovLM(rows, HIDDEN), [1], { maxNewTokens: 8 }));
  assert.deepEqual(greedy, [0, 3, 2, 1, 0, 3, 2, 1]);
  const a0 = await collect(
    contrastiveSearch(new MarkovLM(rows, HIDDEN), [1], { penaltyAlpha: 0, topK: 4, maxNewTokens: 8 }),
  );
  assert.deepEqual(a0, greedy);
  const k1 = await collect(
    contrastiveSearch(new MarkovLM(rows, HIDDEN), [1], { penaltyAlpha: 0.9, topK: 1, maxNewTokens: 8 }),
  );
  assert.deepEqual(k1, greedy);
});

test("contrastive search stops on stop tokens, applies processors, and refuses bad options and models without hidden states", async () => {
  const lm = new MarkovLM([SAME, SAME, SAME, SAME], HIDDEN);
  const stats = emptyStats();
  // alpha 0: greedy picks 1; a stop token 1 ends at once with the cache as generateTokens leaves it
  assert.deepEqual(
    await collect(contrastiveSearch(lm, [0], { penaltyAlpha: 0, stopTokens: [1] }, stats)),
    [],
  );
  assert.equal(stats.finishReason, "stop");
  assert.equal(stats.cache!.length, 1);
  // a logit bias banning 1 makes it pick 2 then 3 under alpha 0 with no-repeat-ngram 1
  const biased = await collect(
    contrastiveSearch(new MarkovLM([SAME, SAME, SAME, SAME], HIDDEN), [0], {
      penaltyAlpha: 0,
      maxNewTokens: 2,
      logitBias: new Map([[1, -Infinity]]),
      noRepeatNgramSize: 1,
    }),
  );
  assert.deepEqual(biased, [2, 3]);
  await assert.rejects(
    collect(contrastiveSearch(lm, [0], { penaltyAlpha: 1.5 })),
    /penalty alpha must be in \[0, 1\]/,
  );
  await assert.rejects(collect(contrastiveSearch(lm, [0], { topK: 0 })), /top-k must be a positive integer/);
  await assert.rejects(collect(contrastiveSearch(lm, [9])), /outside the vocabulary/);
  await assert.rejects(
    collect(contrastiveSearch(new MarkovLM([SAME, SAME, SAME, SAME], null), [0])),
    /does not expose hidden states/,
  );
});

test("contrastive search ends with 'context' when no position is left for a candidate", async () => {
  const stats = emptyStats();
  const out = await collect(
    contrastiveSearch(new MarkovLM([SAME, SAME, SAME, SAME], HIDDEN, 4), [0], { maxNewTokens: 10 }, stats),
  );
  assert.equal(out.length, 3);
  assert.equal(stats.finishReason, "context");
});

// ---------------------------------------------------------------- contrastive decoding

test("contrastiveScores: log p_e - log p_a on {p_e >= alpha max p_e}, by hand", () => {
  const e = Float32Array.from(ln([0.5, 0.3, 0.15, 0.05]));
  const a = Float32Array.from(ln([0.7, 0.1, 0.1, 0.1]));
  const s = contrastiveScores(e, a, 0.2); // plausible: p >= 0.1 -> 0, 1, 2
  const want = [Math.log(0.5 / 0.7), Math.log(0.3 / 0.1), Math.log(0.15 / 0.1), -Infinity];
  want.forEach((w, i) =>
    assert.ok(w === -Infinity ? s[i] === -Infinity : Math.abs(s[i]! - w) < 1e-6, `${i}: ${s[i]}`),
  );
  assert.deepEqual(
    Array.from(contrastiveScores(e, a, 0.7)).map((v) => v === -Infinity),
    [false, true, true, true],
  );
  // amateur temperature 2: log softmax(a / 2) = 0.5 * log p_a - log sum sqrt(p_a)
  const t2 = contrastiveScores(e, a, 0.2, 2);
  const z = Math.log(Math.sqrt(0.7) + 3 * Math.sqrt(0.1));
  assert.ok(Math.abs(t2[1]! - (Math.log(0.3) - (0.5 * Math.log(0.1) - z))) < 1e-6);
  assert.throws(() => contrastiveScores(e, a, 1.5), /contrastive alpha/);
  assert.throws(() => contrastiveScores(e, a, 0.1, 0), /amateur temperature/);
  assert.throws(() => contrastiveScores(e, a.subarray(1), 0.1), /expert has 4 logits, amateur 3/);
});

test("contrastive decoding is greedy over the contrastive score and runs both models", async () => {
  // expert always 0.5, 0.3, 0.15, 0.05 (greedy: 0); amateur loves 0 and, after 1, loves 1 too
  const E = ln([0.5, 0.3, 0.15, 0.05]);
  const expert = new MarkovLM([E, E, E, E], null);
  const amateur = new MarkovLM(
    [
      ln([0.7, 0.1, 0.1, 0.1]),
      ln([0.1, 0.7, 0.1, 0.1]),
      ln([0.7, 0.1, 0.1, 0.1]),
      ln([0.25, 0.25, 0.25, 0.25]),
    ],
    null,
  );
  // alpha 0.2 (p >= 0.1: 0, 1, 2). After 0: scores log(.5/.7), log(.3/.1), log(.15/.1) -> 1.
  // After 1: log(.5/.1), log(.3/.7), log(.15/.1) -> 0. Then 1 again, alternating.
  const info = emptyContrastiveDecodingInfo();
  const stats = emptyStats();
  const out = await collect(
    contrastiveDecoding(expert, [0], { amateur, alpha: 0.2, maxNewTokens: 4 }, stats, info),
  );
  assert.deepEqual(out, [1, 0, 1, 0]);
  assert.deepEqual(expert.calls, [[0], [1], [0], [1]]);
  assert.deepEqual(amateur.calls, expert.calls);
  assert.equal(info.steps, 4);
  assert.equal(info.plausibleSum, 12);
  assert.equal(info.differsFromExpert, 2);
  // alpha 1 keeps only the expert's argmax: plain greedy
  const greedy = await collect(
    contrastiveDecoding(new MarkovLM([E, E, E, E], null), [0], { amateur, alpha: 1, maxNewTokens: 3 }),
  );
  assert.deepEqual(greedy, [0, 0, 0]);
});

test("contrastive decoding samples reproducibly over the plausible set and refuses a foreign vocabulary", async () => {
  const E = ln([0.4, 0.3, 0.2, 0.1]);
  const A = ln([0.25, 0.25, 0.25, 0.25]);
  const run = (seed: number): Promise<number[]> =>
    collect(
      contrastiveDecoding(new MarkovLM([E, E, E, E], null), [0], {
        amateur: new MarkovLM([A, A, A, A], null),
        alpha: 0.6, // p >= 0.24: tokens 0 and 1
        temperature: 1,
        seed,
        maxNewTokens: 40,
      }),
    );
  const a = await run(3);
  assert.deepEqual(a, await run(3));
  assert.notDeepEqual(a, await run(4));
  assert.ok(a.every((t) => t === 0 || t === 1));
  const small = new MarkovLM([ln([0.5, 0.5])], null);
  await assert.rejects(
    collect(contrastiveDecoding(new MarkovLM([E, E, E, E], null), [0], { amateur: small })),
    /amateur's vocabulary \(2\) differs from the expert's \(4\)/,
  );
});

// ---------------------------------------------------------------- MBR

test("mbrSelect returns the candidate with the highest mean utility against the others", () => {
  const same = (h: string, r: string): number => (h === r ? 1 : 0);
  // expected: a: (1 + 0) / 2, a: 0.5, b: 0
  assert.deepEqual(mbrSelect(["a", "a", "b"], same), { index: 0, expected: [0.5, 0.5, 0] });
  assert.deepEqual(mbrSelect(["b", "a", "a"], same), { index: 1, expected: [0, 0.5, 0.5] });
  // word overlap: "x y" shares one word with each of the others, which share none with each other
  const overlap = (h: string, r: string): number =>
    h.split(" ").filter((w) => r.split(" ").includes(w)).length;
  assert.equal(mbrSelect(["x q", "x y", "y z"], overlap).index, 1);
  assert.deepEqual(mbrSelect(["only"], same), { index: 0, expected: [0] });
  assert.throws(() => mbrSelect([], same), /no candidates/);
});

test("mbrDecode samples seed + i per candidate and yields the consensus one", async () => {
  const row = ln([0.1, 0.3, 0.3, 0.3]);
  const lm = (): MarkovLM => new MarkovLM([row, row, row, row], null);
  const opts = {
    samples: 6,
    temperature: 1,
    seed: 10,
    maxNewTokens: 3,
    detokenize: (ids: readonly number[]) => ids.join(" "),
    utility: (h: string, r: string) => h.split(" ").filter((w, i) => r.split(" ")[i] === w).length,
  };
  const info: MbrInfo = { candidates: [], chosen: -1 };
  const stats = emptyStats();
  const out = await collect(mbrDecode(lm(), [0], opts, stats, info));
  assert.equal(info.candidates.length, 6);
  for (let i = 0; i < 6; i++) {
    const alone = await collect(generateTokens(lm(), [0], { temperature: 1, seed: 10 + i, maxNewTokens: 3 }));
    assert.deepEqual(info.candidates[i]!.tokens, alone);
  }
  // recompute the expected utilities by hand from the candidates
  const texts = info.candidates.map((c) => c.text);
  const means = texts.map((h, i) => texts.reduce((s, r, j) => (j === i ? s : s + opts.utility(h, r)), 0) / 5);
  means.forEach((m, i) => assert.equal(info.candidates[i]!.expectedUtility, m));
  const best = means.indexOf(Math.max(...means));
  assert.equal(info.chosen, best);
  assert.deepEqual(out, info.candidates[best]!.tokens);
  assert.equal(stats.newTokens, out.length);
  assert.deepEqual(await collect(mbrDecode(lm(), [0], opts)), out);
  await assert.rejects(
    collect(mbrDecode(lm(), [0], { ...opts, samples: 0 })),
    /mbr samples must be a positive integer/,
  );
});
