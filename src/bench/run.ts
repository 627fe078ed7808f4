// The benchmark: for each shape, a cached random-weight GGUF; for each thread count, decoderkit and llama.cpp
// each run the same prompt and greedy decode in their own child process. One row per (shape, threads).

import { Rng } from "../generation/rng.js";
import { runInChild } from "./child.js";
import type { EngineJob, EngineName, EngineResult, EngineTimings } from "./job.js";
import { ensureBenchModel } from "./model-file.js";
import { paramCount, type BenchShape } from "./shapes.js";

/** What every benchmark part takes: thread counts, the backend, where models are kept, and the reporting hooks. */
export interface BenchCommon<Row> {
  readonly threads: readonly number[];
  /** Prompt length including BOS. */
  readonly promptTokens: number;
  /** Timed passes per engine run (after one warm-up); the fastest is reported. Default 1. */
  readonly repeat?: number;
  readonly backend: string;
  readonly cacheDir: string;
  readonly vocabPath: string;
  readonly seed: number;
  /** Progress lines (model generation, each engine run). */
  readonly onProgress?: (line: string) => void;
  readonly onRow?: (row: Row) => void;
}

export interface BenchOptions extends BenchCommon<BenchRow> {
  readonly shapes: readonly BenchShape[];
  readonly decodeTokens: number;
  /** Runs of each engine's process, alternating between the engines; each one's fastest is kept. Default 1. */
  readonly rounds?: number;
}

export interface BenchRow {
  shape: string;
  model: string;
  dtype: string;
  params: number;
  file_bytes: number;
  backend: string;
  threads: number;
  prompt_tokens: number;
  decode_tokens: number;
  repeat: number;
  decoderkit_threads_used: number;
  decoderkit_load_ms: number;
  decoderkit_prefill_ms: number;
  decoderkit_decode_ms: number;
  decoderkit_prefill_tok_s: number;
  decoderkit_decode_tok_s: number;
  decoderkit_peak_rss_bytes: number;
  llamacpp_threads_used: number | null;
  llamacpp_load_ms: number | null;
  llamacpp_prefill_ms: number | null;
  llamacpp_decode_ms: number | null;
  llamacpp_prefill_tok_s: number | null;
  llamacpp_decode_tok_s: number | null;
  llamacpp_peak_rss_bytes: number | null;
  /** Why there are no llama.cpp figures (null when there are). */
  llamacpp_error: string | null;
  llamacpp_version: string | null;
  /** decoderkit / llama.cpp throughput (1 = same speed). */
  prefill_ratio: number | null;
  decode_ratio: number | null;
  /** Leading greedy tokens on which the engines agree, out of `compared_tokens`. */
  agree_tokens: number | null;
  compared_tokens: number;
}

/** BOS (id 1) followed by fixed pseudo-random ids from the ordinary part of the vocabulary. */
export function benchPrompt(n: number, vocab: number, seed: number): number[] {
  const rng = new Rng(seed ^ 0x5eed);
  const ids = [1];
  while (ids.length < n) ids.push(3 + (rng.nextU32() % (vocab - 3)));
  return ids;
}

function leadingAgreement(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

const r2 = (x: number): number => Math.round(x * 100) / 100;
const tokS = (n: number, ms: number): number => r2(n / (ms / 1000));

export async function runBench(o: BenchOptions): Promise<BenchRow[]> {
  const say = o.onProgress ?? ((): void => {});
  const rows: BenchRow[] = [];
  let llamaMissing: string | null = null;
  for (const shape of o.shapes) {
    checkFits(shape, o.promptTokens, o.decodeTokens);
    const file = ensureBenchModel(shape, { cacheDir: o.cacheDir, seed: o.seed, vocabPath: o.vocabPath });
    say(
      file.created
        ? `wrote ${file.path} (${(file.bytes / 1e6).toFixed(1)} MB, ${(file.ms / 1000).toFixed(1)} s)`
        : `using cached ${file.path}`,
    );
    const promptIds = benchPrompt(o.promptTokens, shape.vocab, o.seed);
    for (const threads of o.threads) {
      const job = (engine: EngineName): EngineJob => ({
        engine,
        modelPath: file.path,
        promptIds,
        decodeTokens: o.decodeTokens,
        threads,
        repeat: o.repeat ?? 1,
        backend: o.backend,
      });
      const rounds = o.rounds ?? 1;
      let dkBest: EngineTimings | null = null;
      let ll: EngineResult = { ok: false, unavailable: true, error: llamaMissing ?? "" };
      for (let round = 1; round <= rounds; round++) {
        const of = rounds > 1 ? ` (round ${round} of ${rounds})` : "";
        say(`${shape.name} threads=${threads}: decoderkit (${o.backend})${of}`);
        const dk = await runInChild(job("decoderkit"));
        if (!dk.ok) throw new Error(`decoderkit on ${shape.name}: ${dk.error}`);
        dkBest = fastest(dkBest, dk.timings);
        if (llamaMissing === null && (round === 1 || ll.ok)) {
          say(`${shape.name} threads=${threads}: llama.cpp${of}`);
          const run = await runInChild(job("llamacpp"));
          if (!run.ok && run.unavailable) llamaMissing = run.error;
          // a failed run is what the row shows (and ends the rounds for llama.cpp)
          ll = run.ok && ll.ok ? { ok: true, timings: fastest(ll.timings, run.timings) } : run;
        }
      }
      const row = makeRow(shape, file.bytes, o, threads, dkBest!, ll);
      o.onRow?.(row);
      rows.push(row);
    }
  }
  return rows;
}

/** The faster of two runs of one engine: the fastest prefill and decode, the first run's tokens, the highest RSS. */
function fastest(a: EngineTimings | null, b: EngineTimings): EngineTimings {
  if (!a) return b;
  return {
    ...a,
    loadMs: Math.min(a.loadMs, b.loadMs),
    prefillMs: Math.min(a.prefillMs, b.prefillMs),
    decodeMs: Math.min(a.decodeMs, b.decodeMs),
    peakRssBytes: Math.max(a.peakRssBytes, b.peakRssBytes),
  };
}

function checkFits(shape: BenchShape, prompt: number, decode: number): void {
  if (prompt + decode + 1 > shape.ctx) {
    throw new Error(
      `${shape.name}: ${prompt} prompt + ${decode} decode tokens exceed its context length ${shape.ctx}`,
    );
  }
}

function makeRow(
  shape: BenchShape,
  fileBytes: number,
  o: BenchOptions,
  threads: number,
  dk: EngineTimings,
  ll: EngineResult,
): BenchRow {
  const l = ll.ok ? ll.timings : null;
  const dkPre = tokS(o.promptTokens, dk.prefillMs);
  const dkDec = tokS(o.decodeTokens, dk.decodeMs);
  const lPre = l ? tokS(o.promptTokens, l.prefillMs) : null;
  const lDec = l ? tokS(o.decodeTokens, l.decodeMs) : null;
  const ratio = (a: number, b: number | null): number | null =>
    b ? Math.round((a / b) * 1000) / 1000 : null;
  return {
    shape: shape.name,
    model: shape.description,
    dtype: shape.dtype,
    params: paramCount(shape),
    file_bytes: fileBytes,
    backend: o.backend,
    threads,
    prompt_tokens: o.promptTokens,
    decode_tokens: o.decodeTokens,
    repeat: o.repeat ?? 1,
    decoderkit_threads_used: dk.threadsUsed,
    decoderkit_load_ms: r2(dk.loadMs),
    decoderkit_prefill_ms: r2(dk.prefillMs),
    decoderkit_decode_ms: r2(dk.decodeMs),
    decoderkit_prefill_tok_s: dkPre,
    decoderkit_decode_tok_s: dkDec,
    decoderkit_peak_rss_bytes: dk.peakRssBytes,
    llamacpp_threads_used: l?.threadsUsed ?? null,
    llamacpp_load_ms: l ? r2(l.loadMs) : null,
    llamacpp_prefill_ms: l ? r2(l.prefillMs) : null,
    llamacpp_decode_ms: l ? r2(l.decodeMs) : null,
    llamacpp_prefill_tok_s: lPre,
    llamacpp_decode_tok_s: lDec,
    llamacpp_peak_rss_bytes: l?.peakRssBytes ?? null,
    llamacpp_error: ll.ok ? null : ll.unavailable ? `llama.cpp not available: ${ll.error}` : ll.error,
    llamacpp_version: l?.info ?? null,
    prefill_ratio: ratio(dkPre, lPre),
    decode_ratio: ratio(dkDec, lDec),
    agree_tokens: l ? leadingAgreement(dk.tokens, l.tokens) : null,
    compared_tokens: o.decodeTokens + 1,
  };
}
