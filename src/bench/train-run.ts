// One training-speed bench run in this process (`bench --train`): nanoGPT's Shakespeare-char CPU recipe shape
// (4 layers, 4 heads, 128 wide, block 64, batch 12, vocabulary 65, dropout 0) trained on a seeded random corpus with
// the Trainer (AdamW, clipping) on the chosen backend; milliseconds per optimizer step after a warm-up.

import type { BackendName } from "../backends/select.js";
import { activateTrainingBackend } from "../cli/train-backend.js";
import { Rng } from "../generation/rng.js";
import { splitTrainVal } from "../train/data/batches.js";
import { gpt2HFConfig, TrainableGPT2 } from "../train/gpt2.js";
import { Trainer } from "../train/loop.js";
import { peakRssBytes, type EngineJob, type EngineTimings } from "./job.js";

export const TRAIN_SHAPE = { layers: 4, heads: 4, dim: 128, context: 64, batch: 12, vocab: 65 } as const;
const WARMUP_STEPS = 3;

export async function runTrainSpeed(job: EngineJob): Promise<EngineTimings> {
  const s = TRAIN_SHAPE;
  const steps = job.trainSteps ?? 20;
  const active = await activateTrainingBackend(job.backend as BackendName, job.threads);
  const config = gpt2HFConfig({
    vocab_size: s.vocab,
    n_layer: s.layers,
    n_head: s.heads,
    n_embd: s.dim,
    n_positions: s.context,
  });
  const model = active.withParamAllocator(() => TrainableGPT2.init(config, 1337));
  const rng = new Rng(7);
  const corpus = Int32Array.from({ length: 100_000 }, () => Math.floor(rng.next() * s.vocab));
  const trainer = new Trainer(model, splitTrainVal(corpus), {
    steps: WARMUP_STEPS + steps,
    batch: s.batch,
    context: s.context,
    lr: 1e-3,
    minLr: 1e-4,
    warmup: 100,
    decayIters: 2000,
    weightDecay: 0.1,
    betas: [0.9, 0.99],
    gradClip: 1,
    gradAccum: 1,
    evalIters: 1,
    seed: 0,
  });
  for (let i = 0; i < WARMUP_STEPS; i++) trainer.trainStep();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) trainer.trainStep();
  const ms = performance.now() - t0;
  return {
    loadMs: 0,
    prefillMs: 0,
    decodeMs: 0,
    tokens: [],
    threadsUsed: active.threads,
    peakRssBytes: peakRssBytes(),
    info: `backend ${active.name}, ${active.threads} thread${active.threads === 1 ? "" : "s"}`,
    train: { steps, msPerStep: ms / steps, firstLoss: trainer.losses[0]!, lastLoss: trainer.losses.at(-1)! },
  };
}
