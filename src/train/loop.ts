// The training loop of nanoGPT's train.py over a TrainableGPT2: AdamW with weight decay on matrices only, linear
// warmup then cosine decay of the learning rate, gradient accumulation over micro-batches, clipping by global
// norm, and validation loss as the mean over fixed evaluation batches with dropout off. Its state (step, optimizer
// moments, the batch and dropout generators, the loss history) is what a checkpoint saves to resume identically.

import { backward, noGrad, reshape, scale } from "../autograd/index.js";
import { Rng } from "../generation/rng.js";
import { inFrame } from "../tensor/storage.js";
import { sampleBatch, type Split } from "./data/batches.js";
import type { TrainableLM } from "./model.js";
import { crossEntropy } from "./losses/index.js";
import { AdamW, clipGradNorm, decayGroups } from "./optim/index.js";
import { warmupCosine, type Schedule } from "./schedules.js";

export interface TrainLoopOptions {
  /** Optimizer steps in all. */
  readonly steps: number;
  /** Sequences per micro-batch (B). */
  readonly batch: number;
  /** Tokens per sequence (T), at most the model's context. */
  readonly context: number;
  readonly lr: number;
  readonly minLr: number;
  readonly warmup: number;
  /** Step where the cosine reaches minLr. */
  readonly decayIters: number;
  readonly weightDecay: number;
  readonly betas: readonly [number, number];
  /** Global-norm clip; 0 turns clipping off. */
  readonly gradClip: number;
  /** Micro-batches per optimizer step. */
  readonly gradAccum: number;
  /** Batches per split in each evaluation. */
  readonly evalIters: number;
  /** Seeds the batch sampler (the model's dropout generator has its own seed). */
  readonly seed: number;
}

export interface EvalResult {
  readonly step: number;
  readonly train: number;
  readonly val: number;
}

export interface TrainerState {
  readonly step: number;
  readonly dataRng: number[];
  readonly dropoutRng: number[];
  /** Loss of every optimizer step so far, by step. */
  readonly losses: number[];
  readonly evals: EvalResult[];
}

/** The schedule nanoGPT's get_lr follows (a constant when there is no warmup and minLr = lr). */
export function lrSchedule(o: TrainLoopOptions): Schedule {
  if (o.warmup === 0 && o.minLr === o.lr) return () => o.lr;
  return warmupCosine({ maxLr: o.lr, minLr: o.minLr, warmupIters: o.warmup, decayIters: o.decayIters });
}

function checkOptions(o: TrainLoopOptions): void {
  const posInt = (n: number) => Number.isSafeInteger(n) && n > 0;
  for (const k of ["steps", "batch", "context", "gradAccum", "evalIters"] as const)
    if (!posInt(o[k])) throw new Error(`train: ${k} must be a positive integer, got ${o[k]}`);
  if (!(o.lr > 0 && o.minLr >= 0 && o.minLr <= o.lr)) throw new Error("train: need 0 <= minLr <= lr, lr > 0");
  if (!(Number.isSafeInteger(o.warmup) && o.warmup >= 0)) throw new Error("train: warmup must be >= 0");
  if (!(o.gradClip >= 0 && o.weightDecay >= 0))
    throw new Error("train: gradClip and weightDecay must be >= 0");
}

export class Trainer {
  readonly opt: AdamW;
  readonly schedule: Schedule;
  /** Optimizer steps taken. */
  step = 0;
  readonly losses: number[] = [];
  readonly evals: EvalResult[] = [];
  /** Global gradient norm of the last step, before clipping. */
  gradNorm = NaN;
  private readonly dataRng: Rng;

  constructor(
    readonly model: TrainableLM,
    readonly data: Split,
    readonly options: TrainLoopOptions,
  ) {
    checkOptions(options);
    if (options.context > model.contextLength)
      throw new Error(
        `train: context ${options.context} exceeds the model's ${model.contextLength} positions`,
      );
    for (const [name, d] of Object.entries(data))
      if (d.length <= options.context)
        throw new Error(
          `train: the ${name} split has ${d.length} tokens, too few for a context of ${options.context}`,
        );
    this.schedule = lrSchedule(options);
    this.opt = new AdamW(decayGroups(model.parameters(), options.weightDecay), {
      lr: options.lr,
      betas: [options.betas[0], options.betas[1]],
      weightDecay: options.weightDecay,
    });
    this.dataRng = new Rng(options.seed);
  }

  get done(): boolean {
    return this.step >= this.options.steps;
  }

  /** Mean loss (nats) over one batch, in evaluation mode, recording nothing. */
  private batchLoss(ids: Int32Array, targets: Int32Array, training: boolean): number {
    const { batch: B, context: T } = this.options;
    return inFrame(() => {
      const logits = this.model.forward(ids, B, T, { training });
      return crossEntropy(reshape(logits, [B * T, this.model.vocabSize]), targets).f32()[0]!;
    });
  }

  /** One optimizer step over gradAccum micro-batches; returns the mean micro-batch loss. */
  trainStep(): number {
    const { batch: B, context: T, gradAccum, gradClip } = this.options;
    const params = this.model.parameters();
    this.opt.zeroGrad();
    let total = 0;
    for (let m = 0; m < gradAccum; m++) {
      // a micro-batch's activations and intermediate gradients live in the backend's frame stack (if any);
      // the parameters' accumulated gradients are allocated outside it
      total += inFrame(() => {
        const { x, y } = sampleBatch(this.data.train, B, T, this.dataRng);
        const logits = this.model.forward(x, B, T, { training: true });
        const loss = crossEntropy(reshape(logits, [B * T, this.model.vocabSize]), y);
        backward(gradAccum > 1 ? scale(loss, 1 / gradAccum) : loss);
        return loss.f32()[0]!;
      });
    }
    noGrad(() => {
      this.gradNorm = clipGradNorm(params, gradClip > 0 ? gradClip : Infinity);
      this.opt.lr = this.schedule(this.step);
      this.opt.step();
    });
    this.opt.zeroGrad();
    const mean = total / gradAccum;
    this.losses.push(mean);
    this.step++;
    return mean;
  }

  /**
   * Mean loss over evalIters batches of each split. The batches come from a generator seeded afresh each time, so
   * every evaluation scores the same windows and evaluating never changes the course of training.
   */
  evaluate(): EvalResult {
    const { batch: B, context: T, evalIters, seed } = this.options;
    const mean = (data: Int32Array, salt: number): number =>
      noGrad(() => {
        const rng = new Rng((seed ^ salt) >>> 0);
        let s = 0;
        for (let i = 0; i < evalIters; i++) {
          const { x, y } = sampleBatch(data, B, T, rng);
          s += this.batchLoss(x, y, false);
        }
        return s / evalIters;
      });
    const r = { step: this.step, train: mean(this.data.train, 0x7a11), val: mean(this.data.val, 0x5a1d) };
    this.evals.push(r);
    return r;
  }

  /** What a checkpoint holds besides parameters and optimizer moments. */
  state(): TrainerState {
    return {
      step: this.step,
      dataRng: this.dataRng.getState(),
      dropoutRng: this.model.rng.getState(),
      losses: [...this.losses],
      evals: [...this.evals],
    };
  }

  /** Continues from a saved state (the optimizer's moments are restored separately, see checkpoint.ts). */
  loadState(s: TrainerState): void {
    if (!(Number.isSafeInteger(s.step) && s.step >= 0)) throw new Error("train state: bad step");
    if (s.losses.length !== s.step) throw new Error("train state: the loss history does not match the step");
    this.step = s.step;
    this.dataRng.setState(s.dataRng);
    this.model.rng.setState(s.dropoutRng);
    this.losses.splice(0, this.losses.length, ...s.losses);
    this.evals.splice(0, this.evals.length, ...s.evals);
  }
}
