// One prefix-reuse bench run in this process (`bench --prefix-reuse`): time to first token of a request whose
// prompt shares a long prefix with the previous request of the same Session (cache/prefix.ts), against the same
// request on a fresh Session; the fastest of `repeat` passes of each after a warm-up.

import { activateBackend, backendLabel, type BackendName } from "../backends/select.js";
import { Session } from "../generation/session.js";
import { loadModel } from "../models/load.js";
import type { CausalLM } from "../models/model.js";
import { peakRssBytes, type EngineJob, type EngineTimings, type PrefixTimings } from "./job.js";

const GREEDY = { temperature: 0, stopTokens: [], maxNewTokens: 1 };

/** Milliseconds until the first new token of `prompt` on `session`, and how many prompt tokens it reused. */
async function firstToken(session: Session, prompt: readonly number[]): Promise<[number, number, number]> {
  const t0 = performance.now();
  const gen = session.generate(prompt, GREEDY);
  const r = await gen.next();
  const ms = performance.now() - t0;
  let reused = 0;
  for (;;) {
    const n = await gen.next();
    if (n.done) {
      reused = n.value.reusedTokens;
      break;
    }
  }
  return [ms, reused, r.done ? -1 : r.value];
}

export async function runPrefix(job: EngineJob): Promise<EngineTimings> {
  const suffix = job.prefixSuffixTokens ?? 16;
  const active = await activateBackend(job.backend as BackendName, job.threads);
  const { allocator, threads } = active;
  const loaded = await loadModel(job.modelPath, { allocator });
  const model: CausalLM = loaded.model;
  const shared = job.promptIds.slice(0, job.promptIds.length - suffix);
  const first = job.promptIds
    .slice(0, shared.length)
    .concat(job.promptIds.slice(-suffix).map((t) => (t + 1) % model.vocabSize));
  const second = job.promptIds;
  const warm = new Session(model);
  await firstToken(warm, second.slice(0, Math.min(8, second.length)));
  let fresh = Infinity;
  let reused = Infinity;
  let reusedTokens = 0;
  let freshToken = -1;
  let reusedToken = -1;
  for (let r = 0; r < job.repeat; r++) {
    const a = new Session(model);
    [fresh, , freshToken] = minFirst(fresh, await firstToken(a, second));
    const b = new Session(model);
    await firstToken(b, first); // the earlier request: same prefix, another ending
    const [ms, n, tok] = await firstToken(b, second);
    if (ms < reused) [reused, reusedTokens, reusedToken] = [ms, n, tok];
  }
  const prefix: PrefixTimings = {
    sharedTokens: shared.length,
    promptTokens: second.length,
    freshFirstTokenMs: fresh,
    reusedFirstTokenMs: reused,
    reusedTokens,
    sameToken: freshToken === reusedToken,
  };
  return {
    loadMs: loaded.loadMs,
    prefillMs: fresh,
    decodeMs: 0,
    tokens: [freshToken],
    threadsUsed: threads,
    peakRssBytes: peakRssBytes(),
    info: `backend ${backendLabel(active)}, ${threads} thread${threads === 1 ? "" : "s"}`,
    prefix,
  };
}

function minFirst(best: number, got: [number, number, number]): [number, number, number] {
  return got[0] < best ? got : [best, got[1], got[2]];
}
