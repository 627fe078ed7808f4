// One speculative-decoding bench run in this process: the model decodes greedily on its own, then with a draft
// that is its own in-memory Q8_0/Q4_0 copy (self-speculative), then with prompt lookup (no draft model), all
// after a warm-up; the fastest of `repeat` passes of each.

import { activateBackend, type BackendName } from "../backends/select.js";
import { emptyStats, generateTokens } from "../generation/generate.js";
import { PromptLookupDrafter } from "../generation/prompt-lookup.js";
import { emptySpeculativeStats, generateSpeculative } from "../generation/speculative.js";
import { ModelDrafter, type Drafter } from "../generation/speculative-draft.js";
import { loadModel } from "../models/load.js";
import type { CausalLM } from "../models/model.js";
import { isCopyQuant, quantizedCopy } from "../models/quantized-copy.js";
import { peakRssBytes, type EngineJob, type EngineTimings, type SpeculativeTimings } from "./job.js";

const GREEDY = { temperature: 0, stopTokens: [] };

/** One timed greedy speculative decode of decodeTokens + 1 tokens. */
async function timeSpeculative(
  model: CausalLM,
  job: EngineJob,
  draft: string,
  drafter: Drafter,
  draftTokens: number,
  buildMs: number,
): Promise<SpeculativeTimings> {
  const s = emptySpeculativeStats();
  const tokens: number[] = [];
  const opts = { ...GREEDY, maxNewTokens: job.decodeTokens + 1, draftTokens };
  for await (const t of generateSpeculative(model, job.promptIds, drafter, opts, s)) tokens.push(t);
  s.cache?.release?.();
  if (drafter instanceof ModelDrafter) drafter.cache.release?.();
  const { decodeMs, drafted, accepted, targetForwards, draftForwards, rounds, draftMs, verifyMs } = s;
  return {
    ...{ draft, draftTokens, decodeMs, tokens, drafted, accepted, targetForwards, draftForwards },
    ...{ rounds, draftMs, verifyMs, draftBuildMs: buildMs },
  };
}

export async function runSpeculative(job: EngineJob): Promise<EngineTimings> {
  const quant = job.draftQuant ?? "q8_0";
  if (!isCopyQuant(quant)) throw new Error(`draft quant must be q8_0 or q4_0, got ${quant}`);
  const draftTokens = job.draftTokens ?? 3;
  const { allocator, threads } = await activateBackend(job.backend as BackendName, job.threads);
  const loaded = await loadModel(job.modelPath, { allocator });
  const { model } = loaded;
  const t0 = performance.now();
  const draft = quantizedCopy(model, quant, { allocator });
  const buildMs = performance.now() - t0;

  const warm = job.promptIds.slice(0, Math.min(8, job.promptIds.length));
  for await (const _ of generateTokens(model, warm, { ...GREEDY, maxNewTokens: 3 })) void _;
  const warmOpts = { ...GREEDY, maxNewTokens: 2 * draftTokens + 2, draftTokens };
  for await (const _ of generateSpeculative(model, warm, new ModelDrafter(draft), warmOpts)) void _;

  let prefillMs = Infinity;
  let decodeMs = Infinity;
  let tokens: number[] = [];
  const best: SpeculativeTimings[] = [];
  const keep = (i: number, t: SpeculativeTimings): void => {
    if (!best[i] || t.decodeMs < best[i]!.decodeMs) best[i] = t;
  };
  for (let r = 0; r < job.repeat; r++) {
    const stats = emptyStats();
    const out: number[] = [];
    const opts = { ...GREEDY, maxNewTokens: job.decodeTokens + 1 };
    for await (const t of generateTokens(model, job.promptIds, opts, stats)) out.push(t);
    prefillMs = Math.min(prefillMs, stats.prefillMs);
    decodeMs = Math.min(decodeMs, stats.decodeMs);
    if (r === 0) tokens = out;
    stats.cache?.release?.();
    keep(0, await timeSpeculative(model, job, quant, new ModelDrafter(draft), draftTokens, buildMs));
    keep(1, await timeSpeculative(model, job, "prompt-lookup", new PromptLookupDrafter(), draftTokens, 0));
  }
  return {
    loadMs: loaded.loadMs,
    prefillMs,
    decodeMs,
    tokens,
    threadsUsed: threads,
    peakRssBytes: peakRssBytes(),
    info: `backend ${job.backend}, ${threads} thread${threads === 1 ? "" : "s"}`,
    speculative: best,
  };
}
