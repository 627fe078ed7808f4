// Sampling processors, the seeded RNG and the generation loops (src/generation/) on hand-computed distributions, a
// scripted fake CausalLM and a fake piece-joining Tokenizer: stop tokens, token budgets, context limits, stop strings.

import { test } from "node:test";
import assert from "node:assert/strict";
import { F32KVCache, type KVCache } from "../src/cache/kv-cache.js";
import { emptyStats, generateTokens } from "../src/generation/generate.js";
import { Rng } from "../src/generation/rng.js";
import {
  argmax,
  makeSampler,
  sampleFrom,
  softmaxCopy,
  temperature,
  topK,
  topP,
} from "../src/generation/sampling.js";
import { descending, kthLargest } from "../src/generation/processors/select.js";
import { generateText } from "../src/generation/text.js";
import type { CausalLM } from "../src/models/model.js";
import { Tensor } from "../src/tensor/tensor.js";
import type { Tokenizer } from "../src/tokenizers/tokenizer.js";

const logitsOf = (probs: number[]): Float32Array => Float32Array.from(probs.map(Math.log));
const kept = (l: Float32Array): number[] => Array.from(l.keys()).filter((i) => l[i] !== -Infinity);

// ---------------------------------------------------------------- processors

test("temperature divides the logits and refuses t <= 0, NaN and Infinity", () => {
  const l = Float32Array.from([2, -4, 0, 1]);
  temperature(2)(l);
  assert.deepEqual(Array.from(l), [1, -2, 0, 0.5]);
  const m = Float32Array.from([1, 3]);
  temperature(0.5)(m);
  assert.deepEqual(Array.from(m), [2, 6]);
  for (const bad of [0, -1, NaN, Infinity]) assert.throws(() => temperature(bad), /temperature must be > 0/);
});

test("temperature sharpens or flattens the softmax", () => {
  const base = Float32Array.from([1, 2, 3]);
  const hot = Float32Array.from(base);
  temperature(10)(hot);
  const cold = Float32Array.from(base);
  temperature(0.1)(cold);
  assert.ok(softmaxCopy(cold)[2]! > 0.9999);
  assert.ok(Math.abs(softmaxCopy(hot)[2]! - 1 / 3) < 0.05);
});

test("topK keeps the k largest logits, in place, wherever they sit", () => {
  const l = Float32Array.from([1, 3, 2, 0, -1]);
  topK(2)(l);
  assert.deepEqual(Array.from(l), [-Infinity, 3, 2, -Infinity, -Infinity]);
  const one = Float32Array.from([0.1, -5, 9, 8.9]);
  topK(1)(one);
  assert.deepEqual(kept(one), [2]);
});

test("topK keeps every logit tied with the k-th, and k >= vocabulary is a no-op", () => {
  const l = Float32Array.from([5, 1, 5, 5, 2]);
  topK(2)(l);
  assert.deepEqual(kept(l), [0, 2, 3]);
  const m = Float32Array.from([2, 7, 7, 1]);
  topK(1)(m);
  assert.deepEqual(kept(m), [1, 2]);
  const n = Float32Array.from([3, 1, 2]);
  topK(3)(n);
  topK(10)(n);
  assert.deepEqual(Array.from(n), [3, 1, 2]);
  // already masked entries stay masked and do not count
  const o = Float32Array.from([-Infinity, 1, -Infinity, 0]);
  topK(2)(o);
  assert.deepEqual(Array.from(o), [-Infinity, 1, -Infinity, 0]);
});

test("topK refuses k that is not a positive integer", () => {
  for (const bad of [0, -1, 1.5, NaN]) assert.throws(() => topK(bad), /top-k must be a positive integer/);
});

test("topP keeps the smallest most-likely set reaching p (probs 0.5, 0.3, 0.15, 0.05)", () => {
  // stored in a shuffled order: index 2 = 0.5, 0 = 0.3, 3 = 0.15, 1 = 0.05
  const probs = [0.3, 0.05, 0.5, 0.15];
  const cases: [number, number[]][] = [
    [0.3, [2]],
    [0.5, [2]],
    [0.51, [0, 2]],
    [0.8, [0, 2]],
    [0.81, [0, 2, 3]],
    [0.95, [0, 2, 3]],
    [0.96, [0, 1, 2, 3]],
    [1, [0, 1, 2, 3]],
  ];
  for (const [p, expected] of cases) {
    const l = logitsOf(probs);
    topP(p)(l);
    assert.deepEqual(kept(l), expected, `p = ${p}`);
  }
});

test("topP stops as soon as the sum reaches p exactly, breaking probability ties by index", () => {
  const l = Float32Array.from([0, 0, 0, 0]); // exactly 0.25 each
  topP(0.5)(l);
  assert.deepEqual(kept(l), [0, 1]);
  const m = Float32Array.from([1, 0, 0, 0]);
  topP(0.99)(m);
  assert.deepEqual(kept(m), [0, 1, 2, 3]);
});

test("topP works after other filters (masked entries have probability 0) and refuses p outside (0, 1]", () => {
  const l = Float32Array.from([Math.log(0.6), -Infinity, Math.log(0.4), -Infinity]);
  topP(0.7)(l);
  assert.deepEqual(kept(l), [0, 2]);
  for (const bad of [0, -0.5, 1.01, NaN]) assert.throws(() => topP(bad), /top-p must be in \(0, 1\]/);
});

test("argmax returns the first index on ties", () => {
  assert.equal(argmax(Float32Array.from([1, 5, 5, 2])), 1);
  assert.equal(argmax(Float32Array.from([7, 7, 7])), 0);
  assert.equal(argmax(Float32Array.from([-Infinity, -Infinity, -3, -3])), 2);
  assert.equal(argmax(Float32Array.from([0])), 0);
});

// ---------------------------------------------------------------- rng and draws

test("Rng is deterministic for a seed, differs across seeds and stays in [0, 1)", () => {
  const draw = (seed: number, n: number): number[] => {
    const r = new Rng(seed);
    return Array.from({ length: n }, () => r.next());
  };
  assert.deepEqual(draw(42, 50), draw(42, 50));
  const seeds = [0, 1, 2, 42, 0xffffffff];
  const firsts = seeds.map((s) => draw(s, 8).join(","));
  assert.equal(new Set(firsts).size, seeds.length);
  for (const v of draw(0, 1000)) assert.ok(v >= 0 && v < 1);
  const u = new Rng(3);
  for (let i = 0; i < 100; i++) {
    const x = u.nextU32();
    assert.ok(Number.isInteger(x) && x >= 0 && x < 2 ** 32);
  }
});

test("Rng's generator is xoshiro128** (outputs from state 1, 2, 3, 4 as the reference C code gives them)", () => {
  const r = new Rng(0);
  (r as unknown as { s: Uint32Array }).s.set([1, 2, 3, 4]);
  const got = Array.from({ length: 6 }, () => r.nextU32());
  assert.deepEqual(got, [11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
});

test("Rng output is uniform over 16 bins (chi-square, 15 dof, p = 0.001 bound)", () => {
  const r = new Rng(123);
  const n = 32000;
  const bins = new Array<number>(16).fill(0);
  for (let i = 0; i < n; i++) bins[Math.floor(r.next() * 16)]!++;
  const e = n / 16;
  const chi2 = bins.reduce((s, o) => s + (o - e) ** 2 / e, 0);
  assert.ok(chi2 < 37.7, `chi2 ${chi2}`);
});

test("sampleFrom frequencies match the softmax (chi-square, 4 dof, p = 0.001 bound) and never pick masked tokens", () => {
  const logits = Float32Array.from([1, 2, 0.5, -Infinity, 3, -1]);
  const p = softmaxCopy(logits);
  const rng = new Rng(2024);
  const n = 20000;
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < n; i++) counts[sampleFrom(logits, rng)]!++;
  assert.equal(counts[3], 0);
  let chi2 = 0;
  for (let i = 0; i < logits.length; i++) if (p[i]! > 0) chi2 += (counts[i]! - n * p[i]!) ** 2 / (n * p[i]!);
  assert.ok(chi2 < 18.47, `chi2 ${chi2}, counts ${counts}`);
});

test("sampleFrom with a single finite logit always returns it", () => {
  const rng = new Rng(5);
  const l = Float32Array.from([-Infinity, -Infinity, 0.3, -Infinity]);
  for (let i = 0; i < 100; i++) assert.equal(sampleFrom(l, rng), 2);
});

test("makeSampler is greedy when temperature is 0 or unset, whatever top-k/top-p say", () => {
  const l = Float32Array.from([0.1, 2, 2, -1]);
  for (const o of [{}, { temperature: 0 }, { temperature: 0, topK: 3, topP: 0.5 }]) {
    const pick = makeSampler(o, new Rng(1));
    for (let i = 0; i < 20; i++) assert.equal(pick(l), 1);
  }
});

test("makeSampler samples after the processors and leaves the caller's logits alone", () => {
  const l = Float32Array.from([3, 2.9, 2.8, -5]);
  const before = Array.from(l);
  const pick = makeSampler({ temperature: 1, topK: 2 }, new Rng(9));
  const seen = new Set<number>();
  for (let i = 0; i < 300; i++) seen.add(pick(l));
  assert.deepEqual([...seen].sort(), [0, 1]);
  assert.deepEqual(Array.from(l), before);
  const pickP = makeSampler({ temperature: 1, topP: 0.3 }, new Rng(9));
  for (let i = 0; i < 50; i++) assert.equal(pickP(l), 0);
  // same seed, same choices
  const a = makeSampler({ temperature: 1.3 }, new Rng(77));
  const b = makeSampler({ temperature: 1.3 }, new Rng(77));
  for (let i = 0; i < 50; i++) assert.equal(a(l), b(l));
});

test("makeSampler refuses bad parameters", () => {
  const rng = new Rng(0);
  assert.throws(() => makeSampler({ temperature: -0.5 }, rng), /temperature must be >= 0/);
  assert.throws(() => makeSampler({ temperature: NaN }, rng), /temperature/);
  assert.throws(() => makeSampler({ temperature: Infinity }, rng), /temperature/);
  assert.throws(() => makeSampler({ temperature: 1, topK: 1.5 }, rng), /top-k/);
  assert.throws(() => makeSampler({ temperature: 1, topK: -2 }, rng), /top-k/);
  assert.throws(() => makeSampler({ temperature: 1, topP: 0 }, rng), /top-p/);
  assert.throws(() => makeSampler({ temperature: 1, topP: 1.5 }, rng), /top-p/);
  assert.throws(() => makeSampler({ temperature: 1, topP: NaN }, rng), /top-p/);
  // topK 0 and topP 1 mean "off"
  assert.equal(makeSampler({ temperature: 1, topK: 0, topP: 1 }, rng)(Float32Array.from([-Infinity, 1])), 1);
});

// ---------------------------------------------------------------- a scripted model and a piece tokenizer

/** A CausalLM whose next token after the n-th forward pass is script[n] (or follows `logits` when given). */
class ScriptedLM implements CausalLM {
  readonly architecture = "Scripted";
  readonly weights = new Map<string, Tensor>();
  readonly config = {};
  readonly calls: number[][] = [];

  constructor(
    readonly vocabSize: number,
    private readonly script: readonly number[],
    readonly contextLength = 64,
    private readonly logits?: Float32Array,
  ) {}

  newCache(): KVCache {
    return new F32KVCache({ nLayers: 1, nKvHeads: 1, headDim: 1, maxLength: this.contextLength });
  }

  forward(ids: readonly number[], cache: KVCache): Tensor {
    const n = this.calls.length;
    this.calls.push([...ids]);
    const zero = Tensor.zeros([ids.length, 1, 1]);
    cache.update(0, zero, zero);
    cache.commit(ids.length);
    if (this.logits) return Tensor.fromArray(this.logits, [1, this.vocabSize]);
    const l = new Float32Array(this.vocabSize);
    l[this.script[n] ?? 0] = 10;
    return Tensor.fromArray(l, [1, this.vocabSize]);
  }
}

const PIECES = ["<s>", "</s>", "Hel", "lo", " wor", "ld", "!", "ST", "OP", " ", "x", "S", "TOP"];
const ID = Object.fromEntries(PIECES.map((p, i) => [p, i])) as Record<string, number>;

class PieceTokenizer implements Tokenizer {
  readonly vocabSize = PIECES.length;
  readonly bosId = 0;
  readonly eosId = 1;
  readonly addBos = false;
  encode(): number[] {
    throw new Error("not used");
  }
  decode(ids: readonly number[], opts: { skipSpecial?: boolean } = {}): string {
    return ids
      .filter((i) => !(opts.skipSpecial && this.isSpecial(i)))
      .map((i) => PIECES[i]!)
      .join("");
  }
  idToPiece(id: number): string {
    return PIECES[id]!;
  }
  isSpecial(id: number): boolean {
    return id < 2;
  }
}

async function collect<T>(g: AsyncGenerator<T, unknown>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of g) out.push(v);
  return out;
}

// ---------------------------------------------------------------- generateTokens

test("generateTokens prefills once, feeds each drawn token back, and stops on a stop token without yielding it", async () => {
  const lm = new ScriptedLM(8, [3, 4, 1, 5]);
  const stats = emptyStats();
  const out = await collect(generateTokens(lm, [2, 6, 7], { stopTokens: [1], maxNewTokens: 10 }, stats));
  assert.deepEqual(out, [3, 4]);
  assert.deepEqual(lm.calls, [[2, 6, 7], [3], [4]]);
  assert.equal(stats.finishReason, "stop");
  assert.equal(stats.newTokens, 2);
  assert.equal(stats.promptTokens, 3);
  assert.equal(stats.cache?.length, 5);
});

test("generateTokens respects maxNewTokens and runs no forward pass past the last token", async () => {
  const lm = new ScriptedLM(8, [3, 4, 5, 6, 7, 3, 4]);
  const stats = emptyStats();
  assert.deepEqual(await collect(generateTokens(lm, [2], { maxNewTokens: 3 }, stats)), [3, 4, 5]);
  assert.equal(stats.finishReason, "length");
  assert.equal(lm.calls.length, 3);
  const none = new ScriptedLM(8, [3]);
  assert.deepEqual(await collect(generateTokens(none, [2], { maxNewTokens: 0 })), []);
  await assert.rejects(collect(generateTokens(none, [2], { maxNewTokens: -1 })), /max new tokens/);
  await assert.rejects(collect(generateTokens(none, [2], { maxNewTokens: 1.5 })), /max new tokens/);
});

test("generateTokens ends with 'context' when the cache reaches the context length", async () => {
  const lm = new ScriptedLM(8, [3, 4, 5, 6, 7], 5);
  const stats = emptyStats();
  const out = await collect(generateTokens(lm, [2, 2, 2], { maxNewTokens: 10 }, stats));
  assert.deepEqual(out, [3, 4, 5]);
  assert.equal(stats.finishReason, "context");
  await assert.rejects(
    collect(generateTokens(new ScriptedLM(8, [], 5), [1, 1, 1, 1, 1, 1])),
    /does not fit the context length 5/,
  );
});

test("generateTokens refuses prompt ids outside the vocabulary and an empty prompt", async () => {
  const lm = new ScriptedLM(8, [3]);
  for (const bad of [-1, 8, 100, 2.5, NaN]) {
    await assert.rejects(
      collect(generateTokens(lm, [1, bad])),
      /prompt token .* is outside the vocabulary \(0\.\.7\)/,
    );
  }
  await assert.rejects(collect(generateTokens(lm, [])), /no tokens/);
  assert.equal(lm.calls.length, 0);
});

test("generateTokens with a seed is reproducible and follows the sampling options", async () => {
  const logits = Float32Array.from([0, 0.5, 1, 0.2, 0.9, 0.1, 0.3, 0.7]);
  const run = (seed: number, extra = {}): Promise<number[]> =>
    collect(
      generateTokens(new ScriptedLM(8, [], 64, logits), [0], {
        temperature: 1,
        seed,
        maxNewTokens: 30,
        ...extra,
      }),
    );
  assert.deepEqual(await run(11), await run(11));
  assert.notDeepEqual(await run(11), await run(12));
  for (const t of await run(3, { topK: 2 })) assert.ok(t === 2 || t === 4);
  assert.deepEqual(
    await collect(generateTokens(new ScriptedLM(8, [], 64, logits), [0], { maxNewTokens: 4 })),
    [2, 2, 2, 2],
  );
});

// ---------------------------------------------------------------- generateText

async function text(
  script: string[],
  stopStrings: string[],
  maxNewTokens = 20,
): Promise<{ chunks: string[]; reason: string }> {
  const lm = new ScriptedLM(
    PIECES.length,
    script.map((p) => ID[p]!),
  );
  const stats = emptyStats();
  const chunks = (
    await collect(
      generateText(
        lm,
        new PieceTokenizer(),
        [ID["<s>"]!],
        { stopStrings, maxNewTokens, stopTokens: [1] },
        stats,
      ),
    )
  ).map((c) => c.text);
  return { chunks, reason: stats.finishReason };
}

test("generateText streams the decoded text and ends at the stop token", async () => {
  const r = await text(["Hel", "lo", " wor", "ld", "!", "</s>", "x"], []);
  assert.equal(r.chunks.join(""), "Hello world!");
  assert.equal(r.reason, "stop");
});

test("generateText cuts the text exactly before a stop string inside one token", async () => {
  const r = await text(["Hel", "lo", " wor", "ld", "!", "x"], ["wor"]);
  assert.equal(r.chunks.join(""), "Hello ");
  assert.equal(r.reason, "stop");
});

test("generateText catches a stop string split across two tokens and never emits part of it", async () => {
  const r = await text(["Hel", "lo", "ST", "OP", "x", "x"], ["STOP"]);
  assert.equal(r.chunks.join(""), "Hello");
  assert.equal(r.reason, "stop");
  for (const c of r.chunks) assert.ok(!c.includes("S"), `chunk ${JSON.stringify(c)}`);
  // split differently: "S" + "TOP"
  const s = await text(["x", "S", "TOP", "x"], ["STOP"]);
  assert.equal(s.chunks.join(""), "x");
  // a stop string spanning three tokens, starting mid-token
  const t = await text(["Hel", "lo", " wor", "ld"], ["lo world"]);
  assert.equal(t.chunks.join(""), "Hel");
});

test("generateText releases held-back text when the stop string does not complete", async () => {
  const r = await text(["Hel", "ST", "x", "S", "!", "ST"], ["STOP"], 6);
  assert.equal(r.chunks.join(""), "HelSTxS!ST");
  assert.equal(r.reason, "length");
});

test("generateText picks the earliest of several stop strings", async () => {
  // after "ld" arrives both "ld" and the held-back "wor…" complete; the earlier one ("world") wins
  const r = await text(["Hel", "lo", " wor", "ld", "!"], ["ld", "world"]);
  assert.equal(r.chunks.join(""), "Hello ");
});

test("kthLargest and descending give what a full sort gives (duplicates, -Infinity, zeros, NaN), and top-k / top-p match sort-based filters", () => {
  const r = new Rng(5);
  for (let t = 0; t < 300; t++) {
    const n = 1 + Math.floor(r.next() * (t < 250 ? 40 : 3000));
    const v = Float32Array.from({ length: n }, () => {
      const u = r.next();
      if (u < 0.1) return -Infinity;
      if (u < 0.15) return 0;
      return t % 2 ? Math.floor(r.next() * 6) : r.next() * 20 - 10; // many ties on odd cases
    });
    if (t % 50 === 7) v[Math.floor(r.next() * n)] = NaN;
    const sorted = Float64Array.from(v).sort().reverse();
    const k = 1 + Math.floor(r.next() * Math.min(n, t % 3 === 0 ? 400 : 12));
    assert.equal(Object.is(kthLargest(v, k), sorted[k - 1]), true, `case ${t}: k-th of ${n}`);
    const d = descending(v);
    const walk: number[] = [];
    for (let x = d.next(); x !== undefined; x = d.next()) walk.push(x);
    assert.deepEqual(walk, Array.from(sorted), `case ${t}: order`);
    // the filters against their definitions by sorting
    if (!v.some((x) => Number.isNaN(x)) && v.some((x) => x > -Infinity)) {
      const a = Float32Array.from(v);
      topK(k)(a);
      const cut = sorted[k - 1]!;
      assert.deepEqual(
        Array.from(a),
        Array.from(v, (x) => (x < cut ? -Infinity : x)),
        `case ${t}: top-k`,
      );
      const p = 0.05 + 0.9 * r.next();
      const b = Float32Array.from(v);
      topP(p)(b);
      const probs = softmaxCopy(v);
      const ps = Float64Array.from(probs).sort().reverse();
      let cum = 0;
      let c = 0;
      let ties = 0;
      for (const q of ps) {
        cum += q;
        ties = q === c ? ties + 1 : 1;
        c = q;
        if (cum >= p) break;
      }
      const want = Array.from(v, (x, i) => {
        if (probs[i]! > c) return x;
        if (probs[i] === c && ties > 0) {
          ties--;
          return x;
        }
        return -Infinity;
      });
      assert.deepEqual(Array.from(b), want, `case ${t}: top-p ${p}`);
    }
  }
  assert.throws(() => kthLargest([1, 2], 3), /outside/);
});
