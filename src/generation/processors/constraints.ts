// Hard constraints on the next token, as Hugging Face's processors define them: no repeated n-gram (Paulus et
// al. 2018), banned multi-token sequences, a minimum length (EOS masked), forced first/last tokens, logit bias.

import { checkTokenId, fullSequence, type ContextProcessor } from "./context.js";

function maskAllBut(l: Float32Array, keep: number): void {
  if (keep >= l.length)
    throw new Error(`forced token ${keep} is outside the vocabulary (0..${l.length - 1})`);
  for (let i = 0; i < l.length; i++) if (i !== keep) l[i] = -Infinity;
}

/** Bans every token that would complete an n-gram already present in prompt + output. */
export function noRepeatNgram(n: number): ContextProcessor {
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`no-repeat n-gram size must be a positive integer, got ${n}`);
  return (l, ctx) => {
    const seq = fullSequence(ctx);
    const start = seq.length - (n - 1); // the current prefix is seq[start..]
    if (start < 0) return;
    for (let i = 0; i + n <= seq.length; i++) {
      let same = true;
      for (let j = 0; j < n - 1 && same; j++) same = seq[i + j] === seq[start + j];
      if (same && seq[i + n - 1]! < l.length) l[seq[i + n - 1]!] = -Infinity;
    }
  };
}

/** Bans the last token of each sequence when the tokens before it end prompt + output (single tokens always). */
export function badWords(sequences: readonly (readonly number[])[]): ContextProcessor {
  for (const s of sequences) {
    if (s.length === 0) throw new Error("bad words: a banned sequence is empty");
    for (const id of s) checkTokenId(id, "bad words");
  }
  return (l, ctx) => {
    const seq = fullSequence(ctx);
    for (const s of sequences) {
      const k = s.length - 1;
      if (k > seq.length) continue;
      let match = true;
      for (let j = 0; j < k && match; j++) match = seq[seq.length - k + j] === s[j];
      if (match && s[k]! < l.length) l[s[k]!] = -Infinity;
    }
  };
}

/** Masks the end-of-sequence tokens until `min` tokens have been generated. */
export function minNewTokens(min: number, eos: readonly number[]): ContextProcessor {
  if (!Number.isInteger(min) || min < 0)
    throw new Error(`min new tokens must be a non-negative integer, got ${min}`);
  for (const id of eos) checkTokenId(id, "min new tokens: EOS");
  return (l, ctx) => {
    if (ctx.generated.length >= min) return;
    for (const id of eos) if (id < l.length) l[id] = -Infinity;
  };
}

/** Forces `id` as the first generated token. */
export function forcedBos(id: number): ContextProcessor {
  checkTokenId(id, "forced BOS");
  return (l, ctx) => {
    if (ctx.generated.length === 0) maskAllBut(l, id);
  };
}

/** Forces `id` as the token generated at step `lastStep` (the last one the budget allows). */
export function forcedEos(id: number, lastStep: number): ContextProcessor {
  checkTokenId(id, "forced EOS");
  return (l, ctx) => {
    if (ctx.generated.length === lastStep) maskAllBut(l, id);
  };
}

/** Adds bias[id] to logit[id] (OpenAI's logit_bias; -Infinity bans a token). */
export function logitBias(bias: ReadonlyMap<number, number>): ContextProcessor {
  for (const [id, b] of bias) {
    checkTokenId(id, "logit bias");
    if (Number.isNaN(b) || b === Infinity)
      throw new Error(`logit bias for token ${id} must be a number, got ${b}`);
  }
  return (l) => {
    for (const [id, b] of bias) {
      if (id >= l.length)
        throw new Error(`logit bias: token ${id} is outside the vocabulary (0..${l.length - 1})`);
      l[id]! += b;
    }
  };
}
