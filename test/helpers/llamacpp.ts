// Live llama.cpp reference for tests (through node-llama-cpp, CPU only): greedy continuations and raw
// next-token logits for any GGUF file, e.g. ones the project writes. Returns null when llama.cpp cannot run here.

import type {
  ControlledEvaluateInputItem,
  Llama,
  LlamaContextSequence,
  LlamaModel,
  Token,
} from "node-llama-cpp";

let llamaPromise: Promise<Llama | null> | undefined;

/** The shared CPU llama.cpp binding, or null when node-llama-cpp or its prebuilt binary cannot load. */
function loadLlama(): Promise<Llama | null> {
  llamaPromise ??= (async () => {
    try {
      const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
      return await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    } catch {
      return null;
    }
  })();
  return llamaPromise;
}

/** Runs `fn` on a fresh one-sequence context of `ggufPath`; everything is disposed afterwards. */
async function withSequence<T>(
  ggufPath: string,
  contextTokens: number,
  fn: (seq: LlamaContextSequence) => Promise<T>,
): Promise<T | null> {
  const llama = await loadLlama();
  if (llama === null) return null;
  // A model llama.cpp rejects is a real failure for the caller, so loading errors propagate.
  const model: LlamaModel = await llama.loadModel({ modelPath: ggufPath, gpuLayers: 0 });
  try {
    const ctx = await model.createContext({
      contextSize: Math.max(256, contextTokens),
      sequences: 1,
      threads: 1,
    });
    try {
      return await fn(ctx.getSequence());
    } finally {
      await ctx.dispose();
    }
  } finally {
    await model.dispose();
  }
}

interface Next {
  token: number;
  logits: Float32Array;
}

/** Feeds `tokens` and returns llama.cpp's greedy pick and raw logits (one per vocabulary entry) after the last. */
async function evalStep(seq: LlamaContextSequence, tokens: readonly number[]): Promise<Next> {
  const last = tokens.length - 1;
  const wantNext = { generateNext: { token: true, logits: true, options: { temperature: 0 } } };
  const items: ControlledEvaluateInputItem[] = tokens.map((t, i) =>
    i === last ? [t as Token, wantNext] : (t as Token),
  );
  const next = (await seq.controlledEvaluate(items))[last]?.next;
  if (next?.logits === undefined || next.token == null) throw new Error("llama.cpp returned no logits");
  const logits = new Float32Array(next.logits.size);
  for (const [tok, v] of next.logits) logits[tok] = v;
  return { token: next.token, logits };
}

/**
 * Greedy (temperature 0, no penalties) continuation of `promptIds` by `nTokens` tokens, as llama.cpp computes it,
 * or null when llama.cpp is unavailable. End-of-sequence tokens do not stop it.
 */
export async function llamaCppGreedy(
  ggufPath: string,
  promptIds: number[],
  nTokens: number,
): Promise<number[] | null> {
  if (promptIds.length === 0) throw new Error("llamaCppGreedy needs at least one prompt token");
  return withSequence(ggufPath, promptIds.length + nTokens, async (seq) => {
    const out: number[] = [];
    let feed: readonly number[] = promptIds;
    while (out.length < nTokens) {
      const { token } = await evalStep(seq, feed);
      out.push(token);
      feed = [token];
    }
    return out;
  });
}

/** Raw logits llama.cpp gives for the token after `promptIds` (length = vocabulary size), or null when unavailable. */
export async function llamaCppLastLogits(
  ggufPath: string,
  promptIds: number[],
): Promise<Float32Array | null> {
  if (promptIds.length === 0) throw new Error("llamaCppLastLogits needs at least one prompt token");
  return withSequence(ggufPath, promptIds.length + 1, async (seq) => (await evalStep(seq, promptIds)).logits);
}

/** Releases the shared binding (optional: node-llama-cpp does not keep the process alive). */
export async function disposeLlamaCpp(): Promise<void> {
  const llama = await llamaPromise;
  llamaPromise = undefined;
  if (llama && !llama.disposed) await llama.dispose();
}
