// Argument checks shared by the decoding strategies (the same messages generateTokens gives).

import type { CausalLM } from "../models/model.js";

export function checkPrompt(model: CausalLM, promptIds: readonly number[], cacheLength = 0): void {
  if (promptIds.length === 0) throw new Error("generate: the prompt has no tokens");
  for (const id of promptIds) {
    if (!Number.isInteger(id) || id < 0 || id >= model.vocabSize) {
      throw new Error(`generate: prompt token ${id} is outside the vocabulary (0..${model.vocabSize - 1})`);
    }
  }
  if (cacheLength + promptIds.length > model.contextLength) {
    throw new Error(
      `the prompt (${promptIds.length} tokens) does not fit the context length ${model.contextLength}`,
    );
  }
}

export function checkMaxNewTokens(max: number): number {
  if (!Number.isInteger(max) || max < 0)
    throw new Error(`max new tokens must be a non-negative integer, got ${max}`);
  return max;
}
