// What a context-aware logits processor sees besides the logits: the prompt and the tokens generated so far.

export interface DecodeContext {
  readonly promptIds: readonly number[];
  /** Tokens generated so far; its length is the step (0 for the first new token). */
  readonly generated: readonly number[];
}

/** Rewrites a logits row in place given the decoding context (masked entries become -Infinity). */
export type ContextProcessor = (logits: Float32Array, ctx: DecodeContext) => void;

/** Every id of the prompt followed by the generated ids. */
export function fullSequence(ctx: DecodeContext): number[] {
  return [...ctx.promptIds, ...ctx.generated];
}

export function checkTokenId(id: number, what: string): void {
  if (!Number.isSafeInteger(id) || id < 0) throw new Error(`${what}: ${id} is not a token id`);
}
