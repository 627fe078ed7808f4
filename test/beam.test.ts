// Beam search and diverse beam search: against exhaustive enumeration on a toy model whose next-token logits
// depend on the whole history held in its KV cache, against greedy, and end to end on stories260K.

import assert from "node:assert/strict";
import { test } from "node:test";
import "../src/backends/reference/index.js";
import { F32KVCache, type KVCache } from "../src/cache/kv-cache.js";
import { beamSearch } from "../src/generation/beam.js";
import { logSoftmax, sequenceScore } from "../src/generation/logprobs.js";
import { lengthNormalized } from "../src/generation/beam-hyps.js";
import { generateTokens } from "../src/generation/generate.js";
import { loadModel } from "../src/models/load.js";
import type { CausalLM } from "../src/models/model.js";
import { Tensor } from "../src/tensor/tensor.js";
import { STORIES_BIN, STORIES_TOK } from "./helpers/paths.js";

const V = 4;
const A = [
  [1.0, 0.2, -0.5, 0.1],
  [0.3, 0.9, 0.4, -0.2],
  [-0.1, 0.6, 0.2, 0.5],
  [0.7, -0.3, 0.8, 0.0],
];
const B = [
  [0.0, 0.45, -0.3, 0.2],
  [0.5, -0.2, 0.35, -0.4],
  [-0.25, 0.1, 0.6, 0.3],
];

/** Next-token logits after `history`: the previous token and the history's sum mod 3 both matter. */
function toyLogits(history: readonly number[]): Float32Array {
  const prev = history.at(-1)!;
  const h = history.reduce((s, x) => s + x, 0) % 3;
  return Float32Array.from({ length: V }, (_, n) => A[prev]![n]! + B[h]![n]!);
}

/** The toy LM reads its history from the cache rows (so a wrongly reordered cache gives wrong logits). */
class ToyLM implements CausalLM {
  readonly architecture = "Toy";
  readonly vocabSize = V;
  readonly contextLength = 64;
  readonly weights = new Map<string, Tensor>();
  readonly config = {};
  readonly calls: number[] = [];
  newCache(): KVCache {
    return new F32KVCache({ nLayers: 1, nKvHeads: 1, headDim: 1, maxLength: this.contextLength });
  }
  forward(ids: readonly number[], cache: KVCache, opts: { allLogits?: boolean } = {}): Tensor {
    this.calls.push(ids.length);
    const x = Tensor.fromArray(Float32Array.from(ids), [ids.length, 1, 1]);
    const rows = cache.update(0, x, x).k.f32();
    cache.commit(ids.length);
    const history = Array.from(rows, Math.round);
    const out: Float32Array[] = [];
    const first = opts.allLogits ? history.length - ids.length : history.length - 1;
    for (let i = first; i < history.length; i++) out.push(toyLogits(history.slice(0, i + 1)));
    const flat = new Float32Array(out.length * V);
    out.forEach((l, i) => flat.set(l, i * V));
    return Tensor.fromArray(flat, [out.length, V]);
  }
}

interface Scored {
  tokens: readonly number[];
  logProb: number;
  score: number;
}

/** Every sequence up to L tokens: ended by `eos` (not kept in tokens) or L tokens long; scored as HF does. */
function enumerate(prompt: number[], L: number, alpha: number, eos?: number): Scored[] {
  const out: Scored[] = [];
  const walk = (tokens: number[], logProb: number): void => {
    if (tokens.length === L) {
      out.push({ tokens, logProb, score: lengthNormalized(logProb, L, alpha) });
      return;
    }
    const lp = logSoftmax(toyLogits([...prompt, ...tokens]));
    for (let t = 0; t < V; t++) {
      if (t === eos) {
        const sum = logProb + lp[t]!;
        out.push({ tokens, logProb: sum, score: lengthNormalized(sum, tokens.length, alpha) });
      } else walk([...tokens, t], logProb + lp[t]!);
    }
  };
  walk([], 0);
  return out.sort((a, b) => b.score - a.score);
}

function assertSame(got: readonly Scored[], want: readonly Scored[], what: string): void {
  assert.equal(got.length, want.length, what);
  got.forEach((g, i) => {
    assert.deepEqual([...g.tokens], want[i]!.tokens, `${what} #${i}`);
    assert.ok(Math.abs(g.logProb - want[i]!.logProb) < 1e-9, `${what} #${i} logProb`);
    assert.ok(Math.abs(g.score - want[i]!.score) < 1e-9, `${what} #${i} score`);
  });
}

test("beams covering the search space give the exhaustive top sequences (no EOS)", () => {
  const prompt = [2, 1];
  const r = beamSearch(new ToyLM(), prompt, { numBeams: 16, maxNewTokens: 3, numReturnSequences: 6 });
  assertSame(r.sequences, enumerate(prompt, 3, 1).slice(0, 6), "L=3");
  assert.ok(r.sequences.every((s) => s.finishReason === "length"));
});

test("with EOS and length penalties the ranking is exhaustive enumeration's, score = sum log p / length^alpha", () => {
  const prompt = [0];
  const lengths: number[] = [];
  for (const alpha of [-1, 0, 1, 2]) {
    const r = beamSearch(new ToyLM(), prompt, {
      numBeams: 108,
      maxNewTokens: 4,
      numReturnSequences: 8,
      lengthPenalty: alpha,
      earlyStopping: "never",
      stopTokens: [3],
    });
    assertSame(r.sequences, enumerate(prompt, 4, alpha, 3).slice(0, 8), `alpha ${alpha}`);
    for (const s of r.sequences) {
      assert.equal(s.score, lengthNormalized(s.logProb, s.tokens.length, alpha));
      assert.equal(s.finishReason, s.tokens.length < 4 ? "stop" : "length");
    }
    lengths.push(r.sequences.reduce((n, s) => n + s.tokens.length, 0));
  }
  // A larger alpha favours longer sequences.
  assert.ok(lengths[0]! < lengths[3]!, `lengths by alpha ${lengths}`);
});

test("num_beams = 1 is greedy search (with and without EOS)", async () => {
  for (const stop of [[], [3]]) {
    const greedy: number[] = [];
    for await (const t of generateTokens(new ToyLM(), [1, 2], {
      maxNewTokens: 12,
      temperature: 0,
      stopTokens: stop,
    }))
      greedy.push(t);
    const r = beamSearch(new ToyLM(), [1, 2], {
      numBeams: 1,
      maxNewTokens: 12,
      earlyStopping: true,
      stopTokens: stop,
    });
    assert.deepEqual([...r.sequences[0]!.tokens], greedy, `stop ${stop}`);
  }
});

test("the prompt runs once; then one token per live beam per step", () => {
  const m = new ToyLM();
  beamSearch(m, [0, 1, 2, 0], { numBeams: 3, maxNewTokens: 5 });
  assert.equal(m.calls[0], 4);
  assert.ok(m.calls.slice(1).every((n) => n === 1));
  assert.equal(m.calls.length, 1 + 3 * 4); // the last step's tokens are never run
});

test("diverse beam search: lambda = 0 with G groups is beam search with numBeams/G, G times over", () => {
  const opts = { maxNewTokens: 5, stopTokens: [3], lengthPenalty: 1 };
  const split = beamSearch(new ToyLM(), [2], { ...opts, numBeams: 2, numReturnSequences: 2 }).sequences;
  const div = beamSearch(new ToyLM(), [2], {
    ...opts,
    numBeams: 6,
    numBeamGroups: 3,
    diversityPenalty: 0,
    numReturnSequences: 6,
  }).sequences;
  assertSame(div, [split[0]!, split[0]!, split[0]!, split[1]!, split[1]!, split[1]!], "G=3");
  // A strong penalty pushes later groups to other first tokens (no EOS here, so every group keeps one).
  const diverse = beamSearch(new ToyLM(), [2], {
    maxNewTokens: 5,
    numBeams: 4,
    numBeamGroups: 4,
    diversityPenalty: 100,
    numReturnSequences: 4,
  }).sequences;
  const firsts = new Set(diverse.map((s) => s.tokens[0] ?? -1));
  assert.equal(firsts.size, 4, `first tokens ${[...firsts]}`);
});

test("beam search refuses bad options with clear errors", () => {
  const m = new ToyLM();
  assert.throws(() => beamSearch(m, [1], { numBeams: 0 }), /num beams/);
  assert.throws(() => beamSearch(m, [1], { numBeams: 4, numBeamGroups: 3 }), /groups/);
  assert.throws(() => beamSearch(m, [1], { numBeams: 2, numReturnSequences: 3 }), /return sequences/);
  assert.throws(() => beamSearch(m, [1], { numBeams: 2, diversityPenalty: -1 }), /diversity/);
  assert.throws(() => beamSearch(m, [1], { numBeams: 2, maxNewTokens: 0 }), /max new tokens/);
  assert.throws(() => beamSearch(m, [9], { numBeams: 2 }), /outside the vocabulary/);
  assert.throws(() => beamSearch(m, [], { numBeams: 2 }), /no tokens/);
});

test("stories260K: beam search is deterministic, scores as recomputed, and beats greedy under the same penalty", async () => {
  const { model, bosId, stopTokens } = await loadModel(STORIES_BIN, { tokenizer: STORIES_TOK });
  const prompt = [bosId!, 403, 407, 261, 378];
  const opts = { numBeams: 4, maxNewTokens: 40, lengthPenalty: 1, stopTokens, numReturnSequences: 2 };
  const a = beamSearch(model, prompt, opts);
  const b = beamSearch(model, prompt, { ...opts, cacheOptions: { kind: "f32" } });
  assert.deepEqual(a.sequences, b.sequences);
  const best = a.sequences[0]!;
  assert.ok(
    best.tokens.length > 0 && best.tokens.every((t) => Number.isInteger(t) && t >= 0 && t < model.vocabSize),
  );
  assert.ok(a.sequences[0]!.score >= a.sequences[1]!.score);
  const stop = best.finishReason === "stop" ? stopTokens[0] : undefined;
  const again = sequenceScore(model, prompt, best.tokens, 1, stop);
  assert.ok(Math.abs(again.logProb - best.logProb) < 1e-3, `${again.logProb} vs ${best.logProb}`);
  const greedy: number[] = [];
  const stats = {
    prefillMs: 0,
    decodeMs: 0,
    promptTokens: 0,
    newTokens: 0,
    finishReason: "length" as const,
    cache: null,
  };
  for await (const t of generateTokens(
    model,
    prompt,
    { maxNewTokens: 40, temperature: 0, stopTokens },
    stats,
  ))
    greedy.push(t);
  const g = sequenceScore(
    model,
    prompt,
    greedy,
    1,
    (stats.finishReason as string) === "stop" ? stopTokens[0] : undefined,
  );
  assert.ok(best.score >= g.score - 1e-9, `beam ${best.score} < greedy ${g.score}`);
});

test("early stopping: true stops once numBeams hypotheses finished, 'never' searches on and scores better", () => {
  const run = (earlyStopping: boolean | "never") => {
    const m = new ToyLM();
    const r = beamSearch(m, [1], { numBeams: 3, maxNewTokens: 10, stopTokens: [1], earlyStopping });
    return { calls: m.calls.length, best: r.sequences[0]! };
  };
  const t = run(true);
  const f = run(false);
  const n = run("never");
  assert.ok(
    t.calls < n.calls && t.calls <= f.calls && f.calls <= n.calls,
    `${t.calls} ${f.calls} ${n.calls}`,
  );
  assert.equal(t.best.finishReason, "stop");
  assert.ok(n.best.score > t.best.score && n.best.score >= f.best.score);
});
