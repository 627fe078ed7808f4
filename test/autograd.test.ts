// Every differentiable op's gradient against central finite differences (test/helpers/gradcheck.ts), plus the
// engine's contract: no graph in no-grad mode or without trainable inputs, accumulation, and clear errors.

import { test } from "node:test";
import assert from "node:assert/strict";
import "../src/backends/reference/index.js";
import * as ag from "../src/autograd/index.js";
import { ropeInvFreq } from "../src/nn/rope.js";
import * as ops from "../src/tensor/ops.js";
import { matmulNN, matmulTN } from "../src/autograd/matmul.js";
import { track } from "../src/tensor/grad.js";
import { Tensor } from "../src/tensor/tensor.js";
import { rng } from "./helpers/fixtures.js";
import { gradcheck, randTensor } from "./helpers/gradcheck.js";

function check(name: string, f: (x: Tensor[]) => Tensor, inputs: Tensor[], opts = {}): void {
  test(`gradient of ${name}`, (t) => {
    const r = gradcheck(f, inputs, opts);
    t.diagnostic(`${r.checked} elements, max error ${r.maxError.toExponential(2)}`);
    assert.ok(r.checked > 0);
  });
}

check("linear with bias", ([x, w, b]) => ops.linear(x!, w!, b!), [
  randTensor([2, 3, 4], 1),
  randTensor([5, 4], 2),
  randTensor([5], 3),
]);
check("linear without bias", ([x, w]) => ops.linear(x!, w!), [randTensor([3, 4], 4), randTensor([2, 4], 5)]);
check("embedding (repeated ids)", ([w]) => ops.embedding(w!, [1, 3, 1, 5, 0]), [randTensor([6, 4], 6)]);
check("add", ([a, b]) => ops.add(a!, b!), [randTensor([3, 5], 7), randTensor([3, 5], 8)]);
check("mul (same tensor twice)", ([a]) => ops.mul(a!, a!), [randTensor([7], 9)]);
check("layerNorm", ([x, w, b]) => ops.layerNorm(x!, w!, b!, 1e-5), [
  randTensor([3, 6], 10),
  randTensor([6], 11),
  randTensor([6], 12),
]);
check("rmsNorm", ([x, w]) => ops.rmsNorm(x!, w!, 1e-5), [randTensor([3, 6], 13), randTensor([6], 14)]);
check("gelu (erf)", ([x]) => ops.gelu(x!), [randTensor([20], 15, 2)]);
check("gelu (tanh)", ([x]) => ops.geluTanh(x!), [randTensor([20], 16, 2)]);
check("silu", ([x]) => ops.silu(x!), [randTensor([20], 17, 2)]);
check("softmax", ([x]) => ops.softmax(x!), [randTensor([3, 7], 18, 2)]);
check("rope", ([x]) => ops.rope(x!, [0, 3, 7], ropeInvFreq(8, 10000)), [randTensor([3, 2, 8], 19)]);
check(
  "attention (GQA, cache offset, sliding window)",
  ([q, k, v]) => ops.attention(q!, k!, v!, { queryPos: 2, window: 3, scale: 0.4 }),
  [randTensor([3, 4, 3], 20), randTensor([5, 2, 3], 21), randTensor([5, 2, 3], 22)],
);
check("causalSelfAttention (batched)", ([q, k, v]) => ag.causalSelfAttention(q!, k!, v!), [
  randTensor([2, 4, 2, 3], 23),
  randTensor([2, 4, 2, 3], 24),
  randTensor([2, 4, 2, 3], 25),
]);
check("causalSelfAttention (GQA)", ([q, k, v]) => ag.causalSelfAttention(q!, k!, v!), [
  randTensor([1, 3, 4, 2], 26),
  randTensor([1, 3, 1, 2], 27),
  randTensor([1, 3, 1, 2], 28),
]);
check(
  "causalSelfAttention with attention dropout (fixed seed)",
  ([q, k, v]) => ag.causalSelfAttention(q!, k!, v!, { dropout: { p: 0.3, random: rng(8) } }),
  [randTensor([2, 4, 2, 3], 60), randTensor([2, 4, 1, 3], 61), randTensor([2, 4, 1, 3], 62)],
);
check("reshape", ([x]) => ops.mul(ag.reshape(x!, [6, 2]), ag.reshape(x!, [6, 2])), [randTensor([3, 4], 29)]);
check("narrow (middle dim)", ([x]) => ag.narrow(x!, 1, 1, 2), [randTensor([2, 4, 3], 30)]);
check("transpose", ([x]) => ag.transpose(x!, 0, 2), [randTensor([2, 3, 4], 31)]);
check("sum, mean, scale", ([x]) => ops.add(ag.sum(ag.scale(x!, 3)), ag.mean(x!)), [randTensor([5], 32)]);
check("dropout (fixed seed)", ([x]) => ag.dropout(x!, 0.3, true, rng(5)), [randTensor([30], 33)]);
check(
  "composite MLP (shared input, accumulated gradients)",
  ([x, w1, w2]) => {
    const h = ops.geluTanh(ops.linear(x!, w1!));
    return ops.add(
      ops.linear(h, w2!),
      ops.linear(ops.layerNorm(h, ag.param(Tensor.fromArray([1, 1, 1])), null, 1e-5), w2!),
    );
  },
  [randTensor([2, 4], 34), randTensor([3, 4], 35), randTensor([3, 3], 36)],
);

test("the checker fails on a wrong gradient rule", () => {
  ag.registerGradient("testTripleWrong", (grad) => [ag.scale(grad, 2.9)]);
  const triple = (x: Tensor): Tensor =>
    track(
      Tensor.fromArray(
        x.f32().map((v) => 3 * v),
        x.shape,
      ),
      "testTripleWrong",
      [x],
    );
  assert.throws(() => gradcheck(([x]) => triple(x!), [randTensor([3], 66)]), /analytic/);
});

test("dropout: eval mode and p = 0 pass the input through; training zeroes about p and scales by 1/(1-p)", () => {
  const x = randTensor([2000], 40);
  assert.equal(ag.dropout(x, 0.5, false, rng(1)), x);
  assert.equal(ag.dropout(x, 0, true, rng(1)), x);
  const y = ag.dropout(x, 0.25, true, rng(1)).f32();
  let zeros = 0;
  y.forEach((v, i) => {
    if (v === 0) zeros++;
    else assert.ok(Math.abs(v - x.f32()[i]! / 0.75) < 1e-6);
  });
  assert.ok(zeros > 400 && zeros < 600, `${zeros} zeros`);
  assert.deepEqual(ag.dropout(x, 0.25, true, rng(1)).f32(), y);
  assert.throws(() => ag.dropout(x, 1, true, rng(1)), /probability/);
});

test("attention dropout: p = 0 equals the kernel path; p > 0 changes the output", () => {
  const [q, k, v] = [
    randTensor([1, 5, 2, 4], 63),
    randTensor([1, 5, 2, 4], 64),
    randTensor([1, 5, 2, 4], 65),
  ];
  const plain = ag.causalSelfAttention(q, k, v).f32();
  assert.deepEqual(ag.causalSelfAttention(q, k, v, { dropout: { p: 0, random: rng(1) } }).f32(), plain);
  const d = ag.causalSelfAttention(q, k, v, { dropout: { p: 0.5, random: rng(1) } }).f32();
  assert.notDeepEqual(d, plain);
  // Row 0 attends to itself only: its output is v[0] (kept, ×2) or zero (dropped).
  for (let h = 0; h < 2; h++) {
    const o = d.subarray(h * 4, h * 4 + 4);
    const vv = v.f32().subarray(h * 4, h * 4 + 4);
    assert.ok(o.every((x) => x === 0) || o.every((x, i) => Math.abs(x - 2 * vv[i]!) < 1e-6));
  }
});

test("no graph is recorded in no-grad mode or without trainable inputs", () => {
  const w = randTensor([3, 4], 41);
  const x = Tensor.fromArray([1, 2, 3, 4], [1, 4]);
  const y = ag.noGrad(() => ops.linear(x, w));
  assert.equal(y.gradNode, null);
  assert.equal(y.requiresGrad, false);
  w.requiresGrad = false;
  const z = ops.linear(x, w);
  assert.equal(z.gradNode, null);
  assert.deepEqual(z.f32(), y.f32());
  w.requiresGrad = true;
  assert.equal(ops.linear(x, w).gradNode?.op, "linear");
  assert.equal(ag.isGradEnabled(), true);
});

test("backward accumulates into .grad across calls (gradient accumulation) and zeroGrad clears it", () => {
  const w = randTensor([2, 3], 42);
  const x = Tensor.fromArray([1, -2, 0.5], [1, 3]);
  ag.backward(ag.sum(ops.linear(x, w)));
  const once = Array.from(w.grad!.f32());
  assert.deepEqual(once, [1, -2, 0.5, 1, -2, 0.5]);
  ag.backward(ag.sum(ops.linear(x, w)));
  assert.deepEqual(
    Array.from(w.grad!.f32()),
    once.map((v) => 2 * v),
  );
  ag.zeroGrad([w]);
  assert.equal(w.grad, null);
});

test("backward refuses outputs without a graph, non-scalar outputs without a gradient, and quantized weights", () => {
  assert.throws(() => ag.backward(Tensor.fromArray([1])), /does not require grad/);
  const w = randTensor([2, 3], 43);
  const y = ops.linear(Tensor.fromArray([1, 2, 3], [1, 3]), w);
  assert.throws(() => ag.backward(y), /non-scalar/);
  assert.throws(() => ag.backward(y, Tensor.fromArray([1, 2, 3])), /does not match/);
  assert.throws(() => ag.param(Tensor.zeros([2], "i32")), /f32/);
});

test("the backward matmul helpers equal naive products on sizes that are not multiples of 4", () => {
  const r = rng(70);
  for (const [M, N, K] of [
    [1, 1, 1],
    [5, 7, 3],
    [8, 4, 9],
    [6, 13, 2],
  ] as const) {
    const a = Float32Array.from({ length: M * N }, () => r() - 0.5);
    const b = Float32Array.from({ length: N * K }, () => r() - 0.5);
    const c = Float32Array.from({ length: M * K }, () => r() - 0.5);
    const nn = matmulNN(a, b, M, N, K);
    const tn = matmulTN(a, c, M, N, K);
    for (let m = 0; m < M; m++)
      for (let k = 0; k < K; k++) {
        let s = 0;
        for (let n = 0; n < N; n++) s += a[m * N + n]! * b[n * K + k]!;
        assert.ok(Math.abs(nn[m * K + k]! - s) < 1e-6);
      }
    for (let n = 0; n < N; n++)
      for (let k = 0; k < K; k++) {
        let s = 0;
        for (let m = 0; m < M; m++) s += a[m * N + n]! * c[m * K + k]!;
        assert.ok(Math.abs(tn[n * K + k]! - s) < 1e-6);
      }
  }
});
