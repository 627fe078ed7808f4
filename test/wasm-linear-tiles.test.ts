// The wasm linear's M > 1 register tiles (src/backends/wasm/assembly/linear-f32.ts) against the reference on odd
// M, N, K (with and without bias, in and out of wasm memory), and the invariances the "same greedy tokens"
// guarantee rests on: a row's outputs do not depend on M, on where the row or column falls in a tile, on the
// thread count, or (half weights, below the packed GEMM's M) on whether the stored row was f16/bf16 or the same
// values in f32; prompts on half weights (assembly/linear-gemm.ts) against the reference and across M.

import { test } from "node:test";
import assert from "node:assert/strict";
import "../src/backends/reference/index.js";
import { referenceKernels as ref } from "../src/backends/reference/index.js";
import { initWasmBackend } from "../src/backends/wasm/index.js";
import { dequantizeRow, quantizeRow } from "../src/tensor/quant.js";
import { Tensor } from "../src/tensor/tensor.js";
import { rng } from "./helpers/fixtures.js";

const wasm = initWasmBackend();
const wk = wasm.kernels;
const SIZES = [1, 3, 5, 7, 31, 33, 67];

function randoms(n: number, r: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r() * 2 - 1;
  return a;
}

/** A copy of `values` inside wasm memory, `skew` bytes past an allocation's start. */
function inArena(values: Float32Array, skew: number): Float32Array {
  const b = wasm.arena.alloc(values.length * 4 + skew);
  const a = new Float32Array(b.buffer, b.byteOffset + skew, values.length);
  a.set(values);
  return a;
}

function f32Weight(values: Float32Array, N: number, K: number, arena: boolean): Tensor {
  const data = arena ? inArena(values, 8) : Float32Array.from(values);
  return Tensor.fromBytes("f32", [N, K], new Uint8Array(data.buffer, data.byteOffset, N * K * 4));
}

function product(x: Float32Array, M: number, K: number, w: Tensor, bias: Float32Array | null): Float32Array {
  const out = new Float32Array(M * w.shape[0]!);
  wk.linear(x, M, K, w, bias, out);
  return out;
}

test("f32 linear with M > 1 matches the reference on odd M, N, K, with and without bias, x heap and arena", () => {
  const r = rng(21);
  let cases = 0;
  for (const M of [2, 3, 5, 8, 9, 33]) {
    for (const N of SIZES) {
      for (const K of SIZES) {
        const arena = (M + N + K) % 2 === 0;
        const w = f32Weight(randoms(N * K, r), N, K, true); // in wasm memory: else the reference runs
        const x0 = randoms(M * K, r);
        const x = arena ? inArena(x0, 4) : x0;
        const b0 = randoms(N, r);
        const bias = (N + K) % 3 === 0 ? null : arena ? inArena(b0, 12) : b0;
        const want = new Float32Array(M * N);
        ref.linear(x, M, K, w, bias, want);
        const got = product(x, M, K, w, bias);
        const wf = w.f32();
        for (let m = 0; m < M; m++) {
          for (let n = 0; n < N; n++) {
            let s = bias ? Math.abs(bias[n]!) : 0;
            for (let k = 0; k < K; k++) s += Math.abs(x[m * K + k]! * wf[n * K + k]!);
            const i = m * N + n;
            const tol = 1e-6 * s + 1e-7;
            if (!(Math.abs(got[i]! - want[i]!) <= tol))
              assert.fail(`M=${M} N=${N} K=${K}: [${m},${n}] wasm ${got[i]} vs reference ${want[i]}`);
          }
        }
        cases++;
      }
    }
  }
  assert.equal(cases, 6 * SIZES.length * SIZES.length);
});

test("M > 1 outputs do not depend on M or on a row's or column's place in the tiles (bit for bit)", () => {
  const r = rng(22);
  for (const K of [7, 33, 67]) {
    const M = 11;
    const N = 13;
    const wv = randoms(N * K, r);
    const w = f32Weight(wv, N, K, true);
    const x = randoms(M * K, r);
    const bias = randoms(N, r);
    const full = product(x, M, K, w, bias);
    // sub-products of a few rows (any count > 1) in another order, and of a window of weight rows
    for (const rows of [
      [3, 4],
      [10, 0, 5],
      [1, 2, 3, 4, 9],
      [6, 7, 8, 9, 10, 0, 1],
    ]) {
      const xs = new Float32Array(rows.length * K);
      rows.forEach((m, i) => xs.set(x.subarray(m * K, m * K + K), i * K));
      for (const [n0, n1] of [
        [0, N],
        [1, 4],
        [5, 12],
        [2, 13],
      ]) {
        const ws = f32Weight(wv.subarray(n0 * K, n1 * K), n1 - n0, K, true);
        const got = product(xs, rows.length, K, ws, bias.subarray(n0, n1));
        rows.forEach((m, i) => {
          for (let n = n0; n < n1; n++)
            assert.equal(got[i * (n1 - n0) + n - n0], full[m * N + n], `K=${K} row ${m} col ${n} of ${rows}`);
        });
      }
    }
  }
});

test("f16 and bf16 weights with M > 1 give exactly the f32 product of their decoded values", () => {
  const r = rng(23);
  for (const dtype of ["f16", "bf16"] as const) {
    for (const [M, N, K] of [
      [2, 5, 7],
      [5, 9, 33],
      [9, 67, 31],
      [31, 6, 67],
    ] as const) {
      const src = randoms(N * K, r);
      const raw = wasm.arena.alloc(N * K * 2);
      for (let n = 0; n < N; n++) quantizeRow(dtype, src, n * K, K, raw, n * K * 2);
      const w = Tensor.fromBytes(dtype, [N, K], raw);
      const decoded = new Float32Array(N * K);
      for (let n = 0; n < N; n++) dequantizeRow(dtype, raw, n * K * 2, decoded, n * K, K);
      const x = randoms(M * K, r);
      const bias = M % 2 ? randoms(N, r) : null;
      assert.deepEqual(
        product(x, M, K, w, bias),
        product(x, M, K, f32Weight(decoded, N, K, true), bias),
        `${dtype} M=${M} N=${N} K=${K}`,
      );
    }
  }
});

test("prompts on f16/bf16 weights (the packed GEMM where the module has it) match the reference, and a row's outputs do not depend on M", () => {
  const r = rng(25);
  const k = wasm.exports;
  for (const dtype of ["f16", "bf16"] as const) {
    const code = dtype === "f16" ? 1 : 7;
    const from = k.linearGemmRows(code);
    assert.equal(from, wasm.simd === "relaxed" ? 64 : 0, `${dtype} on the ${wasm.simd} module`);
    for (const [M, N, K] of [
      [64, 13, 37],
      [77, 300, 300], // more than one 48-row, 288-column and 256-depth block
      [70, 25, 64],
    ] as const) {
      const src = randoms(N * K, r);
      const raw = wasm.arena.alloc(N * K * 2);
      for (let n = 0; n < N; n++) quantizeRow(dtype, src, n * K, K, raw, n * K * 2);
      const w = Tensor.fromBytes(dtype, [N, K], raw);
      const x = randoms(M * K, r);
      const bias = M % 2 ? randoms(N, r) : null;
      const want = new Float32Array(M * N);
      ref.linear(x, M, K, w, bias, want);
      const got = product(x, M, K, w, bias);
      for (let i = 0; i < want.length; i++)
        assert.ok(
          Math.abs(got[i]! - want[i]!) <= 1e-5 * (1 + Math.abs(want[i]!)),
          `${dtype} ${M}x${N}x${K} [${i}]`,
        );
      // the last `from` rows alone (still the GEMM's M; 32 rows of the tiles without it), in another order: the
      // same bits row by row
      const rows = Array.from({ length: from || 32 }, (_, i) => M - 1 - i);
      const xs = new Float32Array(rows.length * K);
      rows.forEach((m, i) => xs.set(x.subarray(m * K, m * K + K), i * K));
      const sub = product(xs, rows.length, K, w, bias);
      rows.forEach((m, i) =>
        assert.deepEqual(sub.subarray(i * N, i * N + N), got.subarray(m * N, m * N + N), `${dtype} row ${m}`),
      );
    }
  }
});

test("threaded f32 and f16 linear with M > 1 equal one thread bit for bit (split by N and by M)", async () => {
  const r = rng(24);
  const cases = [
    { M: 2, N: 67, K: 33 },
    { M: 5, N: 31, K: 67 },
    { M: 8, N: 7, K: 5 },
    { M: 33, N: 67, K: 31 },
  ].flatMap((c) =>
    (["f32", "f16"] as const).map((dtype) => {
      const src = randoms(c.N * c.K, r);
      const raw = wasm.arena.alloc(c.N * c.K * (dtype === "f32" ? 4 : 2));
      if (dtype === "f32") new Float32Array(raw.buffer, raw.byteOffset, c.N * c.K).set(src);
      else for (let n = 0; n < c.N; n++) quantizeRow(dtype, src, n * c.K, c.K, raw, n * c.K * 2);
      const w = Tensor.fromBytes(dtype, [c.N, c.K], raw);
      return { ...c, w, x: randoms(c.M * c.K, r), bias: c.N % 2 ? randoms(c.N, r) : null };
    }),
  );
  const runAll = (): Float32Array[] => cases.map((c) => product(c.x, c.M, c.K, c.w, c.bias));
  assert.equal(await wasm.setThreads(1), 1);
  const one = runAll();
  const minSplitWork = wasm.minSplitWork;
  wasm.minSplitWork = 0;
  try {
    for (const n of [2, 3]) {
      const used = await wasm.setThreads(n);
      const many = runAll();
      for (let i = 0; i < one.length; i++) assert.deepEqual(many[i], one[i], `threads=${used} case ${i}`);
    }
  } finally {
    wasm.minSplitWork = minSplitWork;
    assert.equal(await wasm.setThreads(1), 1);
  }
});
