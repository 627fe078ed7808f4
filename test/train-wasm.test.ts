// The GPT-2 training step against PyTorch's (test/fixtures/gpt2-train-step.json) with the wasm SIMD backend
// active and the parameters in its arena, so that the forward pass runs the SIMD GEMM and attention kernels and the
// attention gradient its fused kernel, with the backward matmuls on loops or on the GEMM too (backendMatmul); op
// gradients with the wasm forward kernels.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import "../src/backends/reference/index.js";
import {
  backward,
  backendMatmul,
  causalSelfAttention,
  loopMatmul,
  reshape,
  setMatmulKernels,
} from "../src/autograd/index.js";
import * as ops from "../src/tensor/ops.js";
import { gradcheck, randTensor } from "./helpers/gradcheck.js";
import { matmulNN, matmulTN } from "../src/autograd/matmul.js";
import { rng } from "./helpers/fixtures.js";
import { initWasmBackend } from "../src/backends/wasm/index.js";
import { backendName, setBackend } from "../src/tensor/backend.js";
import {
  getAllocator,
  heapAllocator,
  setAllocator,
  setCacheAllocator,
  setFrameAllocator,
} from "../src/tensor/storage.js";
import { activateTrainingBackend } from "../src/cli/train-backend.js";
import { splitTrainVal } from "../src/train/data/batches.js";
import { CharTokenizer } from "../src/train/data/char-tokenizer.js";
import { Trainer } from "../src/train/loop.js";
import { Tensor } from "../src/tensor/tensor.js";
import { gpt2HFConfig, TrainableGPT2 } from "../src/train/gpt2.js";
import { crossEntropy } from "../src/train/losses/index.js";

const F = JSON.parse(fs.readFileSync("test/fixtures/gpt2-train-step.json", "utf8")) as {
  config: { vocab_size: number; n_layer: number; n_head: number; n_embd: number; n_positions: number };
  B: number;
  T: number;
  ids: number[];
  targets: number[];
  shapes: Record<string, number[]>;
  loss: number;
  init: Record<string, string>;
  grads: Record<string, string>;
};

function f32(b64: string): Float32Array {
  const buf = Buffer.from(b64, "base64");
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

for (const backwardOnWasm of [false, true])
  test(`a training step on the wasm backend equals PyTorch's gradients (backward matmuls on ${backwardOnWasm ? "the wasm GEMM" : "loops"})`, () => {
    const wasm = initWasmBackend();
    if (backwardOnWasm) setMatmulKernels(backendMatmul);
    const before = [backendName(), getAllocator()] as const;
    setBackend("wasm");
    setAllocator(wasm.arena);
    try {
      const init = new Map(
        Object.entries(F.init).map(([n, b]) => [n, Tensor.fromArray(f32(b), F.shapes[n]!)]),
      );
      const model = new TrainableGPT2(gpt2HFConfig(F.config), init);
      assert.ok(wasm.arena.offsetOf(model.params.get("transformer.h.0.attn.c_attn.weight")!.f32()) >= 0);
      const logits = reshape(model.forward(F.ids, F.B, F.T), [F.B * F.T, F.config.vocab_size]);
      const loss = crossEntropy(logits, F.targets);
      assert.ok(Math.abs(loss.f32()[0]! - F.loss) / F.loss < 1e-6);
      backward(loss);
      for (const [name, p] of model.params) {
        const ref = f32(F.grads[name]!);
        const g = p.grad!.f32();
        let [err, max] = [0, 0];
        ref.forEach((v, i) => {
          max = Math.max(max, Math.abs(v));
          err = Math.max(err, Math.abs(g[i]! - v));
        });
        assert.ok(err / max < 1e-5, `${name}: ${err / max}`);
      }
    } finally {
      setAllocator(before[1]);
      setBackend(before[0]);
      setMatmulKernels(loopMatmul);
    }
  });

test("backendMatmul (the backend's matmul kernel) equals the loops, on wasm and on the reference backend", () => {
  initWasmBackend();
  const before = backendName();
  const r = rng(3);
  try {
    for (const backend of ["wasm", "reference"]) {
      setBackend(backend);
      for (const [M, N, K] of [
        [1, 1, 1],
        [7, 5, 3],
        [33, 17, 9],
      ] as const) {
        const a = Float32Array.from({ length: M * N }, () => r() - 0.5);
        const b = Float32Array.from({ length: N * K }, () => r() - 0.5);
        const c = Float32Array.from({ length: M * K }, () => r() - 0.5);
        setMatmulKernels(loopMatmul);
        const [nn, tn] = [matmulNN(a, b, M, N, K), matmulTN(a, c, M, N, K)];
        setMatmulKernels(backendMatmul);
        const [nn2, tn2] = [matmulNN(a, b, M, N, K), matmulTN(a, c, M, N, K)];
        nn.forEach((v, i) => assert.ok(Math.abs(v - nn2[i]!) < 1e-5, `${backend} nn`));
        tn.forEach((v, i) => assert.ok(Math.abs(v - tn2[i]!) < 1e-5, `${backend} tn`));
      }
    }
  } finally {
    setBackend(before);
    setMatmulKernels(loopMatmul);
  }
});

test("op gradients pass finite differences with the wasm kernels computing the forward (inputs in the arena)", () => {
  const wasm = initWasmBackend();
  const before = [backendName(), getAllocator()] as const;
  setBackend("wasm");
  setAllocator(wasm.arena);
  try {
    const cases: [string, (x: Tensor[]) => Tensor, Tensor[]][] = [
      [
        "linear",
        ([x, w, b]) => ops.linear(x!, w!, b!),
        [randTensor([3, 5], 1), randTensor([4, 5], 2), randTensor([4], 3)],
      ],
      [
        "layerNorm",
        ([x, w, b]) => ops.layerNorm(x!, w!, b!, 1e-5),
        [randTensor([2, 9], 4), randTensor([9], 5), randTensor([9], 6)],
      ],
      ["rmsNorm", ([x, w]) => ops.rmsNorm(x!, w!, 1e-5), [randTensor([2, 9], 7), randTensor([9], 8)]],
      ["gelu", ([x]) => ops.gelu(x!), [randTensor([11], 9, 2)]],
      ["geluTanh", ([x]) => ops.geluTanh(x!), [randTensor([11], 10, 2)]],
      ["silu", ([x]) => ops.silu(x!), [randTensor([11], 11, 2)]],
      ["softmax", ([x]) => ops.softmax(x!), [randTensor([2, 7], 12, 2)]],
      ["add", ([a, b]) => ops.add(a!, b!), [randTensor([6], 13), randTensor([6], 14)]],
      ["mul", ([a, b]) => ops.mul(a!, b!), [randTensor([6], 15), randTensor([6], 16)]],
      [
        "causalSelfAttention",
        ([q, k, v]) => causalSelfAttention(q!, k!, v!),
        [randTensor([2, 3, 2, 4], 17), randTensor([2, 3, 1, 4], 18), randTensor([2, 3, 1, 4], 19)],
      ],
    ];
    for (const [name, f, inputs] of cases) {
      assert.ok(wasm.arena.offsetOf(inputs[0]!.f32()) >= 0, name);
      assert.ok(gradcheck(f, inputs).checked > 0, name);
    }
  } finally {
    setAllocator(before[1]);
    setBackend(before[0]);
  }
});

test("Trainer on the wasm backend (frames, GEMM, fused gradients, AdamW kernel): accumulation equals one batch", async () => {
  const active = await activateTrainingBackend("wasm", 1);
  try {
    const text = "the cat sat on the mat. the dog sat on the log. ".repeat(10);
    const tok = CharTokenizer.train(text);
    const split = splitTrainVal(tok.encode(text));
    const config = gpt2HFConfig({
      vocab_size: tok.vocabSize,
      n_layer: 1,
      n_head: 2,
      n_embd: 16,
      n_positions: 8,
    });
    const make = () => active.withParamAllocator(() => TrainableGPT2.init(config, 3));
    const opts = {
      steps: 3,
      batch: 4,
      context: 8,
      lr: 1e-2,
      minLr: 1e-3,
      warmup: 1,
      decayIters: 3,
      weightDecay: 0.1,
      betas: [0.9, 0.99] as const,
      gradClip: 1,
      gradAccum: 1,
      evalIters: 1,
      seed: 5,
    };
    const one = new Trainer(make(), split, opts);
    const acc = new Trainer(make(), split, { ...opts, batch: 2, gradAccum: 2 });
    while (!one.done) {
      const [a, b] = [one.trainStep(), acc.trainStep()];
      assert.ok(Math.abs(a - b) < 1e-5, `loss ${a} vs ${b}`);
    }
    for (const [name, p] of one.model.params) {
      const q = acc.model.params.get(name)!.f32();
      p.f32().forEach((v, i) => assert.ok(Math.abs(v - q[i]!) < 1e-5, `${name}[${i}]: ${v} vs ${q[i]}`));
    }
    assert.ok(one.losses.every(Number.isFinite));
  } finally {
    setBackend("reference");
    setFrameAllocator(null);
    setCacheAllocator(heapAllocator);
    setMatmulKernels(loopMatmul);
  }
});
