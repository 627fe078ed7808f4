// The training loop on a tiny GPT-2: the loss falls, evaluation never changes the course of training, and a run
// checkpointed halfway and resumed from its folder ends with the same losses, parameters and optimizer moments
// as one that never stopped (dropout and gradient accumulation on, so every generator state matters).

import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import "../src/backends/reference/index.js";
import { GPT2LMHeadModel } from "../src/models/gpt2.js";
import { readCheckpoint } from "../src/io/checkpoint.js";
import { loadTrainingCheckpoint, restoreTrainer, saveTrainingCheckpoint } from "../src/train/checkpoint.js";
import { splitTrainVal } from "../src/train/data/batches.js";
import { CharTokenizer } from "../src/train/data/char-tokenizer.js";
import { gpt2HFConfig, TrainableGPT2 } from "../src/train/gpt2.js";
import { lrSchedule, Trainer, type TrainLoopOptions } from "../src/train/loop.js";
import { lossCurveSvg } from "../src/train/plot.js";
import { tmpDir } from "./helpers/paths.js";

const TEXT = "the cat sat on the mat. the dog sat on the log. a cat and a dog sat. ".repeat(12);
const tok = CharTokenizer.train(TEXT);
const split = splitTrainVal(tok.encode(TEXT));

const OPTS: TrainLoopOptions = {
  steps: 8,
  batch: 3,
  context: 8,
  lr: 1e-2,
  minLr: 1e-3,
  warmup: 2,
  decayIters: 8,
  weightDecay: 0.1,
  betas: [0.9, 0.99],
  gradClip: 1.0,
  gradAccum: 2,
  evalIters: 2,
  seed: 5,
};

function model(dropout = 0.1): TrainableGPT2 {
  const config = gpt2HFConfig({
    vocab_size: tok.vocabSize,
    n_layer: 1,
    n_head: 2,
    n_embd: 16,
    n_positions: 8,
    dropout,
  });
  return TrainableGPT2.init(config, 11);
}

test("the loss falls on a small repetitive corpus", () => {
  const t = new Trainer(model(0), split, { ...OPTS, steps: 60, decayIters: 60, gradAccum: 1, batch: 8 });
  const before = t.evaluate();
  while (!t.done) t.trainStep();
  const after = t.evaluate();
  assert.ok(after.val < before.val - 1, `val ${before.val} → ${after.val}`);
  assert.ok(after.train < before.train - 1);
  assert.equal(t.losses.length, 60);
  assert.equal(t.opt.stepCount, 60);
});

test("the learning rate follows warmup then cosine, as nanoGPT's get_lr", () => {
  const lr = lrSchedule({ ...OPTS, lr: 1e-3, minLr: 1e-4, warmup: 100, decayIters: 2000 });
  assert.ok(Math.abs(lr(0) - 1e-3 / 101) < 1e-15);
  assert.ok(Math.abs(lr(100) - 1e-3) < 1e-15);
  assert.ok(Math.abs(lr(1050) - 5.5e-4) < 1e-12);
  assert.ok(Math.abs(lr(2000) - 1e-4) < 1e-15);
});

test("two accumulated micro-batches of 2 make the same step as one batch of 4 (the same windows)", () => {
  const one = new Trainer(model(0), split, { ...OPTS, steps: 3, batch: 4, gradAccum: 1 });
  const acc = new Trainer(model(0), split, { ...OPTS, steps: 3, batch: 2, gradAccum: 2 });
  while (!one.done) {
    const [a, b] = [one.trainStep(), acc.trainStep()];
    assert.ok(Math.abs(a - b) < 1e-5, `loss ${a} vs ${b}`);
    assert.ok(
      Math.abs(one.gradNorm - acc.gradNorm) < 1e-4 * one.gradNorm,
      `${one.gradNorm} vs ${acc.gradNorm}`,
    );
  }
  for (const [name, p] of one.model.params) {
    const q = acc.model.params.get(name)!.f32();
    p.f32().forEach((v, i) => assert.ok(Math.abs(v - q[i]!) < 1e-5, `${name}[${i}]: ${v} vs ${q[i]}`));
  }
});

test("evaluating between steps does not change training", () => {
  const a = new Trainer(model(), split, OPTS);
  const b = new Trainer(model(), split, OPTS);
  while (!a.done) {
    a.evaluate();
    a.trainStep();
    b.trainStep();
  }
  assert.deepEqual(a.losses, b.losses);
  assert.deepEqual(a.evaluate(), b.evaluate());
});

test("a run resumed from its checkpoint folder continues identically to an uninterrupted one", () => {
  const straight = new Trainer(model(), split, OPTS);
  while (!straight.done) straight.trainStep();

  const first = new Trainer(model(), split, OPTS);
  for (let i = 0; i < 4; i++) first.trainStep();
  first.evaluate();
  const dir = path.join(tmpDir(), "run");
  saveTrainingCheckpoint(dir, first, { tokenizerJson: tok.toTokenizerJson() });
  for (const f of [
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "optimizer.safetensors",
    "trainer_state.json",
  ])
    assert.ok(fs.existsSync(path.join(dir, f)), f);

  const ck = loadTrainingCheckpoint(dir);
  assert.deepEqual(ck.options, OPTS);
  const resumed = new Trainer(new TrainableGPT2(ck.config, ck.params, 999), split, ck.options);
  restoreTrainer(resumed, ck);
  assert.equal(resumed.step, 4);
  while (!resumed.done) resumed.trainStep();

  assert.deepEqual(resumed.losses, straight.losses);
  for (const [name, p] of straight.model.params)
    assert.deepEqual(resumed.model.params.get(name)!.f32(), p.f32(), name);
  assert.deepEqual(resumed.opt.stateDict(), straight.opt.stateDict());
  assert.deepEqual(
    resumed.evals.map((e) => e.step),
    [4],
  );
  assert.throws(() => loadTrainingCheckpoint(tmpDir()), /trainer_state\.json/);
});

test("the saved folder runs in the inference GPT-2 with the trained model's logits", () => {
  const t = new Trainer(model(0.1), split, { ...OPTS, steps: 3 });
  while (!t.done) t.trainStep();
  const dir = path.join(tmpDir(), "m");
  saveTrainingCheckpoint(dir, t);
  const ck = readCheckpoint(dir);
  const inf = new GPT2LMHeadModel(ck.config, ck.tensors);
  const ids = [...tok.encode("the cat")];
  const want = t.model.forward(ids, 1, ids.length).f32(); // evaluation mode: no dropout
  const got = inf.forward(ids, inf.newCache(), { allLogits: true }).f32();
  let err = 0;
  want.forEach((v, i) => (err = Math.max(err, Math.abs(v - got[i]!))));
  assert.ok(err < 1e-4, `max |Δlogit| ${err}`);
});

test("the loss curve is an SVG with the step losses and evaluation points", () => {
  const svg = lossCurveSvg({
    steps: [4, 3.5, NaN, 2.5],
    evals: [
      { step: 0, train: 4.2, val: 4.3 },
      { step: 4, train: 2.4, val: 2.6 },
    ],
  });
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\n$/);
  assert.equal(svg.match(/<polyline/g)!.length, 3);
  assert.equal(svg.match(/<circle/g)!.length, 4);
  assert.doesNotMatch(svg, /NaN/);
  assert.match(lossCurveSvg({ steps: [], evals: [] }), /<svg/);
});
