// `decoderkit generate`: stream a continuation of a prompt to stdout (or one JSON object with --json).

import { activateBackend, withThreads } from "../backends/select.js";
import { defaultWasmThreads } from "../backends/wasm/index.js";
import { storedBytes } from "../cache/kv-cache.js";
import { emptyStats } from "../generation/generate.js";
import { streamText } from "../generation/text.js";
import { loadModel } from "../models/load.js";
import type { CausalLM } from "../models/model.js";
import { isNonNegInt, isPosInt, num, parse, str, UsageError } from "./args.js";
import { backendFlag } from "./backend-flag.js";
import { BUNDLED_MODEL, BUNDLED_TOKENIZER } from "./defaults.js";
import { BEAM_FLAGS, BEAM_HELP, beamFlags, runBeam } from "./generate-beam.js";
import { KV_FLAGS, KV_HELP, kvCacheFlags, newCacheFromFlags } from "./kv-flags.js";
import { PROCESSOR_FLAGS, PROCESSOR_HELP, processorFlags } from "./processor-flags.js";
import { pickStrategy, STRATEGY_FLAGS, STRATEGY_HELP } from "./strategies.js";

export const GENERATE_HELP = `Usage: decoderkit generate [options] [--] [PROMPT]

Streams a continuation of PROMPT (or of --prompt / --prompt-tokens) to stdout.

Options:
  --model PATH           checkpoint: llama2.c .bin, .gguf, or a Hugging Face folder
                         (default: the bundled stories260K)
  --tokenizer PATH       tokenizer.json, llama2.c tokenizer.bin, or a GGUF vocabulary
  --prompt TEXT          prompt text (same as the positional PROMPT)
  --prompt-tokens IDS    prompt as comma-separated token ids (no BOS is added)
  --max-new-tokens N     tokens to generate (default 256)
  --temperature T        0 = greedy (default 1.0)
  --top-k K              keep the K most likely tokens (default: off; contrastive search: 4)
  --top-p P              nucleus sampling threshold in (0, 1] (default 0.9)
  --seed S               random seed (default: from the clock; printed with --json)
  --stop TEXT            stop string (repeatable)
  --context-shift        at the context length, re-run the last half context and go on (default: stop)
${STRATEGY_HELP}${BEAM_HELP}${PROCESSOR_HELP}${KV_HELP}  --backend NAME         reference | wasm (default: wasm where WebAssembly SIMD and shared memory
                         work, else reference); wasm loads the weights into its memory and runs its
                         relaxed-SIMD kernels where the runtime has them (DECODERKIT_WASM_SIMD=baseline
                         or relaxed forces one; --json reports it as "simd")
  --threads N            threads for the wasm kernels (default: min(2, cores), or 1 for models under 40 M
                         parameters, whose small products do not repay waking a second thread; capped at
                         the cores; 1 starts no workers); the reference backend uses one
  --json                 print one JSON object instead of streaming text
  -h, --help             this help
`;

/** Ring slots a windowed cache keeps spare for speculative rollback: at least the tokens drafted per round. */
function rollbackFor(v: Record<string, unknown>): number {
  const s = v["strategy"];
  if (s !== "speculative" && s !== "prompt-lookup") return 0;
  const n = Number(v["draft-tokens"]);
  return Number.isSafeInteger(n) && n > 16 ? n : 16;
}

export async function generateCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(
    argv,
    {
      model: { type: "string" },
      tokenizer: { type: "string" },
      prompt: { type: "string" },
      "prompt-tokens": { type: "string" },
      "max-new-tokens": { type: "string" },
      temperature: { type: "string" },
      "top-k": { type: "string" },
      "top-p": { type: "string" },
      seed: { type: "string" },
      stop: { type: "string", multiple: true },
      threads: { type: "string" },
      backend: { type: "string" },
      json: { type: "boolean" },
      "context-shift": { type: "boolean" },
      ...STRATEGY_FLAGS,
      ...BEAM_FLAGS,
      ...PROCESSOR_FLAGS,
      ...KV_FLAGS,
    },
    1,
  );
  if (v["help"]) {
    process.stdout.write(GENERATE_HELP);
    return 0;
  }
  const maxNewTokens =
    num(v["max-new-tokens"], "max-new-tokens", isNonNegInt, "a non-negative integer") ?? 256;
  const temperature = num(v["temperature"], "temperature", (n) => n >= 0, "a number >= 0") ?? 1.0;
  const topK = num(v["top-k"], "top-k", isPosInt, "a positive integer");
  const topP = num(v["top-p"], "top-p", (n) => n > 0 && n <= 1, "a number in (0, 1]") ?? 0.9;
  const seed =
    num(v["seed"], "seed", (n) => Number.isSafeInteger(n) && n >= 0, "a non-negative integer") ??
    Date.now() % 2 ** 31;
  const threads = num(v["threads"], "threads", isPosInt, "a positive integer");
  const backend = backendFlag(v["backend"]);
  const [strategyName, startStrategy] = pickStrategy(v, temperature);
  const beam = beamFlags(v, strategyName, maxNewTokens);
  if (beam) {
    const given = Object.keys(PROCESSOR_FLAGS).find((f) => v[f] !== undefined);
    if (given) throw new UsageError(`--${given} does not apply to beam search`);
  }
  const cacheOptions = kvCacheFlags(v);
  const kvGiven = Object.keys(KV_FLAGS).some((f) => v[f] !== undefined);
  if (kvGiven && strategyName === "mbr")
    throw new UsageError(
      "--strategy mbr runs a fresh f32 cache per candidate; the KV-cache flags do not apply",
    );
  const processors = processorFlags(v);
  const promptText = str(v["prompt"]) ?? positionals[0];
  const promptTokens = str(v["prompt-tokens"]);
  if (promptText !== undefined && promptTokens !== undefined)
    throw new UsageError("give either a prompt or --prompt-tokens, not both");
  if (promptText !== undefined && positionals.length && str(v["prompt"]) !== undefined)
    throw new UsageError("give the prompt once");
  const modelPath = str(v["model"]) ?? BUNDLED_MODEL;
  const tokPath = str(v["tokenizer"]) ?? (v["model"] === undefined ? BUNDLED_TOKENIZER : undefined);

  // without --threads, workers start only once the model's size says they pay
  let active = await activateBackend(backend, threads ?? 1);
  const loaded = await loadModel(modelPath, { tokenizer: tokPath, allocator: active.allocator });
  const { model, tokenizer } = loaded;
  if (threads === undefined && parameterCount(model) >= SMALL_MODEL_PARAMS)
    active = await withThreads(active, defaultWasmThreads());
  if (!tokenizer) throw new Error(`${modelPath}: no tokenizer found; pass --tokenizer`);
  let ids: number[];
  if (promptTokens !== undefined) {
    ids = promptTokens.split(",").map((s) => {
      const n = Number(s.trim());
      if (s.trim() === "" || !Number.isSafeInteger(n) || n < 0 || n >= model.vocabSize) {
        throw new UsageError(`--prompt-tokens: "${s}" is not a token id below ${model.vocabSize}`);
      }
      return n;
    });
    if (ids.length === 0) throw new UsageError("--prompt-tokens is empty");
  } else {
    ids = tokenizer.encode(promptText ?? "");
    if (loaded.addBos && loaded.bosId !== null) ids.unshift(loaded.bosId);
    if (ids.length === 0)
      throw new UsageError("the prompt is empty and the model has no BOS token; give a prompt");
  }

  if (beam || !startStrategy) {
    const extra = { seed, backend: active.name, threads: active.threads };
    return runBeam({
      model,
      tokenizer,
      ids,
      strategy: strategyName,
      beam: { ...beam!, stopTokens: loaded.stopTokens },
      cacheOptions,
      promptText,
      json: v["json"] === true,
      extra,
      loadMs: loaded.loadMs,
    });
  }
  const stats = emptyStats();
  const opts = {
    maxNewTokens,
    temperature,
    topK,
    topP,
    seed,
    stopTokens: loaded.stopTokens,
    ...processors(tokenizer, model.vocabSize),
    contextShift: v["context-shift"] === true,
    ...(kvGiven ? { cache: newCacheFromFlags(model, { ...cacheOptions, rollback: rollbackFor(v) }) } : {}),
  };
  const run = await startStrategy(
    {
      model,
      tokenizer,
      promptIds: ids,
      opts,
      temperatureGiven: v["temperature"] !== undefined,
      load: (p, tok) => loadModel(p, { tokenizer: tok, allocator: active.allocator }),
      allocator: active.allocator,
    },
    stats,
  );
  const tokens: number[] = [];
  let text = "";
  const json = v["json"] === true;
  if (!json && promptText) process.stdout.write(promptText);
  const stopStrings = (v["stop"] as string[] | undefined) ?? [];
  for await (const chunk of streamText(tokenizer, ids, run.tokens, { stopStrings }, stats)) {
    if (chunk.token !== undefined) tokens.push(chunk.token);
    text += chunk.text;
    if (!json && chunk.text) process.stdout.write(chunk.text);
  }
  const decodeTok = Math.max(0, stats.newTokens - 1);
  if (json) {
    const out = {
      text,
      tokens,
      prompt_tokens: ids,
      seed,
      backend: active.name,
      ...(active.simd ? { simd: active.simd } : {}),
      threads: active.threads,
      finish_reason: stats.finishReason,
      strategy: { name: strategyName, ...run.report() },
      timings: {
        load_ms: round(loaded.loadMs),
        prefill_ms: round(stats.prefillMs),
        decode_ms: round(stats.decodeMs),
        prefill_tok_s: round(ids.length / (stats.prefillMs / 1000)),
        decode_tok_s: decodeTok > 0 ? round(decodeTok / (stats.decodeMs / 1000)) : null,
      },
      kv_cache_bytes: stats.cache ? storedBytes(stats.cache) : 0,
      kv_cache_bytes_per_token: stats.cache?.bytesPerToken ?? 0,
    };
    process.stdout.write(JSON.stringify(out) + "\n");
  } else {
    process.stdout.write("\n");
  }
  return 0;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/**
 * Parameters below which generate's default is one thread: stories15M (24 M) decodes at 185–204 tok/s on one
 * thread and 164–168 on two on this project's 2-core machine, while stories110M (134 M) gains from the second
 * (57 → 94 tok/s in q8_0, 40 → 66 in f32).
 */
const SMALL_MODEL_PARAMS = 40e6;

function parameterCount(model: CausalLM): number {
  let n = 0;
  for (const w of model.weights.values()) n += w.size;
  return n;
}
