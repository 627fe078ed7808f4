// A training checkpoint in an output folder: the model as a Hugging Face folder (config.json, model.safetensors,
// tokenizer.json: what `decoderkit generate` loads), AdamW's moments by parameter name (optimizer.safetensors) and
// the loop's state with its options (trainer_state.json: step, generator states, loss history). Loading it and
// continuing gives the same numbers as a run that never stopped.

import * as fs from "node:fs";
import * as path from "node:path";
import { readCheckpoint } from "../io/checkpoint.js";
import { readSafetensors, writeSafetensors } from "../io/safetensors.js";
import { Tensor } from "../tensor/tensor.js";
import type { TrainLoopOptions, Trainer, TrainerState } from "./loop.js";
import { saveHFModel } from "./save.js";

export const STATE_FILE = "trainer_state.json";
export const OPTIMIZER_FILE = "optimizer.safetensors";
const FORMAT = "decoderkit-trainer-state";

type Json = Record<string, unknown>;

/** Writes everything needed to resume; `extra` (e.g. command-line settings) is kept in trainer_state.json. */
export function saveTrainingCheckpoint(
  dir: string,
  trainer: Trainer,
  opts: { tokenizerJson?: Json; tokenizerConfig?: Json | null; extra?: Json } = {},
): void {
  fs.mkdirSync(dir, { recursive: true });
  const { model, opt } = trainer;
  saveHFModel(dir, model, { overwrite: true });
  if (opts.tokenizerJson)
    fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(opts.tokenizerJson) + "\n");
  if (opts.tokenizerConfig)
    fs.writeFileSync(
      path.join(dir, "tokenizer_config.json"),
      JSON.stringify(opts.tokenizerConfig, null, 2) + "\n",
    );
  const names = new Map([...model.params].map(([n, p]) => [p, n]));
  const sd = opt.stateDict();
  const moments = new Map<string, Tensor>();
  opt.params.forEach((p, i) => {
    const b = sd.buffers[i];
    if (!b) return;
    moments.set(`${names.get(p)}.exp_avg`, Tensor.fromArray(b[0]!, p.shape));
    moments.set(`${names.get(p)}.exp_avg_sq`, Tensor.fromArray(b[1]!, p.shape));
  });
  writeSafetensors(path.join(dir, OPTIMIZER_FILE), moments, { overwrite: true });
  const state = {
    format: FORMAT,
    version: 1,
    options: trainer.options,
    optimizer: { step: sd.step, lr: sd.lr },
    state: trainer.state(),
    extra: opts.extra ?? {},
  };
  const tmp = path.join(dir, STATE_FILE + ".tmp");
  fs.writeFileSync(tmp, JSON.stringify(state) + "\n");
  fs.renameSync(tmp, path.join(dir, STATE_FILE)); // last: a folder with this file holds a whole checkpoint
}

export interface TrainingCheckpoint {
  readonly config: Record<string, unknown>;
  readonly params: Map<string, Tensor>;
  readonly options: TrainLoopOptions;
  readonly state: TrainerState;
  readonly optimizer: { step: number; lr: number; moments: Map<string, Tensor> };
  readonly extra: Json;
}

/** Reads a folder written by saveTrainingCheckpoint. */
export function loadTrainingCheckpoint(dir: string): TrainingCheckpoint {
  const file = path.join(dir, STATE_FILE);
  if (!fs.existsSync(file)) throw new Error(`${dir}: no ${STATE_FILE} to resume from`);
  let s: Json;
  try {
    s = JSON.parse(fs.readFileSync(file, "utf8")) as Json;
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  if (s["format"] !== FORMAT || s["version"] !== 1)
    throw new Error(`${file}: not a decoderkit trainer state`);
  const ck = readCheckpoint(dir);
  const opt = s["optimizer"] as { step: number; lr: number };
  return {
    config: ck.config,
    params: ck.tensors,
    options: s["options"] as TrainLoopOptions,
    state: s["state"] as TrainerState,
    optimizer: { ...opt, moments: readSafetensors(path.join(dir, OPTIMIZER_FILE)).tensors },
    extra: (s["extra"] as Json | undefined) ?? {},
  };
}

/** Puts a checkpoint's step, generators, history and optimizer moments into a trainer built on its parameters. */
export function restoreTrainer(trainer: Trainer, ck: TrainingCheckpoint): void {
  trainer.loadState(ck.state);
  const names = new Map([...trainer.model.params].map(([n, p]) => [p, n]));
  const buffers = trainer.opt.params.map((p) => {
    const name = names.get(p)!;
    const m = ck.optimizer.moments.get(`${name}.exp_avg`);
    const v = ck.optimizer.moments.get(`${name}.exp_avg_sq`);
    if (!m || !v) return null;
    return [m.f32().slice(), v.f32().slice()];
  });
  trainer.opt.loadStateDict({ step: ck.optimizer.step, lr: ck.optimizer.lr, buffers });
}
