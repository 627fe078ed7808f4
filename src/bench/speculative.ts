// The speculative row of the benchmark (opt-in, `bench --speculative`): the random-weight 110M-shape model in
// f32 decodes greedily on its own and with its own in-memory Q8_0/Q4_0 copy as the draft, in one child process.
// Greedy only: random weights give flat distributions, so sampled acceptance would say nothing about real models.

import { runInChild } from "./child.js";
import { columns } from "./table.js";
import { ensureBenchModel } from "./model-file.js";
import { benchPrompt, type BenchCommon } from "./run.js";
import { SHAPES, type BenchShape } from "./shapes.js";

export const SPECULATIVE_SHAPE = "110m-f32";

export interface SpeculativeBenchOptions extends BenchCommon<SpeculativeRow> {
  /** Default SPECULATIVE_SHAPE (tests pass the tiny one). */
  readonly shape?: BenchShape;
  readonly decodeTokens: number;
  readonly draftQuant: string;
  readonly draftTokens: number;
}

export interface SpeculativeRow {
  kind: "speculative";
  shape: string;
  dtype: string;
  /** The drafter: the target's own in-memory q8_0 / q4_0 copy, or "prompt-lookup" (no draft model). */
  draft: string;
  draft_tokens: number;
  backend: string;
  threads: number;
  threads_used: number;
  prompt_tokens: number;
  decode_tokens: number;
  /** Plain greedy: decode_tokens single-token steps after the prompt pass. */
  plain_decode_tok_s: number;
  /** Speculative greedy: all decode_tokens + 1 tokens after the prompt pass (which leaves out the last prompt token). */
  speculative_decode_tok_s: number;
  speedup: number;
  acceptance_rate: number;
  drafted: number;
  accepted: number;
  target_forwards: number;
  draft_forwards: number;
  draft_build_ms: number;
  /** Mean ms of one plain decode step; per speculative round, of drafting and of the target's verification pass. */
  plain_step_ms: number;
  draft_ms_per_round: number;
  verify_ms_per_round: number;
  /** Leading tokens on which speculative and plain greedy agree, out of compared_tokens. */
  agree_tokens: number;
  compared_tokens: number;
}

const r2 = (x: number): number => Math.round(x * 100) / 100;

function leadingAgreement(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

export async function runSpeculativeBench(o: SpeculativeBenchOptions): Promise<SpeculativeRow[]> {
  const say = o.onProgress ?? ((): void => {});
  const shape = o.shape ?? SHAPES.find((s) => s.name === SPECULATIVE_SHAPE)!;
  if (o.promptTokens + o.decodeTokens + 1 > shape.ctx)
    throw new Error(`${shape.name}: prompt + decode tokens exceed its context length ${shape.ctx}`);
  const file = ensureBenchModel(shape, { cacheDir: o.cacheDir, seed: o.seed, vocabPath: o.vocabPath });
  say(
    file.created ? `wrote ${file.path} (${(file.bytes / 1e6).toFixed(1)} MB)` : `using cached ${file.path}`,
  );
  const promptIds = benchPrompt(o.promptTokens, shape.vocab, o.seed);
  const rows: SpeculativeRow[] = [];
  for (const threads of o.threads) {
    say(
      `${shape.name} threads=${threads}: plain and speculative greedy (draft ${o.draftQuant} x${o.draftTokens})`,
    );
    const res = await runInChild({
      engine: "speculative",
      modelPath: file.path,
      promptIds,
      decodeTokens: o.decodeTokens,
      threads,
      repeat: o.repeat ?? 1,
      backend: o.backend,
      draftQuant: o.draftQuant,
      draftTokens: o.draftTokens,
    });
    if (!res.ok) throw new Error(`speculative on ${shape.name}: ${res.error}`);
    const t = res.timings;
    for (const s of t.speculative ?? []) {
      const plain = o.decodeTokens / (t.decodeMs / 1000);
      const spec = (o.decodeTokens + 1) / (s.decodeMs / 1000);
      const row: SpeculativeRow = {
        kind: "speculative",
        shape: shape.name,
        dtype: shape.dtype,
        draft: s.draft,
        draft_tokens: s.draftTokens,
        backend: o.backend,
        threads,
        threads_used: t.threadsUsed,
        prompt_tokens: o.promptTokens,
        decode_tokens: o.decodeTokens,
        plain_decode_tok_s: r2(plain),
        speculative_decode_tok_s: r2(spec),
        speedup: Math.round((spec / plain) * 1000) / 1000,
        acceptance_rate: s.drafted ? Math.round((s.accepted / s.drafted) * 1000) / 1000 : 0,
        drafted: s.drafted,
        accepted: s.accepted,
        target_forwards: s.targetForwards,
        draft_forwards: s.draftForwards,
        draft_build_ms: r2(s.draftBuildMs),
        plain_step_ms: r2(t.decodeMs / Math.max(1, o.decodeTokens)),
        draft_ms_per_round: r2(s.draftMs / Math.max(1, s.rounds)),
        verify_ms_per_round: r2(s.verifyMs / Math.max(1, s.rounds)),
        agree_tokens: leadingAgreement(s.tokens, t.tokens),
        compared_tokens: o.decodeTokens + 1,
      };
      o.onRow?.(row);
      rows.push(row);
    }
  }
  return rows;
}

export function formatSpeculativeTable(rows: readonly SpeculativeRow[]): string {
  if (!rows.length) return "";
  const r0 = rows[0]!;
  const head = [
    "shape",
    "draft",
    "threads",
    "plain tok/s",
    "spec tok/s",
    "speed-up",
    "accept",
    "target passes",
    "step ms",
    "draft ms",
    "verify ms",
    "agree",
  ];
  const body = rows.map((r) => [
    `${r.shape}`,
    `${r.draft} x${r.draft_tokens}`,
    String(r.threads_used),
    r.plain_decode_tok_s.toFixed(1),
    r.speculative_decode_tok_s.toFixed(1),
    `${r.speedup.toFixed(2)}x`,
    `${(r.acceptance_rate * 100).toFixed(1)}%`,
    `${r.target_forwards}`,
    r.plain_step_ms.toFixed(1),
    r.draft_ms_per_round.toFixed(1),
    r.verify_ms_per_round.toFixed(1),
    `${r.agree_tokens}/${r.compared_tokens}`,
  ]);
  return [
    "",
    `speculative decoding (greedy, as random weights give flat distributions; target = the random ${r0.shape} ` +
      `model; draft = its own in-memory q8_0/q4_0 copy, or prompt lookup (no draft model); xN = tokens drafted per ` +
      `target pass; ${r0.decode_tokens + 1} tokens after a ${r0.prompt_tokens}-token prompt; step ms = mean plain ` +
      `decode step; draft / verify ms = mean per speculative round; agree = leading tokens equal to plain greedy):`,
    "",
    ...columns(head, body, 2),
    "",
  ].join("\n");
}
