// The wasm training kernels against the reference: the GEMM behind Kernels.matmul (every transpose, overwrite and
// accumulate, bias, odd sizes, sizes past one K/N block, operands inside and outside wasm memory, threads equal to
// one thread), the batched attention forward against the reference kernel and its gradient against autograd's
// loops (GQA, sliding window, odd sizes), the GELU (both forms) / SiLU / LayerNorm / bias gradients of assembly/train-ops.ts against
// autograd on the reference backend, and the AdamW / clipping passes of assembly/optim.ts against the optimizer's
// loops.

import { test } from "node:test";
import assert from "node:assert/strict";
import "../src/backends/reference/index.js";
import { referenceKernels as ref } from "../src/backends/reference/index.js";
import { initWasmBackend } from "../src/backends/wasm/index.js";
import { backward, dense } from "../src/autograd/index.js";
import { attentionBackward } from "../src/autograd/grads/attention.js";
import { backendName, setBackend, type AttentionParams, type MatmulParams } from "../src/tensor/backend.js";
import * as ops from "../src/tensor/ops.js";
import { Tensor } from "../src/tensor/tensor.js";
import { crossEntropy } from "../src/train/losses/cross-entropy.js";
import { AdamW, clipGradNorm } from "../src/train/optim/index.js";
import { rng } from "./helpers/fixtures.js";

const wasm = initWasmBackend();
const wk = wasm.kernels;

function randoms(n: number, r: () => number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (r() * 2 - 1) * scale;
  return a;
}

/** A copy of a inside wasm memory. */
function inArena(a: Float32Array): Float32Array {
  const b = wasm.arena.alloc(a.length * 4);
  const f = new Float32Array(b.buffer, b.byteOffset, a.length);
  f.set(a);
  return f;
}

function assertClose(got: Float32Array, want: Float32Array, tol: number, what: string): void {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (!(d <= tol * (1 + Math.abs(want[i]!)))) assert.fail(`${what}: [${i}] ${got[i]} vs ${want[i]}`);
  }
}

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 5, 7],
  [4, 8, 4],
  [13, 9, 17],
  [37, 65, 33],
  [70, 260, 300], // more than one KC block of depth
  [50, 300, 260], // more than one MC block of rows, NC block of columns and KC block of depth
  [6, 20, 9], // a 12-wide and an 8-wide column panel of whole 3-row tiles
  [9, 16, 5], // a 12-wide and a 4-wide column panel
  [5, 3, 0],
];

test("wasm matmul equals the reference for every layout, with bias and accumulation, odd sizes", () => {
  const r = rng(11);
  for (const [M, N, K] of SHAPES)
    for (const transA of [false, true])
      for (const transB of [false, true])
        for (const accumulate of [false, true])
          for (const withBias of [false, true])
            for (const staged of [false, true]) {
              const a = randoms(M * K, r);
              const b = randoms(K * N, r);
              const bias = withBias ? randoms(N, r) : null;
              const init = randoms(M * N, r);
              const p: MatmulParams = { M, N, K, transA, transB, accumulate };
              const want = init.slice();
              ref.matmul(a, b, bias, p, want);
              const wrap = (x: Float32Array) => (staged ? x : inArena(x));
              const out = wrap(init.slice());
              wk.matmul(wrap(a), wrap(b), bias ? wrap(bias) : null, p, out);
              assertClose(out, want, 1e-5 * Math.sqrt(K + 1), `${M}x${N}x${K} ${JSON.stringify(p)}`);
            }
});

test("wasm matmul rejects buffers that are too small", () => {
  const p: MatmulParams = { M: 2, N: 2, K: 2, transA: false, transB: false, accumulate: false };
  assert.throws(
    () => wk.matmul(new Float32Array(3), new Float32Array(4), null, p, new Float32Array(4)),
    /small/,
  );
});

function attnCase(
  B: number,
  T: number,
  nHeads: number,
  nKvHeads: number,
  hd: number,
  window: number,
  seed: number,
): void {
  const r = rng(seed);
  const p: AttentionParams = {
    T,
    S: T,
    nHeads,
    nKvHeads,
    headDim: hd,
    queryPos: 0,
    window,
    scale: 1 / Math.sqrt(hd),
  };
  const nq = B * T * nHeads * hd;
  const nkv = B * T * nKvHeads * hd;
  const [q, dout] = [randoms(nq, r, 2), randoms(nq, r)];
  const [k, v] = [randoms(nkv, r, 2), randoms(nkv, r)];
  const want = [new Float32Array(nq), new Float32Array(nkv), new Float32Array(nkv)] as const;
  const qn = T * nHeads * hd;
  const kn = T * nKvHeads * hd;
  for (let b = 0; b < B; b++) {
    const sq = (x: Float32Array) => x.subarray(b * qn, (b + 1) * qn);
    const sk = (x: Float32Array) => x.subarray(b * kn, (b + 1) * kn);
    attentionBackward(sq(q), sk(k), sk(v), sq(dout), p, sq(want[0]), sk(want[1]), sk(want[2]));
  }
  const outWant = new Float32Array(nq);
  for (let b = 0; b < B; b++) {
    const sq = (x: Float32Array) => x.subarray(b * qn, (b + 1) * qn);
    const sk = (x: Float32Array) => x.subarray(b * kn, (b + 1) * kn);
    ref.attention(sq(q), sk(k), sk(v), p, sq(outWant));
  }
  const outGot = randoms(nq, r); // overwritten
  wk.causalAttention!(q, k, v, B, p, outGot);
  assertClose(outGot, outWant, 2e-5, `forward B${B} T${T} h${nHeads}/${nKvHeads} hd${hd} w${window}`);
  const got = [randoms(nq, r), randoms(nkv, r), randoms(nkv, r)] as const; // added into: start from noise
  const start = got.map((g) => g.slice());
  wk.attentionBackward!(q, k, v, dout, B, p, got[0], got[1], got[2]);
  ["dq", "dk", "dv"].forEach((name, i) => {
    const delta = got[i]!.map((g, j) => g - start[i]![j]!);
    assertClose(delta, want[i]!, 2e-5, `${name} B${B} T${T} h${nHeads}/${nKvHeads} hd${hd} w${window}`);
  });
}

test("wasm causalAttention and attentionBackward equal the reference kernel and autograd's loops (GQA, window, odd sizes)", () => {
  attnCase(1, 1, 1, 1, 4, 0, 1);
  attnCase(2, 5, 2, 2, 8, 0, 2);
  attnCase(3, 13, 4, 2, 12, 0, 3);
  attnCase(2, 9, 6, 1, 4, 3, 4);
  attnCase(2, 7, 3, 3, 5, 0, 6); // a head size that is not a multiple of 4
  attnCase(1, 70, 2, 1, 16, 9, 7); // T past one GEMM micro-panel multiple
  attnCase(12, 64, 4, 4, 32, 0, 5);
});

test("wasm attentionBackward refuses what it does not compute", () => {
  const p: AttentionParams = {
    T: 2,
    S: 3,
    nHeads: 1,
    nKvHeads: 1,
    headDim: 3,
    queryPos: 1,
    window: 0,
    scale: 1,
  };
  const z = () => new Float32Array(9);
  assert.throws(() => wk.attentionBackward!(z(), z(), z(), z(), 1, p, z(), z(), z()), /queryPos 0/);
});

test("threads: wasm matmul, causalAttention and attentionBackward split across the pool give the one-thread results", async () => {
  const r = rng(21);
  const [M, N, K] = [67, 45, 29];
  const a = randoms(M * K, r);
  const b = randoms(K * N, r);
  const pm: MatmulParams = { M, N, K, transA: true, transB: false, accumulate: false };
  const pa: AttentionParams = {
    T: 7,
    S: 7,
    nHeads: 4,
    nKvHeads: 2,
    headDim: 8,
    queryPos: 0,
    window: 0,
    scale: 0.3,
  };
  const [q, dout] = [randoms(3 * 7 * 4 * 8, r), randoms(3 * 7 * 4 * 8, r)];
  const [k, v] = [randoms(3 * 7 * 2 * 8, r), randoms(3 * 7 * 2 * 8, r)];
  const run = () => {
    const out = new Float32Array(M * N);
    wk.matmul(a, b, null, pm, out);
    const g = [new Float32Array(q.length), new Float32Array(k.length), new Float32Array(k.length)] as const;
    wk.attentionBackward!(q, k, v, dout, 3, pa, g[0], g[1], g[2]);
    const o = new Float32Array(q.length);
    wk.causalAttention!(q, k, v, 3, pa, o);
    return [out, ...g, o];
  };
  assert.equal(await wasm.setThreads(1), 1);
  const one = run();
  const minSplitWork = wasm.minSplitWork;
  wasm.minSplitWork = 0;
  try {
    const used = await wasm.setThreads(2);
    const many = run();
    one.forEach((x, i) => assert.deepEqual(many[i], x, `threads=${used} output ${i}`));
  } finally {
    wasm.minSplitWork = minSplitWork;
    assert.equal(await wasm.setThreads(1), 1);
  }
});

/** Gradients of f's inputs, with the named backend active. */
function gradsOn(
  backend: string,
  f: (xs: Tensor[]) => Tensor,
  inputs: Float32Array[],
  shapes: number[][],
): Float32Array[] {
  const before = backendName();
  setBackend(backend);
  try {
    const xs = inputs.map((a, i) => {
      const t = Tensor.fromArray(a, shapes[i]!);
      t.requiresGrad = true;
      return t;
    });
    const y = f(xs);
    const r = rng(99);
    backward(y, Tensor.fromArray(randoms(y.size, r), y.shape));
    return xs.map((x) => x.grad!.f32().slice());
  } finally {
    setBackend(before);
  }
}

test("fused GELU (tanh and exact), SiLU, LayerNorm and bias gradients on wasm equal autograd's loops on the reference backend", () => {
  const r = rng(31);
  const cases: [string, (xs: Tensor[]) => Tensor, number[][]][] = [
    ["geluTanh", ([x]) => ops.geluTanh(x!), [[7, 13]]],
    ["geluTanh wide", ([x]) => ops.geluTanh(x!), [[3, 8]]],
    ["gelu", ([x]) => ops.gelu(x!), [[7, 13]]],
    ["gelu wide", ([x]) => ops.gelu(x!), [[3, 8]]],
    ["silu", ([x]) => ops.silu(x!), [[7, 13]]],
    ["layerNorm", ([x, w, b]) => ops.layerNorm(x!, w!, b!, 1e-5), [[9, 12], [12], [12]]],
    ["layerNorm no bias", ([x, w]) => ops.layerNorm(x!, w!, null, 1e-5), [[5, 8], [8]]],
    ["rmsNorm", ([x, w]) => ops.rmsNorm(x!, w!, 1e-5), [[9, 12], [12]]],
    ["rmsNorm odd rows (fallback)", ([x, w]) => ops.rmsNorm(x!, w!, 1e-5), [[4, 7], [7]]],
    ["layerNorm odd rows (fallback)", ([x, w, b]) => ops.layerNorm(x!, w!, b!, 1e-5), [[4, 7], [7], [7]]],
    ["dense", ([x, w, b]) => dense(x!, w!, b!), [[11, 9], [5, 9], [5]]],
  ];
  for (const [name, f, shapes] of cases) {
    const inputs = shapes.map((s) =>
      randoms(
        s.reduce((a, b) => a * b, 1),
        r,
        3,
      ),
    );
    const want = gradsOn("reference", f, inputs, shapes);
    const got = gradsOn("wasm", f, inputs, shapes);
    got.forEach((g, i) => assertClose(g, want[i]!, 2e-5, `${name} input ${i}`));
  }
});

test("fused cross-entropy on wasm (label smoothing, ignored rows, odd class counts, mean and sum) equals the reference loops", () => {
  const r = rng(51);
  for (const [N, C] of [
    [7, 65],
    [12, 8],
    [5, 1024],
    [3, 3],
  ] as const) {
    const x = randoms(N * C, r, 6);
    const targets = Array.from({ length: N }, (_, i) => (i % 4 === 2 ? -100 : Math.floor(r() * C)));
    for (const labelSmoothing of [0, 0.1])
      for (const reduction of ["mean", "sum"] as const) {
        const opts = { labelSmoothing, reduction };
        const loss = (backend: string): number => {
          const before = backendName();
          setBackend(backend);
          try {
            return crossEntropy(Tensor.fromArray(x, [N, C]), targets, opts).f32()[0]!;
          } finally {
            setBackend(before);
          }
        };
        const what = `${N}x${C} eps ${labelSmoothing} ${reduction}`;
        const [want, got] = [loss("reference"), loss("wasm")];
        assert.ok(Math.abs(got - want) <= 2e-6 * (1 + Math.abs(want)), `${what}: loss ${got} vs ${want}`);
        const f = ([t]: Tensor[]) => crossEntropy(t!, targets, opts);
        const g = gradsOn("wasm", f, [x], [[N, C]]);
        assertClose(g[0]!, gradsOn("reference", f, [x], [[N, C]])[0]!, 2e-6, `${what} gradient`);
        for (let i = 0; i < N; i++)
          if (targets[i] === -100)
            assert.ok(
              g[0]!.subarray(i * C, i * C + C).every((v) => v === 0),
              `${what} row ${i}`,
            );
      }
  }
});

test("AdamW and gradient clipping with the wasm optimizer kernels track the reference backend's loops", () => {
  const r = rng(41);
  const shapes = [[37, 5], [3], [130]];
  const init = shapes.map((s) =>
    randoms(
      s.reduce((a, b) => a * b, 1),
      r,
    ),
  );
  const gradSteps = [0, 1, 2].map(() =>
    shapes.map((s) =>
      randoms(
        s.reduce((a, b) => a * b, 1),
        r,
        4,
      ),
    ),
  );
  const run = (backend: string) => {
    const before = backendName();
    setBackend(backend);
    try {
      const params = init.map((a, i) => Tensor.fromArray(a, shapes[i]!));
      const opt = new AdamW(params, { lr: 0.01, betas: [0.9, 0.99], weightDecay: 0.1 });
      const norms: number[] = [];
      for (const gs of gradSteps) {
        params.forEach((p, i) => (p.grad = Tensor.fromArray(gs[i]!, p.shape)));
        norms.push(clipGradNorm(params, 1));
        opt.step();
      }
      return {
        xs: params.map((p) => p.f32().slice()),
        norms,
        grads: params.map((p) => p.grad!.f32().slice()),
      };
    } finally {
      setBackend(before);
    }
  };
  const [want, got] = [run("reference"), run("wasm")];
  got.norms.forEach((n, i) => assert.ok(Math.abs(n - want.norms[i]!) < 1e-9 * want.norms[i]!, `norm ${i}`));
  got.grads.forEach((g, i) => assertClose(g, want.grads[i]!, 1e-6, `clipped grad ${i}`));
  got.xs.forEach((x, i) => assertClose(x, want.xs[i]!, 1e-5, `param ${i}`));
});
