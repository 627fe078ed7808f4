// `decoderkit bench`: decoderkit's prefill and decode speed beside llama.cpp's, measured in the same run on
// random-weight Llama GGUF files of published shapes (see src/bench/).

import * as os from "node:os";
import * as path from "node:path";
import { activateBackend, backendLabel } from "../backends/select.js";
import { backendFlag } from "./backend-flag.js";
import { defaultCacheDir, defaultVocabPath, nodeLlamaCppVersion } from "../bench/paths.js";
import { runBench } from "../bench/run.js";
import { DEFAULT_SHAPES, parseShapes, SHAPES } from "../bench/shapes.js";
import { formatTable, type ReportContext } from "../bench/table.js";
import { formatSpeculativeTable, runSpeculativeBench, SPECULATIVE_SHAPE } from "../bench/speculative.js";
import { formatPrefixTable, runPrefixBench } from "../bench/prefix.js";
import { formatTrainTable, runTrainBench } from "../bench/train.js";
import { COPY_QUANTS, isCopyQuant } from "../models/quantized-copy.js";
import { isNonNegInt, isPosInt, num, parse, str, UsageError } from "./args.js";

const shapeList = SHAPES.filter((s) => !s.hidden)
  .map((s) => `${s.name} (${s.description}, ${s.dtype}${s.optIn ? ", opt-in" : ""})`)
  .join(", ");

export const BENCH_HELP = `Usage: decoderkit bench [options]

Measures decoderkit's prefill and decode speed beside llama.cpp's (through node-llama-cpp, if installed) on
random-weight Llama GGUF files written by decoderkit and cached in --cache-dir.

Options:
  --shapes LIST          comma-separated shapes, "all", or "none" (default ${DEFAULT_SHAPES.join(",")})
                         shapes: ${shapeList}
  --threads LIST         thread counts for both engines (default 1,2 capped at the cores; decoderkit's
                         wasm backend caps each at the cores, the reference backend uses one)
  --prompt-tokens N      prompt length including BOS (default 32)
  --decode-tokens N      greedy decode steps after the prompt (default 64)
  --repeat N             timed passes per engine after the warm-up; the fastest is shown (default 1)
  --rounds N             run the two engines' processes N times each, alternately, and show each one's
                         fastest, so that a noisy spell on the machine does not fall on one engine alone
                         (default 1)
  --backend NAME         decoderkit kernel backend, e.g. reference or wasm (default: as generate,
                         wasm where it runs, else reference); DECODERKIT_WASM_SIMD=baseline|relaxed
                         picks wasm's kernel module (the header says which ran)
  --cache-dir DIR        where the generated models are kept (default ~/.cache/decoderkit/bench)
  --vocab PATH           GGUF file whose 32000-token tokenizer.* metadata is embedded
                         (default ../shared/vocab/ggml-vocab-llama-spm.gguf beside the package)
  --seed S               weight and prompt seed (default 0)
  --speculative          also time greedy speculative decoding on ${SPECULATIVE_SHAPE} (f32), drafting with its own
                         in-memory quantized copy and with prompt lookup: plain and speculative tok/s, speed-up,
                         acceptance, target passes, ms per plain step / draft / verification
  --prefix-reuse N       also time the first token of a Session request whose N-token prompt shares all but
                         its last 16 tokens with the previous request, against a fresh session (on --shapes)
  --train N              also time N training steps of nanoGPT's Shakespeare-char CPU shape in decoderkit
                         and in PyTorch (tools/nanogpt_torch_speed.py, /usr/bin/python3), per thread count
  --draft-quant Q        --speculative draft weights: ${COPY_QUANTS.join(" or ")} (default q8_0)
  --draft-tokens N       --speculative tokens drafted per target pass (default 3: the pass then scores 4
                         positions, a whole block of the wasm kernel's 4-row product)
  --json                 one JSON object per row instead of the table
  -h, --help             this help
`;

function intList(v: unknown, flag: string, fallback: number[]): number[] {
  const s = str(v);
  if (s === undefined) return fallback;
  const items = s
    .split(",")
    .map((x) => num(x, flag, isPosInt, "a comma-separated list of positive integers")!);
  return [...new Set(items)];
}

export async function benchCommand(argv: string[]): Promise<number> {
  const { values: v } = parse(
    argv,
    {
      shapes: { type: "string" },
      threads: { type: "string" },
      "prompt-tokens": { type: "string" },
      "decode-tokens": { type: "string" },
      repeat: { type: "string" },
      rounds: { type: "string" },
      backend: { type: "string" },
      "cache-dir": { type: "string" },
      vocab: { type: "string" },
      seed: { type: "string" },
      json: { type: "boolean" },
      speculative: { type: "boolean" },
      "prefix-reuse": { type: "string" },
      train: { type: "string" },
      "draft-quant": { type: "string" },
      "draft-tokens": { type: "string" },
    },
    0,
  );
  if (v["help"]) {
    process.stdout.write(BENCH_HELP);
    return 0;
  }
  let shapes;
  try {
    const list = str(v["shapes"]) ?? DEFAULT_SHAPES.join(",");
    shapes = list === "none" ? [] : parseShapes(list);
  } catch (e) {
    throw new UsageError(`--shapes: ${(e as Error).message}`);
  }
  const threads = intList(v["threads"], "threads", os.availableParallelism() > 1 ? [1, 2] : [1]);
  const promptTokens = num(v["prompt-tokens"], "prompt-tokens", isPosInt, "a positive integer") ?? 32;
  const decodeTokens = num(v["decode-tokens"], "decode-tokens", isNonNegInt, "a non-negative integer") ?? 64;
  const repeat = num(v["repeat"], "repeat", isPosInt, "a positive integer") ?? 1;
  const rounds = num(v["rounds"], "rounds", isPosInt, "a positive integer") ?? 1;
  const seed = num(v["seed"], "seed", isNonNegInt, "a non-negative integer") ?? 0;
  const asked = backendFlag(v["backend"]);
  let backend: string;
  let label: string;
  try {
    const active = await activateBackend(asked, 1); // checks it runs; each job activates it again
    backend = active.name;
    label = backendLabel(active);
  } catch (e) {
    throw new UsageError(`--backend: ${(e as Error).message}`);
  }
  const cacheDir = path.resolve(str(v["cache-dir"]) ?? defaultCacheDir());
  const vocabPath = path.resolve(str(v["vocab"]) ?? defaultVocabPath());
  const json = v["json"] === true;
  const draftQuant = str(v["draft-quant"]) ?? "q8_0";
  if (!isCopyQuant(draftQuant))
    throw new UsageError(`--draft-quant must be one of ${COPY_QUANTS.join(", ")}, got "${draftQuant}"`);
  const draftTokens = num(v["draft-tokens"], "draft-tokens", isPosInt, "a positive integer") ?? 3;
  const trainSteps = num(v["train"], "train", isPosInt, "a positive integer");
  const prefixTokens = num(
    v["prefix-reuse"],
    "prefix-reuse",
    (n) => isPosInt(n) && n > 16,
    "an integer > 16",
  );
  if (!v["speculative"] && (v["draft-quant"] !== undefined || v["draft-tokens"] !== undefined))
    throw new UsageError("--draft-quant and --draft-tokens need --speculative");

  const ctx: ReportContext = {
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model.trim() ?? "unknown CPU",
    node: process.version,
    nodeLlamaCpp: nodeLlamaCppVersion(),
    backend: label,
    promptTokens,
    decodeTokens,
    repeat,
    rounds,
  };
  const rows = await runBench({
    shapes,
    threads,
    promptTokens,
    decodeTokens,
    repeat,
    rounds,
    backend,
    cacheDir,
    vocabPath,
    seed,
    onProgress: (line) => process.stderr.write(`bench: ${line}\n`),
    onRow: json ? (row) => process.stdout.write(JSON.stringify(row) + "\n") : undefined,
  });
  if (!json && shapes.length) process.stdout.write(formatTable(rows, ctx));
  if (v["speculative"]) {
    const spec = await runSpeculativeBench({
      ...{ threads, promptTokens, decodeTokens, repeat, backend, cacheDir, vocabPath, seed },
      ...{ draftQuant, draftTokens, onProgress: (line) => process.stderr.write(`bench: ${line}\n`) },
      onRow: json ? (row) => process.stdout.write(JSON.stringify(row) + "\n") : undefined,
    });
    if (!json) process.stdout.write(formatSpeculativeTable(spec));
  }
  if (trainSteps !== undefined) {
    const tr = await runTrainBench({
      ...{ threads, steps: trainSteps, backend },
      onProgress: (line) => process.stderr.write(`bench: ${line}\n`),
      onRow: json ? (row) => process.stdout.write(JSON.stringify(row) + "\n") : undefined,
    });
    if (!json) process.stdout.write(formatTrainTable(tr));
  }
  if (prefixTokens !== undefined) {
    const pre = await runPrefixBench({
      ...{ shapes, threads, promptTokens: prefixTokens, repeat, backend, cacheDir, vocabPath, seed },
      onProgress: (line) => process.stderr.write(`bench: ${line}\n`),
      onRow: json ? (row) => process.stdout.write(JSON.stringify(row) + "\n") : undefined,
    });
    if (!json) process.stdout.write(formatPrefixTable(pre));
  }
  return 0;
}
