// One training step of a tiny GPT-2 against PyTorch (the llm.c method; test/fixtures/gpt2-train-step.json from
// tools/dump_gpt_train_step.py, float64 in PyTorch from the same float32 weights): logits, loss, every parameter
// gradient and the parameters after one AdamW step. Also: the trained weights run unchanged in GPT2LMHeadModel.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import "../src/backends/reference/index.js";
import * as os from "node:os";
import * as path from "node:path";
import { backward, noGrad, reshape, scale } from "../src/autograd/index.js";
import { readCheckpoint } from "../src/io/checkpoint.js";
import { buildModel } from "../src/models/registry.js";
import { GPT2LMHeadModel } from "../src/models/gpt2.js";
import { Tensor } from "../src/tensor/tensor.js";
import { gpt2HFConfig, TrainableGPT2 } from "../src/train/gpt2.js";
import { crossEntropy } from "../src/train/losses/index.js";
import { AdamW, clipGradNorm } from "../src/train/optim/index.js";
import { saveHFModel } from "../src/train/save.js";
import { warmupCosine } from "../src/train/schedules.js";

interface Fixture {
  config: { vocab_size: number; n_layer: number; n_head: number; n_embd: number; n_positions: number };
  adamw: { lr: number; betas: [number, number]; eps: number; weight_decay: number };
  B: number;
  T: number;
  ids: number[];
  targets: number[];
  shapes: Record<string, number[]>;
  loss: number;
  logits: string;
  init: Record<string, string>;
  grads: Record<string, string>;
  after_step: Record<string, string>;
}

const F = JSON.parse(fs.readFileSync("test/fixtures/gpt2-train-step.json", "utf8")) as Fixture;

function f32(b64: string): Float32Array {
  const buf = Buffer.from(b64, "base64");
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

function build(): TrainableGPT2 {
  const init = new Map(Object.entries(F.init).map(([n, b]) => [n, Tensor.fromArray(f32(b), F.shapes[n]!)]));
  return new TrainableGPT2(gpt2HFConfig({ ...F.config, activation_function: "gelu_new" }), init);
}

/** max |a − b| / max |b|: the error relative to the tensor's scale. */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  let err = 0;
  for (let i = 0; i < b.length; i++) {
    max = Math.max(max, Math.abs(b[i]!));
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
  }
  return err / max;
}

/** ‖a − b‖ / ‖b‖. */
function normError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

function adamW(model: TrainableGPT2): AdamW {
  const { lr, betas, eps, weight_decay } = F.adamw;
  return new AdamW(model.parameters(), { lr, betas, eps, weightDecay: weight_decay });
}

/*
 * Tolerances: our forward and backward run in float32 against PyTorch's float64, so each gradient entry carries
 * an absolute rounding error of about 1e-7 of the tensor's largest entries (measured: at most 4.5e-7 of the
 * tensor's max |g|, and 3.2e-7 in norm). Entries far below the tensor's scale therefore have a larger relative
 * error, and so the check is 1e-5 relative to each tensor's scale, plus 1e-6 in norm.
 */
test("one GPT-2 training step equals PyTorch: logits, loss, every gradient, AdamW update", (t) => {
  const model = build();
  const logits = model.forward(F.ids, F.B, F.T); // (B, T, V)
  const logitErr = relError(logits.f32(), f32(F.logits));
  const loss = crossEntropy(reshape(logits, [F.B * F.T, F.config.vocab_size]), F.targets);
  const lossErr = Math.abs(loss.f32()[0]! - F.loss) / F.loss;
  backward(loss);
  let [gradErr, gradNorm, worst] = [0, 0, ""];
  for (const [name, p] of model.params) {
    const ref = f32(F.grads[name]!);
    const e = relError(p.grad!.f32(), ref);
    gradNorm = Math.max(gradNorm, normError(p.grad!.f32(), ref));
    if (e > gradErr) [gradErr, worst] = [e, name];
  }
  adamW(model).step();
  // The key bias's true gradient is zero (softmax ignores a per-row constant); PyTorch's float64 gives ~1e-18
  // and our float32 ~1e-9, which Adam's g/√v normalisation turns into different steps: skip entries whose
  // reference gradient is below 1e-12.
  let stepErr = 0;
  let skipped = 0;
  for (const [name, p] of model.params) {
    const [ref, g] = [f32(F.after_step[name]!), f32(F.grads[name]!)];
    p.f32().forEach((v, i) => {
      if (Math.abs(g[i]!) < 1e-12) skipped++;
      else stepErr = Math.max(stepErr, Math.abs(v - ref[i]!));
    });
  }
  t.diagnostic(
    `logits ${logitErr.toExponential(2)}, loss ${lossErr.toExponential(2)}, gradients ${gradErr.toExponential(2)} ` +
      `of scale (${worst}), ${gradNorm.toExponential(2)} in norm; AdamW max |Δ| ${stepErr.toExponential(2)} ` +
      `(${skipped} zero-gradient entries skipped)`,
  );
  assert.equal(model.params.size, 2 + 12 * F.config.n_layer + 2);
  assert.ok(logitErr < 1e-5, `logits ${logitErr}`);
  assert.ok(lossErr < 1e-6, `loss ${lossErr}`);
  assert.ok(gradErr < 1e-5, `gradient ${worst}: ${gradErr}`);
  assert.ok(gradNorm < 1e-6, `gradient norm error ${gradNorm}`);
  assert.ok(skipped === F.config.n_layer * F.config.n_embd, `${skipped} skipped`);
  assert.ok(stepErr < 1e-6, `AdamW step ${stepErr}`);
});

test("AdamW on PyTorch's gradients gives PyTorch's updated parameters (every entry)", () => {
  const model = build();
  for (const [name, p] of model.params) p.grad = Tensor.fromArray(f32(F.grads[name]!), p.shape);
  adamW(model).step();
  for (const [name, p] of model.params) {
    const ref = f32(F.after_step[name]!);
    p.f32().forEach((v, i) => assert.ok(Math.abs(v - ref[i]!) < 1e-6, `${name}[${i}]: ${v} vs ${ref[i]}`));
  }
});

test("the trained weights run unchanged in GPT2LMHeadModel (same logits as the training forward)", () => {
  const model = build();
  const ids = F.ids.slice(0, F.T);
  const train = noGrad(() => model.forward(ids, 1, F.T)).f32();
  const inference = new GPT2LMHeadModel(model.config, model.params);
  const y = inference.forward(ids, inference.newCache(), { allLogits: true }).f32();
  assert.ok(relError(y, train) < 1e-6);
});

test("training mode applies dropout (seeded); evaluation mode is deterministic; no graph under noGrad", () => {
  const config = gpt2HFConfig({
    vocab_size: 7,
    n_layer: 1,
    n_head: 2,
    n_embd: 8,
    n_positions: 4,
    dropout: 0.2,
  });
  const a = TrainableGPT2.init(config, 3);
  const b = TrainableGPT2.init(config, 3);
  const ids = [1, 2, 3, 4, 5, 6];
  assert.deepEqual(a.forward(ids, 2, 3).f32(), b.forward(ids, 2, 3).f32());
  const ta = a.forward(ids, 2, 3, { training: true }).f32();
  assert.deepEqual(ta, b.forward(ids, 2, 3, { training: true }).f32());
  assert.notDeepEqual(ta, a.forward(ids, 2, 3).f32());
  assert.equal(noGrad(() => a.forward(ids, 2, 3)).gradNode, null);
  assert.throws(() => a.forward(ids, 2, 2), /6 ids for a batch of 2 × 2/);
  assert.throws(() => a.forward([0, 9], 1, 2), /token id 9/);
  assert.throws(() => a.forward([0, 1, 2, 3, 4], 1, 5), /exceed the context/);
});

test("gradient accumulation: two micro-batches of one sequence give the full batch's gradients", () => {
  const config = gpt2HFConfig({ vocab_size: 9, n_layer: 1, n_head: 2, n_embd: 8, n_positions: 6 });
  const full = TrainableGPT2.init(config, 5);
  const micro = TrainableGPT2.init(config, 5);
  const ids = [1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3];
  const targets = [2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4];
  backward(crossEntropy(reshape(full.forward(ids, 2, 6), [12, 9]), targets));
  for (let b = 0; b < 2; b++) {
    const logits = reshape(micro.forward(ids.slice(6 * b, 6 * b + 6), 1, 6), [6, 9]);
    backward(scale(crossEntropy(logits, targets.slice(6 * b, 6 * b + 6)), 0.5));
  }
  for (const [name, p] of full.params) {
    const q = micro.params.get(name)!;
    assert.ok(relError(q.grad!.f32(), p.grad!.f32()) < 1e-5, name);
  }
});

test("training a tiny GPT-2 on a repeating sequence drives the loss down", () => {
  const config = gpt2HFConfig({ vocab_size: 5, n_layer: 1, n_head: 2, n_embd: 16, n_positions: 8 });
  const model = TrainableGPT2.init(config, 1);
  const seq = [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1];
  const ids = [...seq.slice(0, 8), ...seq.slice(5, 13)];
  const targets = [...seq.slice(1, 9), ...seq.slice(6, 14)];
  const opt = new AdamW(model.parameters(), { lr: 1e-2, weightDecay: 0.1 });
  const lr = warmupCosine({ maxLr: 1e-2, minLr: 1e-3, warmupIters: 5, decayIters: 60 });
  const losses: number[] = [];
  for (let it = 0; it < 60; it++) {
    opt.zeroGrad();
    const loss = crossEntropy(reshape(model.forward(ids, 2, 8, { training: true }), [16, 5]), targets);
    losses.push(loss.f32()[0]!);
    backward(loss);
    clipGradNorm(model.parameters(), 1);
    opt.lr = lr(it);
    opt.step();
  }
  assert.ok(losses[0]! > 1.3, `initial loss ${losses[0]}`); // about ln 5 = 1.61
  assert.ok(losses[59]! < 0.1, `final loss ${losses[59]}`);
});

test("saveHFModel writes a Hugging Face folder that loads as GPT2LMHeadModel with the same logits", () => {
  const model = build();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dk-train-"));
  try {
    saveHFModel(dir, model);
    const ck = readCheckpoint(dir);
    const loaded = buildModel(ck.config, ck.tensors);
    const ids = F.ids.slice(0, F.T);
    const y = loaded.forward(ids, loaded.newCache(), { allLogits: true }).f32();
    assert.ok(relError(y, noGrad(() => model.forward(ids, 1, F.T)).f32()) < 1e-6);
    assert.throws(() => saveHFModel(dir, model), /already holds/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("nanoGPT's bias=False GPT-2 with erf GELU: no bias parameters, saved and loaded with the same logits", () => {
  const config = gpt2HFConfig({
    vocab_size: 11,
    n_layer: 2,
    n_head: 2,
    n_embd: 16,
    n_positions: 8,
    bias: false,
    activation_function: "gelu",
  });
  const model = TrainableGPT2.init(config, 7);
  assert.equal(model.params.size, 2 + 6 * 2 + 1);
  assert.ok([...model.params.keys()].every((n) => !n.endsWith(".bias")));
  for (const p of model.parameters()) p.f32().forEach((v, i, a) => (a[i] = v + 0.05 * Math.sin(i + p.size)));
  const ids = [1, 5, 9, 2, 0, 7, 3, 10];
  const train = noGrad(() => model.forward(ids, 1, 8)).f32();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dk-train-"));
  try {
    saveHFModel(dir, model);
    const ck = readCheckpoint(dir);
    assert.equal(ck.config["bias"], false);
    assert.equal(ck.config["activation_function"], "gelu");
    const loaded = buildModel(ck.config, ck.tensors);
    const y = loaded.forward(ids, loaded.newCache(), { allLogits: true }).f32();
    assert.ok(relError(y, train) < 1e-6);
    const resumed = new TrainableGPT2(ck.config, ck.tensors);
    assert.ok(relError(noGrad(() => resumed.forward(ids, 1, 8)).f32(), train) < 1e-7);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => TrainableGPT2.init({ ...config, bias: "no" }, 1), /"bias" must be true or false/);
});
