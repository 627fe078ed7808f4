// The prefix-reuse rows of the benchmark (opt-in, `bench --prefix-reuse`): on each shape, time to first token of a
// request whose prompt shares all but its last 16 tokens with the previous request (Session reuses that prefix's
// KV cache) against the same request on a fresh session, in one child process per shape and thread count.

import { runInChild } from "./child.js";
import { columns } from "./table.js";
import { ensureBenchModel } from "./model-file.js";
import { benchPrompt, type BenchCommon } from "./run.js";
import type { BenchShape } from "./shapes.js";

export const PREFIX_SUFFIX_TOKENS = 16;

/** promptTokens: the whole prompt of the second request (the shared prefix is all but its last 16 tokens), at
 * most the shape's context length - 2. */
export interface PrefixBenchOptions extends BenchCommon<PrefixRow> {
  readonly shapes: readonly BenchShape[];
}

export interface PrefixRow {
  kind: "prefix-reuse";
  shape: string;
  dtype: string;
  backend: string;
  threads: number;
  threads_used: number;
  prompt_tokens: number;
  shared_tokens: number;
  reused_tokens: number;
  fresh_first_token_ms: number;
  reused_first_token_ms: number;
  /** fresh / reused time to first token. */
  saving: number;
  same_first_token: boolean;
}

const r2 = (x: number): number => Math.round(x * 100) / 100;

export async function runPrefixBench(o: PrefixBenchOptions): Promise<PrefixRow[]> {
  const say = o.onProgress ?? ((): void => {});
  const rows: PrefixRow[] = [];
  for (const shape of o.shapes) {
    const promptTokens = Math.min(o.promptTokens, shape.ctx - 2); // a short context caps the prompt
    if (promptTokens <= PREFIX_SUFFIX_TOKENS)
      throw new Error(`${shape.name}: the prompt must be longer than ${PREFIX_SUFFIX_TOKENS} tokens`);
    const file = ensureBenchModel(shape, { cacheDir: o.cacheDir, seed: o.seed, vocabPath: o.vocabPath });
    const promptIds = benchPrompt(promptTokens, shape.vocab, o.seed);
    for (const threads of o.threads) {
      say(`${shape.name} threads=${threads}: prefix reuse (${promptTokens}-token prompt)`);
      const res = await runInChild({
        engine: "prefix",
        modelPath: file.path,
        promptIds,
        decodeTokens: 0,
        threads,
        repeat: o.repeat ?? 1,
        backend: o.backend,
        prefixSuffixTokens: PREFIX_SUFFIX_TOKENS,
      });
      if (!res.ok) throw new Error(`prefix reuse on ${shape.name}: ${res.error}`);
      const p = res.timings.prefix!;
      const row: PrefixRow = {
        kind: "prefix-reuse",
        shape: shape.name,
        dtype: shape.dtype,
        backend: o.backend,
        threads,
        threads_used: res.timings.threadsUsed,
        prompt_tokens: p.promptTokens,
        shared_tokens: p.sharedTokens,
        reused_tokens: p.reusedTokens,
        fresh_first_token_ms: r2(p.freshFirstTokenMs),
        reused_first_token_ms: r2(p.reusedFirstTokenMs),
        saving: Math.round((p.freshFirstTokenMs / p.reusedFirstTokenMs) * 100) / 100,
        same_first_token: p.sameToken,
      };
      o.onRow?.(row);
      rows.push(row);
    }
  }
  return rows;
}

export function formatPrefixTable(rows: readonly PrefixRow[]): string {
  if (!rows.length) return "";
  const head = [
    "shape",
    "threads",
    "prompt",
    "reused",
    "fresh TTFT ms",
    "reused TTFT ms",
    "saving",
    "same token",
  ];
  const body = rows.map((r) => [
    r.shape,
    String(r.threads_used),
    String(r.prompt_tokens),
    String(r.reused_tokens),
    r.fresh_first_token_ms.toFixed(1),
    r.reused_first_token_ms.toFixed(1),
    `${r.saving.toFixed(1)}x`,
    r.same_first_token ? "yes" : "no",
  ]);
  return [
    "",
    `prefix reuse (a Session's second request shares all but its last ${PREFIX_SUFFIX_TOKENS} prompt tokens with ` +
      `the first; TTFT = time to the first new token, fresh = the same request on a new session):`,
    "",
    ...columns(head, body, 1),
    "",
  ].join("\n");
}
