// Speculative decoding (src/generation/speculative*.ts, prompt-lookup.ts, models/quantized-copy.ts): greedy output
// equals plain greedy on stories260K; sampled output has the target's distribution (chi-square against exact
// enumeration on small fake models) while wrong acceptance rules fail the same test; caches roll back exactly.

import assert from "node:assert/strict";
import { test } from "node:test";
import "../src/backends/reference/index.js";
import { F32KVCache, type KVCache } from "../src/cache/kv-cache.js";
import { generateTokens } from "../src/generation/generate.js";
import { lookupContinuation, PromptLookupDrafter } from "../src/generation/prompt-lookup.js";
import { Rng } from "../src/generation/rng.js";
import { processorsFor, type SamplerOptions } from "../src/generation/sampling.js";
import {
  acceptanceRate,
  emptySpeculativeStats,
  generateSpeculative,
  type SpeculativeOptions,
} from "../src/generation/speculative.js";
import { ModelDrafter, type Drafter } from "../src/generation/speculative-draft.js";
import {
  processedProbs,
  residual,
  verifyGreedy,
  verifySampled,
  type AcceptRule,
} from "../src/generation/speculative-verify.js";
import * as fs from "node:fs";
import * as path from "node:path";
import { normalizeHF } from "../src/io/checkpoint.js";
import { readOnnxInitializers } from "../src/io/onnx.js";
import { GPT2LMHeadModel } from "../src/models/gpt2.js";
import { loadModel } from "../src/models/load.js";
import type { CausalLM, ForwardOptions } from "../src/models/model.js";
import { quantizedCopy } from "../src/models/quantized-copy.js";
import { Tensor } from "../src/tensor/tensor.js";
import { SHARED, STORIES_BIN, STORIES_TOK } from "./helpers/paths.js";

// ---------------------------------------------------------------- fake models

/**
 * A causal LM over a tiny vocabulary whose logits are a fixed function of the whole context. Its "KV cache"
 * stores the token ids (one layer, one head of size 1), so trim works as on a real model.
 */
class FakeLM implements CausalLM {
  readonly architecture = "Fake";
  readonly contextLength = 64;
  readonly weights = new Map<string, Tensor>();
  readonly config = {};
  forwards = 0;

  constructor(
    readonly vocabSize: number,
    private readonly fn: (ctx: readonly number[]) => number[],
  ) {}

  newCache(): KVCache {
    return new F32KVCache({ nLayers: 1, nKvHeads: 1, headDim: 1, maxLength: this.contextLength });
  }

  forward(ids: readonly number[], cache: KVCache, opts: ForwardOptions = {}): Tensor {
    this.forwards++;
    const T = ids.length;
    const k = Tensor.fromArray(ids, [T, 1, 1]);
    const all = Array.from(cache.update(0, k, k).k.f32());
    cache.commit(T);
    const rows: number[] = [];
    for (let t = opts.allLogits ? 0 : T - 1; t < T; t++)
      rows.push(...this.logits(all.slice(0, all.length - T + t + 1)));
    return Tensor.fromArray(rows, [rows.length / this.vocabSize, this.vocabSize]);
  }

  logits(ctx: readonly number[]): number[] {
    return this.fn(ctx);
  }
}

const V = 3;
const target = new FakeLM(V, (c) => {
  const a = c[c.length - 1]!;
  const b = c.length > 1 ? c[c.length - 2]! : 0;
  return Array.from({ length: V }, (_, v) => 1.4 * Math.sin(1.3 * v + 0.9 * a + 0.5 * b + 0.37 * c.length));
});
// Deliberately different: prefers other tokens, so acceptance and resampling both matter.
const draft = new FakeLM(V, (c) => {
  const a = c[c.length - 1]!;
  return Array.from({ length: V }, (_, v) => 1.1 * Math.cos(0.8 * v - 1.7 * a + 0.21 * c.length));
});

// ---------------------------------------------------------------- chi-square against exact enumeration

/** Exact probability of each k-token continuation under plain sampling of `m` with `so`. */
function exactDistribution(m: FakeLM, prompt: number[], k: number, so: SamplerOptions): Map<string, number> {
  const chain = processorsFor(so);
  const out = new Map<string, number>();
  const walk = (ctx: number[], seq: number[], prob: number): void => {
    if (seq.length === k) {
      out.set(seq.join(","), prob);
      return;
    }
    const p = processedProbs(Float32Array.from(m.logits(ctx)), chain);
    for (let v = 0; v < p.length; v++) if (p[v]! > 0) walk([...ctx, v], [...seq, v], prob * p[v]!);
  };
  walk(prompt, [], 1);
  return out;
}

/** Upper 0.1% point of chi-square with df degrees of freedom (Wilson–Hilferty; within 0.3% for df >= 5). */
function chiSquareCritical(df: number): number {
  const z = 3.0902;
  const h = 2 / (9 * df);
  return df * (1 - h + z * Math.sqrt(h)) ** 3;
}

/** Pearson's statistic and degrees of freedom; outcomes with expected count < 5 are pooled into one bin. */
function chiSquare(
  counts: Map<string, number>,
  exact: Map<string, number>,
  n: number,
): { stat: number; df: number } {
  let stat = 0;
  let bins = 0;
  let poolObs = 0;
  let poolExp = 0;
  for (const [key, p] of exact) {
    const e = p * n;
    const o = counts.get(key) ?? 0;
    if (e < 5) {
      poolObs += o;
      poolExp += e;
    } else {
      stat += (o - e) ** 2 / e;
      bins++;
    }
  }
  for (const [key, o] of counts) if (!exact.has(key)) poolObs += o; // impossible outcomes
  if (poolExp > 0 || poolObs > 0) {
    stat += poolExp > 0 ? (poolObs - poolExp) ** 2 / poolExp : Infinity;
    bins++;
  }
  return { stat, df: bins - 1 };
}

async function sampleOutcomes(
  n: number,
  k: number,
  prompt: number[],
  makeDrafter: () => Drafter,
  opts: SpeculativeOptions,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let seed = 1; seed <= n; seed++) {
    const seq: number[] = [];
    for await (const t of generateSpeculative(target, prompt, makeDrafter(), {
      ...opts,
      seed,
      maxNewTokens: k,
    }))
      seq.push(t);
    const key = seq.join(",");
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

const K = 3;
const N = 3000;
const PROMPT = [0, 1];

async function chiSquareFor(
  so: SamplerOptions,
  makeDrafter: () => Drafter,
  extra: Partial<SpeculativeOptions> = {},
  prompt = PROMPT,
): Promise<{ stat: number; crit: number }> {
  const exact = exactDistribution(target, prompt, K, so);
  const counts = await sampleOutcomes(N, K, prompt, makeDrafter, { ...so, draftTokens: 2, ...extra });
  const { stat, df } = chiSquare(counts, exact, N);
  return { stat, crit: chiSquareCritical(df) };
}

test("sampled speculative decoding keeps the target's distribution of the first 3 tokens", async () => {
  const so = { temperature: 0.9 };
  const ok = await chiSquareFor(so, () => new ModelDrafter(draft));
  assert.ok(ok.stat < ok.crit, `chi-square ${ok.stat.toFixed(1)} >= ${ok.crit.toFixed(1)}`);
  // With top-k the masked tokens must never appear (the pooled bin of impossible outcomes stays empty).
  const topk = await chiSquareFor({ temperature: 1.2, topK: 2 }, () => new ModelDrafter(draft));
  assert.ok(topk.stat < topk.crit, `top-k: chi-square ${topk.stat.toFixed(1)} >= ${topk.crit.toFixed(1)}`);
});

test("the same chi-square test rejects wrong acceptance rules", async () => {
  const so = { temperature: 0.9 };
  const wrong: Record<string, AcceptRule> = {
    "always accept": () => 1,
    "accept with q/p": (p, q) => (p > 0 ? Math.min(1, q / p) : 1),
    "accept with 0.8 p/q": (p, q) => Math.min(1, (0.8 * p) / q),
  };
  for (const [name, rule] of Object.entries(wrong)) {
    const r = await chiSquareFor(so, () => new ModelDrafter(draft), { acceptRule: rule });
    assert.ok(r.stat > r.crit, `${name}: chi-square ${r.stat.toFixed(1)} <= ${r.crit.toFixed(1)}`);
  }
});

test("prompt lookup (a point-mass draft) keeps the target's distribution; always-accept does not", async () => {
  const prompt = [0, 1, 2, 0, 1, 2, 0, 1];
  const so = { temperature: 1 };
  const ok = await chiSquareFor(so, () => new PromptLookupDrafter({ ngram: 2 }), {}, prompt);
  assert.ok(ok.stat < ok.crit, `chi-square ${ok.stat.toFixed(1)} >= ${ok.crit.toFixed(1)}`);
  const bad = await chiSquareFor(
    so,
    () => new PromptLookupDrafter({ ngram: 2 }),
    { acceptRule: () => 1 },
    prompt,
  );
  assert.ok(
    bad.stat > bad.crit,
    `always accept: chi-square ${bad.stat.toFixed(1)} <= ${bad.crit.toFixed(1)}`,
  );
});

test("on the fake models, one target pass scores every draft, and greedy equals plain greedy", async () => {
  const plain: number[] = [];
  for await (const t of generateTokens(target, PROMPT, { maxNewTokens: 20 })) plain.push(t);
  const stats = emptySpeculativeStats();
  const spec: number[] = [];
  for await (const t of generateSpeculative(
    target,
    PROMPT,
    new ModelDrafter(draft),
    { maxNewTokens: 20, draftTokens: 3 },
    stats,
  ))
    spec.push(t);
  assert.deepEqual(spec, plain);
  assert.equal(stats.rounds + 1, stats.targetForwards); // plus the prefill
  assert.ok(stats.accepted <= stats.drafted);
  assert.equal(stats.newTokens, 20);
  // Every round emits its accepted drafts plus one token.
  assert.equal(stats.accepted + stats.rounds, 20);
});

test("a stop token ends generation and the cache keeps every emitted token, as generateTokens does", async () => {
  const plainStats = { ...emptySpeculativeStats() };
  const plain: number[] = [];
  for await (const t of generateTokens(target, PROMPT, { maxNewTokens: 30, stopTokens: [2] }, plainStats))
    plain.push(t);
  assert.equal(plainStats.finishReason, "stop");
  const stats = emptySpeculativeStats();
  const spec: number[] = [];
  const opts = { maxNewTokens: 30, stopTokens: [2], draftTokens: 4 };
  for await (const t of generateSpeculative(target, PROMPT, new ModelDrafter(draft), opts, stats))
    spec.push(t);
  assert.deepEqual(spec, plain);
  assert.equal(stats.finishReason, "stop");
  assert.equal(stats.cache!.length, plainStats.cache!.length);
});

// ---------------------------------------------------------------- verification pieces

test("verifyGreedy accepts while the draft equals the argmax, then corrects; all accepted gives a bonus", () => {
  const rows = [
    [0, 5, 1],
    [3, 0, 0],
    [0, 0, 9],
  ].map((r) => Float32Array.from(r));
  assert.deepEqual(verifyGreedy(rows, [1, 0]), { accepted: 2, next: 2 });
  assert.deepEqual(verifyGreedy(rows, [1, 2]), { accepted: 1, next: 0 });
  assert.deepEqual(verifyGreedy(rows, [0, 0]), { accepted: 0, next: 1 });
});

test("residual is max(0, p - q); a point-mass q removes the drafted token", () => {
  const p = Float64Array.from([0.5, 0.3, 0.2]);
  assert.deepEqual(
    Array.from(residual(p, Float64Array.from([0.2, 0.6, 0.2]), 1)).map((x) => +x.toFixed(12)),
    [0.3, 0, 0],
  );
  assert.deepEqual(Array.from(residual(p, null, 0)), [0, 0.3, 0.2]);
});

test("verifySampled: p(x) = 0 always rejects, p = q always accepts", () => {
  const rng = new Rng(3);
  const p = Float64Array.from([0, 0.5, 0.5]);
  for (let i = 0; i < 50; i++) {
    const v = verifySampled(() => p, [0], [Float64Array.from([1, 0, 0])], rng);
    assert.equal(v.accepted, 0);
    assert.notEqual(v.next, 0);
    assert.equal(verifySampled(() => p, [1], [p], rng).accepted, 1);
  }
});

test("prompt lookup proposes what followed the earliest match of the longest matching n-gram", () => {
  const h = [5, 6, 7, 8, 9, 1, 6, 7, 3, 6, 7];
  assert.deepEqual(lookupContinuation(h, 3, 2), [8, 9, 1]); // "6 7" first at 1
  assert.deepEqual(lookupContinuation(h, 10, 2), [8, 9, 1, 6, 7, 3, 6, 7]);
  assert.deepEqual(lookupContinuation([1, 2, 3, 4], 3, 3), []);
  assert.deepEqual(lookupContinuation([4, 1, 2, 4], 2, 3), [1, 2]); // falls back to the 1-gram "4"
  assert.deepEqual(lookupContinuation([4, 1, 2, 4], 2, 3, 2), []);
  assert.throws(() => new PromptLookupDrafter({ ngram: 0 }), /n-gram/);
});

test("bad options give clear errors", async () => {
  const run = async (o: SpeculativeOptions, prompt = PROMPT): Promise<void> => {
    for await (const _ of generateSpeculative(target, prompt, new ModelDrafter(draft), o)) void _;
  };
  await assert.rejects(run({ draftTokens: 0 }), /draft tokens must be a positive integer/);
  await assert.rejects(run({ maxNewTokens: -1 }), /max new tokens/);
  await assert.rejects(run({ temperature: -1 }), /temperature/);
  await assert.rejects(run({}, []), /no tokens/);
  await assert.rejects(run({}, [0, 7]), /outside the vocabulary/);
  const used = target.newCache();
  target.forward([0], used);
  await assert.rejects(run({ cache: used }), /empty cache/);
  assert.throws(() => quantizedCopy(target, "q5_0" as "q8_0"), /q8_0, q4_0/);
});

// ---------------------------------------------------------------- stories260K

const storiesPromise = loadModel(STORIES_BIN, { tokenizer: STORIES_TOK });

async function collect(gen: AsyncGenerator<number, unknown>): Promise<number[]> {
  const out: number[] = [];
  for await (const t of gen) out.push(t);
  return out;
}

test("stories260K: greedy speculative (q8_0 and q4_0 drafts, prompt lookup) equals plain greedy", async () => {
  const { model, tokenizer, bosId } = await storiesPromise;
  const prompt = [bosId!, ...tokenizer!.encode("Once upon a time, a little dog")];
  const plain = await collect(generateTokens(model, prompt, { maxNewTokens: 120 }));
  for (const q of ["q8_0", "q4_0"] as const) {
    const stats = emptySpeculativeStats();
    const drafter = new ModelDrafter(quantizedCopy(model, q));
    const spec = await collect(
      generateSpeculative(model, prompt, drafter, { maxNewTokens: 120, draftTokens: 4 }, stats),
    );
    assert.deepEqual(spec, plain, q);
    assert.ok(stats.targetForwards < 120 / 2, `${q}: ${stats.targetForwards} target passes for 120 tokens`);
    assert.ok(acceptanceRate(stats) > 0.3 && stats.accepted <= stats.drafted, q);
  }
  const stats = emptySpeculativeStats();
  const lookup = await collect(
    generateSpeculative(
      model,
      prompt,
      new PromptLookupDrafter({ ngram: 3 }),
      { maxNewTokens: 120, draftTokens: 8 },
      stats,
    ),
  );
  assert.deepEqual(lookup, plain, "prompt lookup");
  assert.ok(stats.drafted > 0);
});

test("stories260K: greedy speculative over a sliding-window cache (ring with rollback slack) equals plain greedy", async () => {
  const { model, tokenizer, bosId } = await storiesPromise;
  const prompt = [bosId!, ...tokenizer!.encode("Once upon a time, a little dog")];
  const cache = (): KVCache => model.newCache({ slidingWindow: 24, rollback: 4 });
  const plain = await collect(
    generateTokens(model, prompt, { maxNewTokens: 100, cache: model.newCache({ slidingWindow: 24 }) }),
  );
  const stats = emptySpeculativeStats();
  const drafter = new ModelDrafter(quantizedCopy(model, "q8_0"), { rollback: 4 });
  const spec = await collect(
    generateSpeculative(model, prompt, drafter, { maxNewTokens: 100, draftTokens: 4, cache: cache() }, stats),
  );
  assert.deepEqual(spec, plain);
  assert.ok(stats.accepted < stats.drafted, "some drafts were rejected, so the ring rolled back");
});

test("stories260K: quantizedCopy re-encodes 2-D weights and stays close to the original", async () => {
  const { model } = await storiesPromise;
  const q = quantizedCopy(model, "q8_0");
  let changed = 0;
  for (const [name, t] of q.weights) {
    const orig = model.weights.get(name)!;
    if (t.dtype === "q8_0") {
      changed++;
      assert.equal(orig.ndim, 2);
      assert.deepEqual(t.shape, orig.shape);
    } else assert.equal(t, orig, `${name} is shared`);
  }
  assert.ok(changed > 10, `${changed} weights quantized`);
  const a = model.forward([1, 400, 30], model.newCache()).f32();
  const b = q.forward([1, 400, 30], q.newCache()).f32();
  let err = 0;
  let mag = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    mag = Math.max(mag, Math.abs(a[i]!));
  }
  assert.ok(err > 0 && err < 0.05 * mag, `max error ${err} of ${mag}`);
});

test("stories260K: after sampled speculative decoding the target cache equals a fresh prefill", async () => {
  const { model, bosId } = await storiesPromise;
  const prompt = [bosId!, 400, 30, 80];
  const cache = model.newCache();
  const stats = emptySpeculativeStats();
  const drafter = new ModelDrafter(quantizedCopy(model, "q4_0"));
  const opts = { maxNewTokens: 60, temperature: 1, seed: 7, draftTokens: 5, cache };
  const out = await collect(generateSpeculative(model, prompt, drafter, opts, stats));
  assert.equal(out.length, 60);
  assert.ok(stats.accepted < stats.drafted, "some drafts were rejected, so the cache was rolled back");
  assert.equal(cache.length, prompt.length + out.length - 1);
  const all = [...prompt, ...out];
  const next = model.forward([out[out.length - 1]!], cache, { allLogits: true }).f32();
  const fresh = model.forward(all, model.newCache()).f32();
  assert.equal(next.length, fresh.length);
  for (let i = 0; i < next.length; i++) assert.ok(Math.abs(next[i]! - fresh[i]!) < 1e-4, `logit ${i}`);
  // The draft's cache also holds only verified tokens.
  assert.ok(drafter.cache.length <= all.length);
});

test("tiny GPT-2: a q8_0 self-draft gives plain greedy's tokens (quantizedCopy is architecture-free)", async () => {
  const fx = JSON.parse(fs.readFileSync("test/fixtures/gpt2-reference.json", "utf8")) as {
    config: Record<string, unknown>;
    weightSources: Record<string, string>;
    cases: { prompt: number[] }[];
  };
  const init = readOnnxInitializers(path.join(SHARED, "models/tiny-random-gpt2-onnx/past.onnx"));
  const hf = new Map<string, Tensor>();
  for (const [name, src] of Object.entries(fx.weightSources))
    if (name !== "lm_head.weight") hf.set(name, init.get(src)!); // tied to wte
  const config = { ...fx.config, architectures: ["GPT2LMHeadModel"], model_type: "gpt2" };
  const model = new GPT2LMHeadModel(config, normalizeHF(config, hf));
  const draftModel = quantizedCopy(model, "q8_0");
  assert.ok([...draftModel.weights.values()].some((t) => t.dtype === "q8_0"));
  const prompt = fx.cases[0]!.prompt;
  const plain = await collect(generateTokens(model, prompt, { maxNewTokens: 30 }));
  const stats = emptySpeculativeStats();
  const spec = await collect(
    generateSpeculative(model, prompt, new ModelDrafter(draftModel), { maxNewTokens: 30 }, stats),
  );
  assert.deepEqual(spec, plain);
  assert.ok(stats.targetForwards < 30);
});
