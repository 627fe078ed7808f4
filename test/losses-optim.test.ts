// Losses (values and gradients), optimizers, clipping and schedules against PyTorch 1.13
// (test/fixtures/train-reference.json from tools/dump_train_reference.py), hand-computed values, and finite
// differences.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import "../src/backends/reference/index.js";
import { backward } from "../src/autograd/index.js";
import * as ops from "../src/tensor/ops.js";
import { Tensor } from "../src/tensor/tensor.js";
import {
  bceWithLogits,
  crossEntropy,
  gaussianKL,
  logSoftmax,
  mseLoss,
  nllLoss,
} from "../src/train/losses/index.js";
import { Adam, AdamW, clipGradNorm, SGD, type Optimizer } from "../src/train/optim/index.js";
import { constantLr, inverseSqrt, warmupCosine } from "../src/train/schedules.js";
import { gradcheck, randTensor } from "./helpers/gradcheck.js";

/* eslint-disable @typescript-eslint/no-explicit-any */
const R = JSON.parse(fs.readFileSync("test/fixtures/train-reference.json", "utf8")) as any;

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const d = Math.abs(actual[i]! - e);
    assert.ok(d <= tol * Math.max(1, Math.abs(e)), `${what}[${i}]: ${actual[i]} vs ${e}`);
  }
}

function leaf(values: number[], shape: number[]): Tensor {
  const t = Tensor.fromArray(values, shape);
  t.requiresGrad = true;
  return t;
}

test("cross-entropy (mean, sum, label smoothing, ignore index) equals PyTorch's value and gradient", () => {
  const L = R.losses;
  for (const [name, opts] of [
    ["mean", {}],
    ["sum", { reduction: "sum" }],
    ["smooth", { labelSmoothing: 0.1 }],
    ["smooth_ignore4", { labelSmoothing: 0.25, ignoreIndex: 4 }],
  ] as const) {
    const c = L.cross_entropy[name];
    const x = leaf(L.logits, L.shape);
    const loss = crossEntropy(x, c.targets, opts);
    close(loss.f32(), [c.loss], 1e-6, `${name} loss`);
    backward(loss);
    close(x.grad!.f32(), c.grad, 1e-6, `${name} grad`);
  }
});

test("NLL over log-softmax equals PyTorch's value and gradient", () => {
  const L = R.losses;
  const x = leaf(L.logits, L.shape);
  const loss = nllLoss(logSoftmax(x), L.nll.targets);
  close(loss.f32(), [L.nll.loss], 1e-6, "nll");
  backward(loss);
  close(x.grad!.f32(), L.nll.grad, 1e-6, "nll grad");
});

test("MSE, BCE with logits and Gaussian KL equal PyTorch's values and gradients", () => {
  const L = R.losses;
  const p = leaf(L.mse.pred, [3, 4]);
  const mse = mseLoss(p, Tensor.fromArray(L.mse.target, [3, 4]));
  close(mse.f32(), [L.mse.loss], 1e-6, "mse");
  backward(mse);
  close(p.grad!.f32(), L.mse.grad, 1e-6, "mse grad");
  const z = leaf(L.bce.logits, [3, 4]);
  const bce = bceWithLogits(z, Tensor.fromArray(L.bce.target, [3, 4]));
  close(bce.f32(), [L.bce.loss], 1e-6, "bce");
  backward(bce);
  close(z.grad!.f32(), L.bce.grad, 1e-6, "bce grad");
  const mu = leaf(L.kl.mu, [3, 4]);
  const lv = leaf(L.kl.logvar, [3, 4]);
  const kl = gaussianKL(mu, lv, "batchmean");
  close(kl.f32(), [L.kl.loss], 1e-6, "kl");
  backward(kl);
  close(mu.grad!.f32(), L.kl.grad_mu, 1e-6, "kl grad mu");
  close(lv.grad!.f32(), L.kl.grad_logvar, 1e-6, "kl grad logvar");
});

test("loss gradients pass finite differences, including targets of MSE and BCE", () => {
  const t = [2, -100, 0, 1];
  for (const f of [
    (x: Tensor[]) => crossEntropy(x[0]!, t, { labelSmoothing: 0.2 }),
    (x: Tensor[]) => nllLoss(logSoftmax(x[0]!), t, { reduction: "sum" }),
    (x: Tensor[]) => ops.softmax(logSoftmax(x[0]!)),
  ])
    gradcheck(f, [randTensor([4, 3], 50, 2)]);
  gradcheck((x) => mseLoss(x[0]!, x[1]!, "sum"), [randTensor([5], 51), randTensor([5], 52)]);
  gradcheck((x) => bceWithLogits(x[0]!, x[1]!), [randTensor([6], 53, 3), randTensor([6], 54)]);
  gradcheck((x) => gaussianKL(x[0]!, x[1]!, "mean"), [randTensor([2, 3], 55), randTensor([2, 3], 56)]);
});

test("losses refuse bad targets and shapes with clear errors", () => {
  const x = randTensor([2, 3], 57);
  assert.throws(() => crossEntropy(x, [0, 3]), /target 3 at row 1 is outside \[0, 3\)/);
  assert.throws(() => crossEntropy(x, [0]), /1 targets for 2 rows/);
  assert.throws(() => crossEntropy(x, [0, 1], { labelSmoothing: 2 }), /label smoothing/);
  assert.throws(() => mseLoss(x, randTensor([3, 2], 58)), /differ/);
  assert.ok(Number.isNaN(crossEntropy(x, [-100, -100]).f32()[0]));
});

function runOptimizer(make: (w: Tensor, b: Tensor) => Optimizer): { w: number[]; b: number[] } {
  const O = R.optim;
  const w = leaf(O.init.w, [3, 4]);
  const b = leaf(O.init.b, [4]);
  const opt = make(w, b);
  for (const g of O.grads) {
    w.grad = Tensor.fromArray(g.w, [3, 4]);
    b.grad = Tensor.fromArray(g.b, [4]);
    opt.step();
  }
  return { w: w.toArray(), b: b.toArray() };
}

test("SGD (plain, momentum + weight decay, Nesterov), Adam and AdamW match PyTorch over three steps", () => {
  const cases: [string, (w: Tensor, b: Tensor) => Optimizer][] = [
    ["sgd", (w, b) => new SGD([w, b], { lr: 0.1 })],
    ["sgd_momentum_wd", (w, b) => new SGD([w, b], { lr: 0.1, momentum: 0.9, weightDecay: 0.01 })],
    [
      "sgd_nesterov",
      (w, b) => new SGD([w, b], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 }),
    ],
    ["adam_wd", (w, b) => new Adam([w, b], { lr: 0.01, weightDecay: 0.01 })],
    // A plain list: AdamW decays the matrix only, as the fixture's explicit groups do.
    ["adamw", (w, b) => new AdamW([w, b], { lr: 0.01, betas: [0.9, 0.95], weightDecay: 0.1 })],
  ];
  for (const [name, make] of cases) {
    const got = runOptimizer(make);
    close(got.w, R.optim[name].w, 2e-6, `${name} w`);
    close(got.b, R.optim[name].b, 2e-6, `${name} b`);
  }
});

test("AdamW's default groups leave vectors undecayed: a zero gradient moves only matrices", () => {
  const w = leaf([1, 1, 1, 1], [2, 2]);
  const b = leaf([1, 1], [2]);
  const opt = new AdamW([w, b], { lr: 0.1, weightDecay: 0.5 });
  w.grad = Tensor.zeros([2, 2]);
  b.grad = Tensor.zeros([2]);
  opt.step();
  close(w.toArray(), [0.95, 0.95, 0.95, 0.95], 1e-7, "decayed");
  assert.deepEqual(b.toArray(), [1, 1]);
  assert.throws(() => new SGD([], { lr: 1 }), /no parameters/);
  assert.throws(() => new SGD([w], { lr: 1, nesterov: true }), /Nesterov/);
});

test("optimizer state round-trips: a restored optimizer continues identically", () => {
  const mk = () => [leaf([0.5, -0.25, 1, 2], [2, 2]), leaf([0.1, 0.2], [2])];
  const [w1, b1] = mk() as [Tensor, Tensor];
  const [w2, b2] = mk() as [Tensor, Tensor];
  const o1 = new AdamW([w1, b1], { lr: 0.05 });
  const grads = [
    [0.3, -0.2, 0.1, 0.4],
    [-0.1, 0.5, 0.2, -0.3],
  ];
  for (const g of grads) {
    w1.grad = Tensor.fromArray(g, [2, 2]);
    b1.grad = Tensor.fromArray(g.slice(0, 2), [2]);
    o1.step();
  }
  w2.f32().set(w1.f32());
  b2.f32().set(b1.f32());
  const o2 = new AdamW([w2, b2], { lr: 0.05 });
  o2.loadStateDict(o1.stateDict());
  for (const [w, b, o] of [
    [w1, b1, o1],
    [w2, b2, o2],
  ] as const) {
    w.grad = Tensor.fromArray([0.2, 0.2, -0.7, 0.1], [2, 2]);
    b.grad = Tensor.fromArray([0.3, 0.3], [2]);
    o.step();
  }
  assert.deepEqual(w2.toArray(), w1.toArray());
  assert.deepEqual(b2.toArray(), b1.toArray());
});

test("clipGradNorm equals torch.nn.utils.clip_grad_norm_", () => {
  const C = R.clip;
  const w = leaf(R.optim.init.w, [3, 4]);
  const b = leaf(R.optim.init.b, [4]);
  w.grad = Tensor.fromArray(R.optim.grads[0].w, [3, 4]);
  b.grad = Tensor.fromArray(R.optim.grads[0].b, [4]);
  const norm = clipGradNorm([w, b], C.max_norm);
  close([norm], [C.total_norm], 1e-6, "norm");
  close(w.grad.f32(), C.w, 1e-6, "w");
  close(b.grad.f32(), C.b, 1e-6, "b");
  assert.equal(clipGradNorm([w, b], 100), Math.hypot(...w.grad.f32(), ...b.grad.f32()));
});

test("schedules: constant, nanoGPT warmup + cosine, inverse square root (hand-computed)", () => {
  assert.equal(constantLr(3e-4)(1234), 3e-4);
  const s = warmupCosine({ maxLr: 1e-3, minLr: 1e-4, warmupIters: 100, decayIters: 2000 });
  close(
    [s(0), s(99), s(100), s(1050), s(2000), s(5000)],
    [1e-3 / 101, 1e-3 * (100 / 101), 1e-3, 5.5e-4, 1e-4, 1e-4],
    1e-12,
    "cosine",
  );
  // At 1/4 of the decay: min + (max − min)·(1 + cos(π/4))/2.
  close([s(575)], [1e-4 + (9e-4 * (1 + Math.SQRT1_2)) / 2], 1e-12, "quarter");
  const v = inverseSqrt(512, 4000);
  // Peak at step = warmup (it = 3999): 512^-0.5 · 4000^-0.5.
  close(
    [v(3999), v(0), v(15999)],
    [1 / Math.sqrt(512 * 4000), 4000 ** -1.5 / Math.sqrt(512), 1 / Math.sqrt(512 * 16000)],
    1e-12,
    "invsqrt",
  );
  assert.ok(v(3998) < v(3999) && v(4000) < v(3999));
});
