// One decoderkit run in this process: load, warm up, then time the prompt pass and the greedy decode steps
// (`repeat` times on fresh caches, keeping the fastest of each).

import { emptyStats, generateTokens } from "../generation/generate.js";
import { loadModel } from "../models/load.js";
import { activateBackend, backendLabel, type BackendName } from "../backends/select.js";
import { peakRssBytes, type EngineJob, type EngineTimings } from "./job.js";

export async function runDecoderkit(job: EngineJob): Promise<EngineTimings> {
  const active = await activateBackend(job.backend as BackendName, job.threads);
  const { allocator, threads } = active;
  const loaded = await loadModel(job.modelPath, { allocator });
  const { model } = loaded;
  const greedy = { temperature: 0, stopTokens: [] };

  // Warm-up: a short prompt and two decode steps on a throwaway cache (JIT, first-touch of the weights).
  const warm = job.promptIds.slice(0, Math.min(8, job.promptIds.length));
  for await (const _ of generateTokens(model, warm, { ...greedy, maxNewTokens: 3 })) void _;

  let prefillMs = Infinity;
  let decodeMs = Infinity;
  let tokens: number[] = [];
  for (let r = 0; r < job.repeat; r++) {
    const stats = emptyStats();
    const out: number[] = [];
    const opts = { ...greedy, maxNewTokens: job.decodeTokens + 1 };
    for await (const t of generateTokens(model, job.promptIds, opts, stats)) out.push(t);
    prefillMs = Math.min(prefillMs, stats.prefillMs);
    decodeMs = Math.min(decodeMs, stats.decodeMs);
    if (r === 0) tokens = out;
    stats.cache?.release?.();
  }
  return {
    loadMs: loaded.loadMs,
    prefillMs,
    decodeMs,
    tokens,
    threadsUsed: threads,
    peakRssBytes: peakRssBytes(),
    info: `backend ${backendLabel(active)}, ${threads} thread${threads === 1 ? "" : "s"}`,
  };
}
