// N samples of one prompt in lockstep (for MBR): the prompt runs once, its cache is cloned per sample, and each
// step advances every unfinished sample in one batched forward (model.forwardBatch). Sample i draws exactly what
// generateTokens with seed + i draws (same sampler, same stop / length / context rules) when the batched logits
// equal the single ones, which they do on the reference backend.

import type { KVCache } from "../cache/kv-cache.js";
import { forwardEach, type CausalLM } from "../models/model.js";
import { checkMaxNewTokens, checkPrompt } from "./checks.js";
import type { FinishReason, GenerateOptions } from "./generate.js";
import { Rng } from "./rng.js";
import { makeSampler } from "./sampling.js";

export interface Sample {
  readonly tokens: number[];
  finishReason: FinishReason;
  readonly cache: KVCache;
}

export interface SampleManyResult {
  readonly samples: Sample[];
  readonly prefillMs: number;
  readonly decodeMs: number;
}

/** True when sampleMany can run these options on this model (else draw the samples one after another). */
export function canSampleMany(model: CausalLM, opts: GenerateOptions): boolean {
  return model.forwardBatch !== undefined && !opts.cache && !opts.contextShift;
}

/** n samples, sample i seeded with seed + i; every sample keeps its own cache (returned). */
export function sampleMany(
  model: CausalLM,
  promptIds: readonly number[],
  n: number,
  opts: GenerateOptions,
): SampleManyResult {
  if (!Number.isInteger(n) || n < 1) throw new Error(`samples must be a positive integer, got ${n}`);
  checkPrompt(model, promptIds);
  const max = checkMaxNewTokens(opts.maxNewTokens ?? 256);
  const stop = new Set(opts.stopTokens ?? []);
  const seed = opts.seed ?? 0;
  let t0 = performance.now();
  const first = model.newCache();
  const logits0 = model.forward(promptIds, first).f32().slice();
  const prefillMs = performance.now() - t0;
  t0 = performance.now();
  const caches = [first];
  for (let i = 1; i < n; i++) {
    if (!first.clone) throw new Error("sampleMany: this cache cannot be cloned");
    caches.push(first.clone());
  }
  const state = caches.map((cache, i) => ({
    sample: { tokens: [] as number[], finishReason: "length" as FinishReason, cache },
    pick: makeSampler({ ...opts, eosTokens: opts.eosTokens ?? opts.stopTokens }, new Rng((seed + i) >>> 0)),
    logits: logits0.slice() as Float32Array,
  }));
  let live = max > 0 ? state : [];
  for (let step = 0; live.length > 0; step++) {
    const next: typeof live = [];
    const ids: number[] = [];
    for (const s of live) {
      const tok = s.pick(s.logits, { promptIds, generated: s.sample.tokens });
      if (stop.has(tok)) {
        s.sample.finishReason = "stop";
        continue;
      }
      s.sample.tokens.push(tok);
      if (step === max - 1) continue; // "length"
      if (!s.sample.cache.evicts && s.sample.cache.length >= model.contextLength) {
        s.sample.finishReason = "context";
        continue;
      }
      next.push(s);
      ids.push(tok);
    }
    const outs = forwardEach(
      model,
      next.map((s, i) => ({ ids: [ids[i]!], cache: s.sample.cache })),
    );
    next.forEach((s, i) => (s.logits = outs[i]!));
    live = next;
  }
  return { samples: state.map((s) => s.sample), prefillMs, decodeMs: performance.now() - t0 };
}
