// `decoderkit train`: a GPT-2 or Llama trained on a text file as nanoGPT's train.py does (defaults: its CPU recipe
// for tiny-shakespeare) with a character or byte-level BPE tokenizer, options from flags and/or a JSON file,
// progress on stderr, checkpoints and a loss-curve SVG in the output folder.

import * as fs from "node:fs";
import * as path from "node:path";
import { defaultWasmThreads } from "../backends/wasm/index.js";
import { splitTrainVal } from "../train/data/batches.js";
import { parseTokenizerSpec, trainTokenizer, type TrainTokenizer } from "../train/data/tokenizers.js";
import {
  loadTrainingCheckpoint,
  restoreTrainer,
  saveTrainingCheckpoint,
  STATE_FILE,
} from "../train/checkpoint.js";
import { llamaFfnWidth } from "../train/llama.js";
import { Trainer, type EvalResult, type TrainLoopOptions } from "../train/loop.js";
import { lossCurveSvg } from "../train/plot.js";
import { isNonNegInt, isPosInt, num, parse, str, UsageError } from "./args.js";
import { backendFlag } from "./backend-flag.js";
import { readConfigFile } from "./config-file.js";
import { activateTrainingBackend } from "./train-backend.js";
import { loadTokenizerFile, modelFromCheckpoint, newTrainable } from "./train-model.js";

export const TRAIN_HELP = `Usage: decoderkit train --data FILE --out DIR [options]

Trains a GPT-2 or Llama on FILE (first 90% trains, last 10% validates) and writes a Hugging Face folder
(config.json, model.safetensors, tokenizer.json) that "decoderkit generate --model DIR" runs, the optimizer and
loop state (optimizer.safetensors, ${STATE_FILE}) for --resume, and loss.svg. Defaults: nanoGPT's CPU recipe
for tiny-shakespeare.

Options:
  --config FILE.json   options as a JSON object of flag names without "--" ({"arch": "llama", "steps": 500});
                       flags on the command line override it; an unknown key is an error
  --data FILE          UTF-8 training text (required)
  --out DIR            output folder (required; must be empty or absent unless --resume)
  --arch NAME          gpt2 | llama (default gpt2)
  --tokenizer SPEC     char: the sorted unique characters of FILE (default); bpe:N: byte-level BPE of N ids
                       (256 bytes, N-257 merges, <|endoftext|>) trained on FILE; or a tokenizer.json PATH
  --layers N           transformer blocks (default 4)
  --heads N            attention heads (default 4)
  --dim N              embedding width, a multiple of --heads (default 128)
  --bias B             gpt2: biases in linear layers and LayerNorms, true | false (default true; nanoGPT: false)
  --activation NAME    gpt2: gelu_new (tanh, GPT-2's) | gelu (erf, nn.GELU) (default gelu_new)
  --kv-heads N         llama: key/value heads, dividing --heads (default --heads)
  --ffn N              llama: SwiGLU width (default 8/3·dim rounded up to a multiple of 32)
  --rope-theta X       llama: rotary base (default 10000)
  --tie B              llama: classifier tied to the token embedding, true | false (default false)
  --context N          tokens per sequence and model positions (default 64)
  --batch N            sequences per micro-batch (default 12)
  --grad-accum N       micro-batches per optimizer step (default 1)
  --steps N            optimizer steps in all (default 2000)
  --lr X               peak learning rate (default 1e-3)
  --min-lr X           final learning rate (default lr/10)
  --warmup N           linear warmup steps (default min(100, steps/10))
  --lr-decay-iters N   step where the cosine reaches --min-lr (default --steps)
  --weight-decay X     AdamW decay of matrices (default 0.1)
  --beta2 X            AdamW beta2 (default 0.99; beta1 0.9)
  --grad-clip X        clip gradients to this global norm, 0 = off (default 1.0)
  --dropout X          dropout probability (default 0)
  --seed S             initialisation, batch and dropout seed (default 1337)
  --eval-every N       validation (and a checkpoint) every N steps (default 250)
  --eval-iters N       batches per split in each validation (default 200)
  --log-every N        a progress line every N steps (default 10)
  --resume             continue the run in --out (only --steps, --eval-*, --log-every may change)
  --eval-only          with --resume: print the checkpoint's train/val loss over --eval-iters batches per split
                       (the same seeded windows as the run's validations) and stop, writing nothing
  --backend NAME       reference | wasm (default: wasm where it runs)
  --threads N          threads for the wasm kernels (default: min(2, cores))
  --json               end with {"steps", "train_loss", "val_loss", "ms_per_iter", "tokens_per_s", "out"}
  -h, --help           this help
`;

const OPTIONS = {
  config: { type: "string" },
  data: { type: "string" },
  out: { type: "string" },
  arch: { type: "string" },
  tokenizer: { type: "string" },
  layers: { type: "string" },
  heads: { type: "string" },
  dim: { type: "string" },
  bias: { type: "string" },
  activation: { type: "string" },
  "kv-heads": { type: "string" },
  ffn: { type: "string" },
  "rope-theta": { type: "string" },
  tie: { type: "string" },
  context: { type: "string" },
  batch: { type: "string" },
  "grad-accum": { type: "string" },
  steps: { type: "string" },
  lr: { type: "string" },
  "min-lr": { type: "string" },
  warmup: { type: "string" },
  "lr-decay-iters": { type: "string" },
  "weight-decay": { type: "string" },
  beta2: { type: "string" },
  "grad-clip": { type: "string" },
  dropout: { type: "string" },
  seed: { type: "string" },
  "eval-every": { type: "string" },
  "eval-iters": { type: "string" },
  "log-every": { type: "string" },
  "eval-only": { type: "boolean" },
  resume: { type: "boolean" },
  backend: { type: "string" },
  threads: { type: "string" },
  json: { type: "boolean" },
} as const;

/** Flags a resumed run takes from its checkpoint instead. */
const FIXED_ON_RESUME = [
  "arch",
  "tokenizer",
  "layers",
  "heads",
  "dim",
  "bias",
  "activation",
  "kv-heads",
  "ffn",
  "rope-theta",
  "tie",
  "context",
  "batch",
  "grad-accum",
  "lr",
  "min-lr",
  "warmup",
  "lr-decay-iters",
  "weight-decay",
  "beta2",
  "grad-clip",
  "dropout",
  "seed",
];

const isPos = (n: number) => n > 0;
const isNonNeg = (n: number) => n >= 0;
const isProb = (n: number) => n >= 0 && n < 1;

/** Flags that only one architecture takes. */
const ARCH_ONLY: Record<string, string> = {
  bias: "gpt2",
  activation: "gpt2",
  "kv-heads": "llama",
  ffn: "llama",
  "rope-theta": "llama",
  tie: "llama",
};

interface Run {
  readonly trainer: Trainer;
  readonly tokenizer: TrainTokenizer;
}

function bool(v: unknown, flag: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (v === "true") return true;
  if (v === "false") return false;
  throw new UsageError(`--${flag} must be true or false, got "${String(v)}"`);
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    throw new Error(`${file}: cannot read the file`);
  }
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, "0")}s` : `${s.toFixed(0)}s`;
}

export async function trainCommand(argv: string[]): Promise<number> {
  const { values: flags } = parse(argv, OPTIONS, 0);
  if (flags["help"]) {
    process.stdout.write(TRAIN_HELP);
    return 0;
  }
  const configFile = str(flags["config"]);
  const v = configFile ? { ...readConfigFile(configFile, OPTIONS, ["config"]), ...flags } : flags;
  const data = str(v["data"]);
  const out = str(v["out"]);
  if (!data) throw new UsageError("--data FILE is required");
  if (!out) throw new UsageError("--out DIR is required");
  const resume = v["resume"] === true;
  const evalOnly = v["eval-only"] === true;
  if (evalOnly && !resume)
    throw new UsageError("--eval-only needs --resume (it evaluates the checkpoint in --out)");
  if (resume)
    for (const f of FIXED_ON_RESUME)
      if (v[f] !== undefined)
        throw new UsageError(`--${f} cannot change on --resume (it comes from the checkpoint)`);
  const archFlag = str(v["arch"]) ?? "gpt2";
  if (archFlag !== "gpt2" && archFlag !== "llama")
    throw new UsageError(`--arch must be gpt2 or llama, got "${archFlag}"`);
  const arch: "gpt2" | "llama" = archFlag;
  for (const [flag, only] of Object.entries(ARCH_ONLY))
    if (v[flag] !== undefined && only !== arch)
      throw new UsageError(`--${flag} applies to --arch ${only} only`);
  const tokSpec = parseTokenizerSpec(str(v["tokenizer"]) ?? "char");
  if (!tokSpec)
    throw new UsageError(
      `--tokenizer bpe:N needs an integer N in [257, 65536], got "${String(v["tokenizer"])}"`,
    );
  const bias = bool(v["bias"], "bias") ?? true;
  const actFlag = str(v["activation"]) ?? "gelu_new";
  if (actFlag !== "gelu_new" && actFlag !== "gelu")
    throw new UsageError(`--activation must be gelu_new or gelu, got "${actFlag}"`);
  const activation: "gelu_new" | "gelu" = actFlag;
  const tie = bool(v["tie"], "tie") ?? false;
  const ropeTheta = num(v["rope-theta"], "rope-theta", isPos, "a number > 0") ?? 10000;
  const layers = num(v["layers"], "layers", isPosInt, "a positive integer") ?? 4;
  const heads = num(v["heads"], "heads", isPosInt, "a positive integer") ?? 4;
  const dim = num(v["dim"], "dim", isPosInt, "a positive integer") ?? 128;
  if (dim % heads !== 0) throw new UsageError(`--dim ${dim} is not a multiple of --heads ${heads}`);
  const kvHeads = num(v["kv-heads"], "kv-heads", isPosInt, "a positive integer") ?? heads;
  if (heads % kvHeads !== 0) throw new UsageError(`--kv-heads ${kvHeads} does not divide --heads ${heads}`);
  if (arch === "llama" && (dim / heads) % 2 !== 0)
    throw new UsageError(`--dim / --heads (${dim / heads}) must be even for rotary embeddings`);
  const ffn = num(v["ffn"], "ffn", isPosInt, "a positive integer") ?? llamaFfnWidth(dim);
  const context = num(v["context"], "context", isPosInt, "a positive integer") ?? 64;
  const steps = num(v["steps"], "steps", isPosInt, "a positive integer");
  const lr = num(v["lr"], "lr", isPos, "a number > 0") ?? 1e-3;
  const minLr = num(v["min-lr"], "min-lr", isNonNeg, "a number >= 0") ?? lr / 10;
  if (minLr > lr) throw new UsageError(`--min-lr ${minLr} exceeds --lr ${lr}`);
  const totalSteps = steps ?? 2000;
  const warmup =
    num(v["warmup"], "warmup", isNonNegInt, "an integer >= 0") ?? Math.min(100, Math.floor(totalSteps / 10));
  const decayIters = num(v["lr-decay-iters"], "lr-decay-iters", isPosInt, "a positive integer") ?? totalSteps;
  if (decayIters <= warmup)
    throw new UsageError(`--lr-decay-iters (${decayIters}) must exceed --warmup (${warmup})`);
  const options: TrainLoopOptions = {
    steps: totalSteps,
    batch: num(v["batch"], "batch", isPosInt, "a positive integer") ?? 12,
    context,
    lr,
    minLr,
    warmup,
    decayIters,
    weightDecay: num(v["weight-decay"], "weight-decay", isNonNeg, "a number >= 0") ?? 0.1,
    betas: [0.9, num(v["beta2"], "beta2", isProb, "in [0, 1)") ?? 0.99],
    gradClip: num(v["grad-clip"], "grad-clip", isNonNeg, "a number >= 0") ?? 1.0,
    gradAccum: num(v["grad-accum"], "grad-accum", isPosInt, "a positive integer") ?? 1,
    evalIters: num(v["eval-iters"], "eval-iters", isPosInt, "a positive integer") ?? 200,
    seed: num(v["seed"], "seed", (n) => isNonNegInt(n) && n <= 0xffffffff, "an integer in [0, 2^32)") ?? 1337,
  };
  const dropout = num(v["dropout"], "dropout", isProb, "in [0, 1)") ?? 0;
  const evalEvery = num(v["eval-every"], "eval-every", isPosInt, "a positive integer") ?? 250;
  const logEvery = num(v["log-every"], "log-every", isPosInt, "a positive integer") ?? 10;
  const threads = num(v["threads"], "threads", isPosInt, "a positive integer") ?? defaultWasmThreads();
  const backendName = backendFlag(v["backend"]);
  const json = v["json"] === true;

  const text = readText(data);
  if (!resume && fs.existsSync(out)) {
    if (!fs.statSync(out).isDirectory()) throw new Error(`${out} exists and is not a folder`);
    if (fs.readdirSync(out).length > 0)
      throw new Error(`${out} is not empty (use --resume to continue a run there, or another --out)`);
  }
  const backend = await activateTrainingBackend(backendName, threads);
  let run: Run;
  if (resume) {
    const ck = loadTrainingCheckpoint(out);
    const tokenizer = loadTokenizerFile(path.join(out, "tokenizer.json"));
    const model = backend.withParamAllocator(() =>
      modelFromCheckpoint(ck.config, ck.params, ck.options.seed),
    );
    const resumed = {
      ...ck.options,
      evalIters: v["eval-iters"] !== undefined ? options.evalIters : ck.options.evalIters,
    };
    const trainer = new Trainer(model, splitTrainVal(tokenizer.encode(text)), {
      ...resumed,
      steps: steps ?? ck.options.steps,
    });
    restoreTrainer(trainer, ck);
    if (trainer.step > trainer.options.steps)
      throw new UsageError(`--steps ${trainer.options.steps} is below the checkpoint's step ${trainer.step}`);
    run = { trainer, tokenizer };
  } else {
    const t0 = performance.now();
    const tokenizer =
      tokSpec.kind === "file" ? loadTokenizerFile(tokSpec.path) : trainTokenizer(tokSpec, text);
    if (tokSpec.kind === "bpe")
      process.stderr.write(
        `train: BPE tokenizer of ${tokenizer.vocabSize} ids trained in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
      );
    const shape = {
      arch,
      layers,
      heads,
      dim,
      context,
      dropout,
      bias,
      activation,
      kvHeads,
      ffn,
      ropeTheta,
      tie,
    };
    const model = backend.withParamAllocator(() => newTrainable(shape, tokenizer, options.seed));
    run = { trainer: new Trainer(model, splitTrainVal(tokenizer.encode(text)), options), tokenizer };
  }
  if (evalOnly) {
    const e = run.trainer.evaluate();
    const r = {
      step: e.step,
      train_loss: e.train,
      val_loss: e.val,
      eval_iters: run.trainer.options.evalIters,
    };
    process.stdout.write(
      json
        ? JSON.stringify(r) + "\n"
        : `step ${e.step}: train loss ${e.train.toFixed(4)}, val loss ${e.val.toFixed(4)} (${r.eval_iters} batches per split)\n`,
    );
    return 0;
  }
  return trainLoop(run, {
    out,
    evalEvery,
    logEvery,
    json,
    backend: `${backend.name}, ${backend.threads} thread(s)`,
  });
}

async function trainLoop(
  { trainer, tokenizer }: Run,
  o: { out: string; evalEvery: number; logEvery: number; json: boolean; backend: string },
): Promise<number> {
  const { batch, context, gradAccum, steps } = trainer.options;
  const tokensPerStep = batch * context * gradAccum;
  const nParams = trainer.model.parameters().reduce((s, p) => s + p.size, 0);
  const log = (s: string) => process.stderr.write(s + "\n");
  log(
    `train: ${nParams} parameters, vocab ${tokenizer.vocabSize}, train ${trainer.data.train.length} / val ` +
      `${trainer.data.val.length} tokens, ${o.backend}, from step ${trainer.step} to ${steps}`,
  );
  const tokenizerJson = tokenizer.toTokenizerJson();
  const tokenizerConfig = tokenizer.tokenizerConfig();
  const save = () => {
    saveTrainingCheckpoint(o.out, trainer, { tokenizerJson, tokenizerConfig });
    fs.writeFileSync(
      path.join(o.out, "loss.svg"),
      lossCurveSvg(
        { steps: trainer.losses, evals: trainer.evals },
        `loss (nats/token), ${path.basename(o.out)}`,
      ),
    );
  };
  const evaluate = (): EvalResult => {
    const t0 = performance.now();
    const e = trainer.evaluate();
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    log(`step ${e.step}: train loss ${e.train.toFixed(4)}, val loss ${e.val.toFixed(4)} (${s} s)`);
    save();
    return e;
  };
  const lastEvalStep = () => trainer.evals[trainer.evals.length - 1]?.step;
  let trainMs = 0;
  let timed = 0;
  while (!trainer.done) {
    if (trainer.step % o.evalEvery === 0 && lastEvalStep() !== trainer.step) evaluate();
    const lr = trainer.schedule(trainer.step);
    const t0 = performance.now();
    const loss = trainer.trainStep();
    trainMs += performance.now() - t0;
    timed++;
    if (!Number.isFinite(loss)) throw new Error(`training diverged at step ${trainer.step} (loss ${loss})`);
    if (trainer.step % o.logEvery === 0 || trainer.done) {
      const ms = trainMs / timed;
      log(
        `step ${trainer.step}/${steps}  loss ${loss.toFixed(4)}  lr ${lr.toExponential(2)}  ${ms.toFixed(1)} ms/iter  ` +
          `${Math.round((tokensPerStep * 1000) / ms)} tok/s  ETA ${fmtTime(((steps - trainer.step) * ms) / 1000)}`,
      );
    }
    await new Promise<void>((r) => setImmediate(r)); // let signals and output through
  }
  const final = lastEvalStep() === trainer.step ? trainer.evals[trainer.evals.length - 1]! : evaluate();
  const ms = timed > 0 ? trainMs / timed : NaN;
  if (o.json)
    process.stdout.write(
      JSON.stringify({
        steps: trainer.step,
        train_loss: final.train,
        val_loss: final.val,
        ms_per_iter: timed > 0 ? +ms.toFixed(2) : null,
        tokens_per_s: timed > 0 ? Math.round((tokensPerStep * 1000) / ms) : null,
        out: o.out,
      }) + "\n",
    );
  return 0;
}
