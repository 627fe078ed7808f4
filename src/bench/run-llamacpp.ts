// One llama.cpp run in this process through node-llama-cpp (CPU, prebuilt binary only): load, warm up, then
// time the batched prompt pass and the greedy single-token steps (`repeat` times, keeping the fastest of each). node-llama-cpp is a devDependency, so it is
// imported at run time and its absence is reported rather than thrown.

import type { ControlledEvaluateInputItem, Llama, LlamaContextSequence, Token } from "node-llama-cpp";
import { peakRssBytes, type EngineJob, type EngineTimings } from "./job.js";

/** node-llama-cpp or its binary is missing (the bench then reports decoderkit alone). */
export class LlamaCppUnavailable extends Error {
  readonly unavailable = true;
}

async function loadLlama(): Promise<Llama> {
  let mod: typeof import("node-llama-cpp");
  try {
    mod = await import("node-llama-cpp");
  } catch (e) {
    throw new LlamaCppUnavailable(
      `node-llama-cpp cannot be imported (${(e as Error).message.split("\n")[0]})`,
    );
  }
  try {
    // maxThreads 0: a context's `threads` is then exactly the number used.
    return await mod.getLlama({
      gpu: false,
      build: "never",
      logLevel: mod.LlamaLogLevel.error,
      maxThreads: 0,
    });
  } catch (e) {
    throw new LlamaCppUnavailable(`no usable llama.cpp binary (${(e as Error).message.split("\n")[0]})`);
  }
}

const GREEDY = { generateNext: { token: true, options: { temperature: 0 } } } as const;

/** Feeds `tokens` as one batch and returns the greedy pick after the last. */
async function step(seq: LlamaContextSequence, tokens: readonly number[]): Promise<number> {
  const last = tokens.length - 1;
  const items: ControlledEvaluateInputItem[] = tokens.map((t, i) =>
    i === last ? [t as Token, GREEDY] : (t as Token),
  );
  const next = (await seq.controlledEvaluate(items))[last]?.next.token;
  if (next == null) throw new Error("llama.cpp returned no token");
  return next;
}

export async function runLlamaCpp(job: EngineJob): Promise<EngineTimings> {
  const llama = await loadLlama();
  const t0 = performance.now();
  const model = await llama.loadModel({ modelPath: job.modelPath, gpuLayers: 0 });
  const need = job.promptIds.length + job.decodeTokens + 1;
  const ctx = await model.createContext({
    contextSize: Math.max(256, need),
    batchSize: Math.max(512, job.promptIds.length),
    sequences: 1,
    threads: job.threads,
  });
  const loadMs = performance.now() - t0;
  const seq = ctx.getSequence();

  const warm = job.promptIds.slice(0, Math.min(8, job.promptIds.length));
  let tok = await step(seq, warm);
  for (let i = 0; i < 2; i++) tok = await step(seq, [tok]);
  await seq.clearHistory();

  let prefillMs = Infinity;
  let decodeMs = Infinity;
  let tokens: number[] = [];
  for (let r = 0; r < job.repeat; r++) {
    if (r > 0) await seq.clearHistory();
    const out: number[] = [];
    let t = performance.now();
    out.push(await step(seq, job.promptIds));
    prefillMs = Math.min(prefillMs, performance.now() - t);
    t = performance.now();
    for (let i = 0; i < job.decodeTokens; i++) out.push(await step(seq, [out[out.length - 1]!]));
    decodeMs = Math.min(decodeMs, performance.now() - t);
    if (r === 0) tokens = out;
  }

  const threadsUsed = ctx.currentThreads;
  const release = llama.llamaCppRelease.release;
  await ctx.dispose();
  await model.dispose();
  await llama.dispose();
  return {
    loadMs,
    prefillMs,
    decodeMs,
    tokens,
    threadsUsed,
    peakRssBytes: peakRssBytes(),
    info: `llama.cpp ${release}`,
  };
}
