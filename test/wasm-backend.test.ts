// The wasm SIMD backend against the reference kernels: linear on f32/f16/Q8_0/Q4_0 weights (odd sizes,
// unaligned offsets, operands inside and outside wasm memory; exact and quantized-activation paths), every half
// pattern, row kernels, attention, the arena, threads (bit-equal to one thread), and end to end (stories260K
// model card sample on one and two threads, tiny GGUF tokens equal to the reference's). It runs on the kernel
// module DECODERKIT_WASM_SIMD names, else the relaxed-SIMD one where it validates (wasm-backend-baseline.test.ts
// runs it on the baseline module).

import { test } from "node:test";
import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import "../src/backends/reference/index.js";
import { referenceKernels as ref } from "../src/backends/reference/index.js";
import { initWasmBackend, WASM_LINEAR_DTYPES } from "../src/backends/wasm/index.js";
import { webAssembly } from "../src/backends/wasm/runtime.js";
import { relaxedSimdSupported } from "../src/backends/wasm/simd.js";
import { DTYPES, type DType } from "../src/tensor/dtype.js";
import { dequantizeRow, quantizeRow, type QuantizeDType } from "../src/tensor/quant.js";
import { Tensor } from "../src/tensor/tensor.js";
import type { AttentionParams } from "../src/tensor/backend.js";
import { loadModel } from "../src/models/load.js";
import { F32KVCache } from "../src/cache/kv-cache.js";
import {
  attentionRanges,
  attentionUnits,
  minShareColumns,
  rangeUnits,
  shareBounds,
} from "../src/backends/wasm/tasks.js";
import { rng } from "./helpers/fixtures.js";
import { modelCardSample, runCli, STORIES_BIN, STORIES_TOK, TINY_LLAMA_GGUF } from "./helpers/paths.js";

const wasm = initWasmBackend();
const { arena } = wasm;
const wk = wasm.kernels;

test("the backend runs the kernel module asked for (DECODERKIT_WASM_SIMD, else relaxed where it validates)", () => {
  const asked = process.env["DECODERKIT_WASM_SIMD"];
  if (asked === "baseline" || asked === "relaxed") assert.equal(wasm.simd, asked);
  else assert.equal(wasm.simd, relaxedSimdSupported(webAssembly()) ? "relaxed" : "baseline");
});

/** Runs f with the given activation mode, restoring the default after. */
function withQuantizedActivations<T>(on: boolean, f: () => T): T {
  const before = wasm.quantizeActivations;
  wasm.quantizeActivations = on;
  try {
    return f();
  } finally {
    wasm.quantizeActivations = before;
  }
}

function randoms(n: number, r: () => number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (r() * 2 - 1) * scale;
  return a;
}

/** n floats inside wasm memory, starting `skew` bytes past a 64-byte boundary. */
function arenaF32(values: Float32Array, skew = 4): Float32Array {
  const b = arena.alloc(values.length * 4 + skew);
  const a = new Float32Array(b.buffer, b.byteOffset + skew, values.length);
  a.set(values);
  return a;
}

/** A weight [N, K] of `dtype` made from random values, stored in wasm memory (at a byte skew) or on the heap. */
function weight(dtype: DType, N: number, K: number, r: () => number, inArena: boolean, skew: number): Tensor {
  const src = randoms(N * K, r);
  const bytes = (N * K * DTYPES[dtype].blockBytes) / DTYPES[dtype].blockSize;
  const raw = inArena ? arena.alloc(bytes + skew).subarray(skew) : new Uint8Array(bytes);
  const rowBytes = bytes / N;
  for (let n = 0; n < N; n++) {
    if (dtype === "f32")
      new Float32Array(raw.buffer, raw.byteOffset + n * rowBytes, K).set(src.subarray(n * K, n * K + K));
    else quantizeRow(dtype as QuantizeDType, src, n * K, K, raw, n * rowBytes);
  }
  return Tensor.fromBytes(dtype, [N, K], raw);
}

/** Tolerance for one output: 1e-6 of the sum of |terms| (f32 vs the reference's f64 sums; observed ≤ 7e-8). */
function bounds(x: Float32Array, M: number, K: number, w: Tensor, bias: Float32Array | null): Float32Array {
  const N = w.shape[0]!;
  const info = DTYPES[w.dtype];
  const row = new Float32Array(K);
  const t = new Float32Array(M * N);
  for (let n = 0; n < N; n++) {
    dequantizeRow(w.dtype, w.bytes(), (n * K * info.blockBytes) / info.blockSize, row, 0, K);
    for (let m = 0; m < M; m++) {
      let s = bias ? Math.abs(bias[n]!) : 0;
      for (let k = 0; k < K; k++) s += Math.abs(x[m * K + k]! * row[k]!);
      t[m * N + n] = 1e-6 * s + 1e-7;
    }
  }
  return t;
}

function assertClose(got: Float32Array, want: Float32Array, tol: Float32Array | number, what: string): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < got.length; i++) {
    const t = typeof tol === "number" ? tol * (1 + Math.abs(want[i]!)) : tol[i]!;
    if (!(Math.abs(got[i]! - want[i]!) <= t))
      assert.fail(`${what}: [${i}] wasm ${got[i]} vs reference ${want[i]} (tolerance ${t})`);
  }
}

const CASES: [DType, number[], number[]][] = [
  ["f32", [37, 4, 1, 64, 133], [1, 2, 3, 9, 17, 40]],
  ["f16", [37, 8, 7, 64, 133], [1, 3, 9, 17]],
  ["bf16", [37, 8, 7, 64, 133], [1, 3, 9, 17]],
  ["q8_0", [32, 96, 160], [1, 3, 9, 17, 40]],
  ["q4_0", [32, 96, 160], [1, 3, 9, 17]],
];

test("wasm linear matches the reference on f32, f16, bf16, Q8_0 and Q4_0 weights of odd sizes (exact path)", () =>
  withQuantizedActivations(false, () => {
    const r = rng(1);
    let cases = 0;
    for (const [dtype, Ks, Ms] of CASES) {
      for (const K of Ks) {
        for (const N of [5, 7]) {
          for (const M of Ms) {
            const skew = dtype === "f32" ? 4 : dtype === "f16" || dtype === "bf16" ? 2 : 3;
            const w = weight(dtype, N, K, r, true, skew);
            const xs = randoms(M * K, r);
            const bs = randoms(N, r);
            for (const placement of ["heap", "arena"] as const) {
              const x = placement === "heap" ? xs : arenaF32(xs, 4);
              const bias = (M + K) % 2 ? null : placement === "heap" ? bs : arenaF32(bs, 8);
              const want = new Float32Array(M * N);
              ref.linear(x, M, K, w, bias, want);
              const got =
                placement === "heap" ? new Float32Array(M * N) : arenaF32(new Float32Array(M * N), 12);
              wk.linear(x, M, K, w, bias, got);
              assertClose(got, want, bounds(x, M, K, w, bias), `${dtype} M=${M} K=${K} N=${N} ${placement}`);
              cases++;
            }
          }
        }
      }
    }
    assert.ok(cases > 100);
  }));

/**
 * Tolerance of the quantized-activation path: x is rounded to q8 blocks (d = max|x_block| / 127, so each x
 * moves by at most d / 2), which moves an output by at most Σ_blocks (max|x_block| / 254) · Σ_block |w|;
 * on top, the f32 rounding allowance of `bounds` and 1e-6 of that bound for the f32 scale arithmetic.
 */
function quantizedBounds(
  x: Float32Array,
  M: number,
  K: number,
  w: Tensor,
  bias: Float32Array | null,
): Float32Array {
  const N = w.shape[0]!;
  const info = DTYPES[w.dtype];
  const row = new Float32Array(K);
  const t = bounds(x, M, K, w, bias);
  for (let n = 0; n < N; n++) {
    dequantizeRow(w.dtype, w.bytes(), (n * K * info.blockBytes) / info.blockSize, row, 0, K);
    for (let m = 0; m < M; m++) {
      let q = 0;
      for (let b = 0; b < K; b += 32) {
        let amax = 0;
        let wsum = 0;
        for (let i = b; i < b + 32; i++) {
          amax = Math.max(amax, Math.abs(x[m * K + i]!));
          wsum += Math.abs(row[i]!);
        }
        q += (amax / 254) * wsum;
      }
      t[m * N + n] = t[m * N + n]! + q * (1 + 1e-6);
    }
  }
  return t;
}

test("wasm Q8_0/Q4_0 linear on quantized activations is within the x rounding bound of the reference", () => {
  const r = rng(11);
  let cases = 0;
  let worst = 0;
  for (const dtype of ["q8_0", "q4_0"] as const) {
    for (const K of [32, 96, 160, 512]) {
      for (const [M, N] of [1, 3, 9, 17, 40].flatMap((M) => [
        [M, 1],
        [M, 7],
        [M, 13],
      ])) {
        const w = weight(dtype, N, K, r, true, 3);
        const x = randoms(M * K, r);
        const bias = M % 2 ? randoms(N, r) : null;
        const want = new Float32Array(M * N);
        ref.linear(x, M, K, w, bias, want);
        const got = new Float32Array(M * N);
        withQuantizedActivations(true, () => wk.linear(x, M, K, w, bias, got));
        const tol = quantizedBounds(x, M, K, w, bias);
        assertClose(got, want, tol, `${dtype} quantized M=${M} K=${K} N=${N}`);
        for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / tol[i]!);
        // Not the exact path: the x rounding is visible.
        const exact = new Float32Array(M * N);
        withQuantizedActivations(false, () => wk.linear(x, M, K, w, bias, exact));
        assert.notDeepEqual(got, exact);
        cases++;
      }
    }
  }
  assert.ok(cases === 120 && worst < 1);
});

test("wasm quantized linear falls back to the exact path when x holds inf or NaN", () => {
  const r = rng(12);
  const w = weight("q8_0", 3, 64, r, true, 0);
  for (const bad of [Infinity, NaN]) {
    const x = randoms(64, r);
    x[5] = bad;
    const want = new Float32Array(3);
    const got = new Float32Array(3);
    withQuantizedActivations(false, () => wk.linear(x, 1, 64, w, null, want));
    withQuantizedActivations(true, () => wk.linear(x, 1, 64, w, null, got));
    assert.deepEqual(got, want);
  }
});

test("wasm linear falls back to the reference for weights outside wasm memory and other dtypes", () => {
  const r = rng(2);
  for (const dtype of ["f32", "q8_0", "q4_1"] as DType[]) {
    const K = DTYPES[dtype].blockSize === 256 ? 256 : 64;
    const inArena = dtype !== "f32" && dtype !== "q8_0";
    let w: Tensor;
    if (dtype === "q4_1") {
      // No quantizer for these: random blocks whose half scales are kept small and finite.
      const bytes = (3 * K * DTYPES[dtype].blockBytes) / DTYPES[dtype].blockSize;
      const raw = arena.alloc(bytes);
      for (let i = 0; i < bytes; i++) raw[i] = Math.floor(r() * 256);
      for (let i = 0; i < bytes; i += DTYPES[dtype].blockBytes) {
        raw[i + 1] = 0x20;
        raw[i + 3] = 0x20;
      }
      w = Tensor.fromBytes(dtype, [3, K], raw);
    } else w = weight(dtype as QuantizeDType | "f32", 3, K, r, inArena, 0);
    assert.equal(WASM_LINEAR_DTYPES[dtype] === undefined || !inArena, true);
    for (const M of [1, 9]) {
      const x = randoms(M * K, r);
      const want = new Float32Array(M * 3);
      const got = new Float32Array(M * 3);
      ref.linear(x, M, K, w, null, want);
      wk.linear(x, M, K, w, null, got);
      assert.deepEqual(got, want, `${dtype} M=${M}`);
    }
  }
});

test("wasm f16 conversion is exact for all 65536 half patterns (SIMD lanes and scalar tails)", () => {
  // with inf/NaN present (the full conversion), then every finite pattern alone (the shorter one)
  const finite = Array.from({ length: 65536 }, (_, h) => h).filter((h) => (h & 0x7c00) !== 0x7c00);
  const all = Array.from({ length: 65536 }, (_, h) => h);
  for (const [patterns, K] of [
    [all, 8],
    [all, 7],
    [finite, 8],
    [finite, 7],
  ] as const) {
    const N = Math.ceil(patterns.length / K);
    const raw = arena.alloc(N * K * 2 + 2).subarray(2);
    for (let i = 0; i < N * K; i++) {
      const h = patterns[i % patterns.length]!;
      raw[2 * i] = h & 0xff;
      raw[2 * i + 1] = (h >> 8) & 0xff;
    }
    const w = Tensor.fromBytes("f16", [N, K], raw);
    for (const M of [1, 2]) {
      for (let j = 0; j < K; j++) {
        const x = new Float32Array(M * K);
        for (let m = 0; m < M; m++) x[m * K + j] = 1;
        const want = new Float32Array(M * N);
        const got = new Float32Array(M * N);
        ref.linear(x, M, K, w, null, want);
        wk.linear(x, M, K, w, null, got);
        for (let i = 0; i < got.length; i++) {
          const ok = Number.isNaN(want[i]!) ? Number.isNaN(got[i]!) : got[i] === want[i];
          if (!ok) assert.fail(`K=${K} M=${M} column ${j} row ${i % N}: ${got[i]} vs ${want[i]}`);
        }
      }
    }
  }
});

test("wasm rmsnorm and softmax match the reference (odd widths, -inf rows, in and out of wasm memory)", () => {
  const r = rng(3);
  for (const D of [1, 3, 8, 37, 130]) {
    for (const M of [1, 4]) {
      const x = randoms(M * D, r, 3);
      const w = randoms(D, r);
      const want = new Float32Array(M * D);
      const got = new Float32Array(M * D);
      ref.rmsnorm(x, M, D, w, 1e-5, want);
      wk.rmsnorm(x, M, D, w, 1e-5, got);
      assertClose(got, want, 2e-6, `rmsnorm D=${D} M=${M}`);
      const gotArena = arenaF32(new Float32Array(M * D), 20);
      wk.rmsnorm(arenaF32(x), M, D, arenaF32(w, 36), 1e-5, gotArena);
      assertClose(gotArena, want, 2e-6, `rmsnorm in memory D=${D} M=${M}`);

      const sx = randoms(M * D, r, 10);
      if (M > 1) sx.fill(-Infinity, 0, D);
      const sw = Float32Array.from(sx);
      ref.softmax(sw, M, D);
      const sg = Float32Array.from(sx);
      wk.softmax(sg, M, D);
      assertClose(sg, sw, 2e-6, `softmax D=${D} M=${M}`);
      const sa = arenaF32(sx, 8);
      wk.softmax(sa, M, D);
      assertClose(sa, sw, 2e-6, `softmax in memory D=${D} M=${M}`);
    }
  }
});

test("wasm silu matches the reference (odd lengths, large |x|, NaN and +inf, in and out of wasm memory)", () => {
  const r = rng(11);
  for (const n of [1, 2, 3, 4, 5, 7, 31, 130, 2049]) {
    const x = randoms(n, r, 12);
    if (n > 4) x.set([0, -0, 100, -100, 87.5, -87.5].slice(0, Math.min(6, n - 1)));
    const want = new Float32Array(n);
    const got = new Float32Array(n);
    ref.silu(x, want);
    wk.silu(x, got);
    assertClose(got, want, 1e-6, `silu n=${n}`);
    const ax = arenaF32(x, 12);
    wk.silu(ax, ax); // in place, inside the memory
    assertClose(ax, want, 1e-6, `silu in memory n=${n}`);
  }
  const special = Float32Array.from([NaN, Infinity, 1, NaN, 2]);
  const got = new Float32Array(5);
  wk.silu(special, got);
  assert.ok(Number.isNaN(got[0]!) && Number.isNaN(got[3]!));
  assert.equal(got[1], Infinity);
});

test("a KV cache on the arena's memory: attention reads it in place; outgrown and released rows are reused", () => {
  const shape = { nLayers: 2, nKvHeads: 2, headDim: 8, maxLength: 64 };
  const r = rng(12);
  const onArena = new F32KVCache(shape, arena);
  const onHeap = new F32KVCache(shape);
  const p = { T: 1, nHeads: 4, nKvHeads: 2, headDim: 8, window: 0, scale: 1 / Math.sqrt(8) };
  for (let step = 0; step < 40; step++) {
    for (let l = 0; l < 2; l++) {
      const k = new Tensor("f32", [1, 2, 8], randoms(16, r));
      const v = new Tensor("f32", [1, 2, 8], randoms(16, r));
      const a = onArena.update(l, k, v);
      const h = onHeap.update(l, k, v);
      assert.ok(arena.offsetOf(a.k.f32()) >= 0 && arena.offsetOf(a.v.f32()) >= 0);
      const q = randoms(32, r);
      const got = new Float32Array(32);
      const want = new Float32Array(32);
      const ps = { ...p, S: step + 1, queryPos: step };
      wk.attention(q, a.k.f32(), a.v.f32(), ps, got);
      ref.attention(q, h.k.f32(), h.v.f32(), ps, want);
      assertClose(got, want, 1e-5, `attention over the arena cache, step ${step}`);
    }
    onArena.commit(1);
    onHeap.commit(1);
  }
  assert.equal(onArena.bytes, onHeap.bytes);
  const used = arena.usedBytes;
  onArena.release();
  assert.equal(onArena.length, 0);
  const again = new F32KVCache(shape, arena); // capacities 16, 32, 64: all from the free list
  for (let step = 0; step < 40; step++) {
    const kv = new Tensor("f32", [1, 2, 8], randoms(16, r));
    again.update(0, kv, kv);
    again.update(1, kv, kv);
    again.commit(1);
  }
  assert.equal(arena.usedBytes, used, "a second cache of the same shape takes no new arena bytes");
  again.release();
});

test("wasm attention matches the reference (GQA, sliding window, prefill and decode rows, weights of exactly 0)", () => {
  const r = rng(4);
  const shapes: (Omit<AttentionParams, "scale"> & { scale?: number })[] = [
    { T: 1, S: 1, nHeads: 2, nKvHeads: 2, headDim: 8, queryPos: 0, window: 0 },
    { T: 1, S: 37, nHeads: 8, nKvHeads: 4, headDim: 8, queryPos: 36, window: 0 },
    { T: 5, S: 5, nHeads: 4, nKvHeads: 1, headDim: 6, queryPos: 0, window: 0 },
    { T: 3, S: 20, nHeads: 6, nKvHeads: 2, headDim: 64, queryPos: 17, window: 7 },
    { T: 4, S: 9, nHeads: 3, nKvHeads: 3, headDim: 13, queryPos: 5, window: 0 },
    { T: 1, S: 150, nHeads: 4, nKvHeads: 2, headDim: 16, queryPos: 149, window: 0 },
    { T: 3, S: 200, nHeads: 2, nKvHeads: 1, headDim: 12, queryPos: 197, window: 130 },
    { T: 70, S: 70, nHeads: 2, nKvHeads: 2, headDim: 8, queryPos: 0, window: 0 },
    // four heads to a key/value head, scored together, their values summed two at a time (hd 64, 32), or one by
    // one (hd 20, not a multiple of 16); six to a head: a chunk of four, then one of two
    { T: 1, S: 151, nHeads: 8, nKvHeads: 1, headDim: 64, queryPos: 150, window: 0 },
    { T: 2, S: 71, nHeads: 12, nKvHeads: 2, headDim: 20, queryPos: 69, window: 40 },
    { T: 1, S: 97, nHeads: 32, nKvHeads: 4, headDim: 32, queryPos: 96, window: 0 },
    // large scales: many scores fall more than 60 below the maximum, so their weights are exactly 0
    { T: 1, S: 150, nHeads: 8, nKvHeads: 2, headDim: 32, queryPos: 149, window: 0, scale: 40 },
    { T: 2, S: 90, nHeads: 8, nKvHeads: 1, headDim: 64, queryPos: 88, window: 0, scale: 25 },
    // one query over more than 128 keys: split by keys into ranges (tasks.ts attentionRanges), merged in order;
    // a range of one key, a window, heads not a multiple of 16 wide, MHA, and ranges far below the maximum
    { T: 1, S: 257, nHeads: 8, nKvHeads: 2, headDim: 16, queryPos: 256, window: 0 },
    { T: 1, S: 600, nHeads: 32, nKvHeads: 4, headDim: 64, queryPos: 599, window: 0 },
    { T: 1, S: 1030, nHeads: 6, nKvHeads: 2, headDim: 20, queryPos: 1029, window: 700 },
    { T: 1, S: 520, nHeads: 3, nKvHeads: 3, headDim: 8, queryPos: 519, window: 0 },
    { T: 1, S: 700, nHeads: 8, nKvHeads: 2, headDim: 32, queryPos: 699, window: 0, scale: 40 },
  ];
  for (const s of shapes) {
    const p = { ...s, scale: s.scale ?? 1 / Math.sqrt(s.headDim) };
    // scores of a few hundred carry f32 rounding of about 1e-4 (the kernel's dot products against the
    // reference's), which the exps turn into relative errors of that size in the weights
    const tol = s.scale ? 2e-4 : 1e-5;
    const q = randoms(p.T * p.nHeads * p.headDim, r, 2);
    const k = randoms(p.S * p.nKvHeads * p.headDim, r, 2);
    const v = randoms(p.S * p.nKvHeads * p.headDim, r);
    const want = new Float32Array(q.length);
    const got = new Float32Array(q.length);
    ref.attention(q, k, v, p, want);
    wk.attention(q, k, v, p, got);
    assertClose(got, want, tol, `attention ${JSON.stringify(s)}`);
    const gotArena = arenaF32(new Float32Array(q.length));
    wk.attention(arenaF32(q), arenaF32(k, 8), v, p, gotArena);
    assertClose(gotArena, want, tol, `attention in memory ${JSON.stringify(s)}`);
  }
});

test("the arena hands out zeroed 64-byte aligned ranges and keeps old views usable across growth", () => {
  const a = arena.alloc(100);
  assert.equal(a.byteOffset % 64, 0);
  assert.ok(a.every((b) => b === 0));
  const before = arena.memory.buffer.byteLength;
  const x = arenaF32(Float32Array.from([1, 2, 3, 4, 5]));
  const big = arena.alloc(before + (1 << 20)); // forces grow(): memory.buffer becomes a new object
  assert.ok(arena.memory.buffer.byteLength > before);
  assert.notEqual(big.buffer, x.buffer);
  assert.ok(arena.offsetOf(x) >= 0, "a view made before growth is still recognised");
  assert.deepEqual(Array.from(x), [1, 2, 3, 4, 5]);
  const w = weight("f32", 2, 5, rng(5), true, 4);
  const out = new Float32Array(2);
  const want = new Float32Array(2);
  wk.linear(x, 1, 5, w, null, out);
  ref.linear(x, 1, 5, w, null, want);
  assertClose(out, want, 1e-6, "linear on a pre-growth view");
  assert.equal(arena.offsetOf(new Float32Array(4)), -1);
  assert.throws(() => arena.alloc(-1), /refusing/);
});

test("GGUF weights loaded into the arena stay there (q/k rows permuted in place)", async () => {
  const { checkpoint } = await loadModel(TINY_LLAMA_GGUF, { allocator: arena });
  for (const [name, t] of checkpoint.tensors) {
    assert.ok(arena.offsetOf(t.data) >= 0, `${name} is outside wasm memory`);
  }
});

test("shares cover the columns (or x rows) once, shrinking to small multiples of 4 (of 16 for rows)", () => {
  for (const parts of [2, 3, 8]) {
    for (const N of [1, 4, 31, 32, 33, 256, 261, 2048, 5632, 32000]) {
      const b = Array.from(shareBounds(N, parts));
      assert.equal(b[0], 0);
      assert.equal(b.at(-1), N);
      for (let i = 1; i < b.length; i++) {
        const size = b[i]! - b[i - 1]!;
        assert.ok(size > 0, `N=${N} parts=${parts}`);
        if (i < b.length - 1) assert.ok(size % 4 === 0 && size >= 32, `N=${N} parts=${parts} share ${size}`);
        if (i > 1) assert.ok(size <= b[i - 1]! - b[i - 2]!, `N=${N} parts=${parts}: shares shrink`);
      }
      if (N >= 2048) assert.ok(b[1]! <= Math.ceil(N / (2 * parts)) + 4 && b.at(-1)! - b.at(-2)! <= 32);
      // prompts (several rows of x) take shares down to 4 columns
      const p = Array.from(shareBounds(N, parts, minShareColumns(32)));
      assert.equal(p.at(-1), N);
      for (let i = 1; i < p.length - 1; i++)
        assert.ok((p[i]! - p[i - 1]!) % 4 === 0 && p[i]! - p[i - 1]! >= 4);
      if (N >= 2048) assert.ok(p.at(-1)! - p.at(-2)! <= 4);
      // long prompts split by x rows: shares of whole chunks of 32 rows
      const m = Array.from(shareBounds(N, parts, 32, 32));
      assert.equal(m.at(-1), N);
      for (let i = 1; i < m.length - 1; i++)
        assert.ok((m[i]! - m[i - 1]!) % 32 === 0 && m[i]! - m[i - 1]! >= 32);
    }
  }
  assert.deepEqual([1, 2, 4, 7, 8, 32, 500].map(minShareColumns), [32, 16, 8, 8, 4, 4, 4]);
});

test("attention units: every head once, in order, chunks of at most four within a key/value head, the tail one by one", () => {
  for (const [H, KV] of [
    [32, 4],
    [12, 2],
    [7, 7],
    [2, 1],
    [40, 8],
    [6, 3],
  ] as const) {
    for (const parts of [2, 3]) {
      const b = Array.from(attentionUnits(H, KV, parts));
      const group = H / KV;
      assert.equal(b[0], 0);
      assert.equal(b.at(-1), H);
      for (let i = 0; i < b.length; i += 2) {
        const [h0, h1] = [b[i]!, b[i + 1]!];
        if (i > 0) assert.equal(h0, b[i - 1], `H=${H} KV=${KV}: contiguous`);
        assert.ok(h1 - h0 >= 1 && h1 - h0 <= 4, `H=${H} KV=${KV}: unit of ${h1 - h0}`);
        assert.equal(
          Math.floor(h0 / group),
          Math.floor((h1 - 1) / group),
          `H=${H} KV=${KV}: one key/value head`,
        );
        if (h0 >= H - 2 * parts) assert.equal(h1 - h0, 1, `H=${H} KV=${KV}: tail head ${h0} alone`);
      }
    }
  }
  assert.deepEqual(Array.from(attentionUnits(16, 2, 2)), [0, 4, 4, 8, 8, 12, 12, 13, 13, 14, 14, 15, 15, 16]);
});

test("decode attention ranges: every (range, head) once, ranges in order, head parts at chunk bounds", () => {
  assert.equal(attentionRanges(1, 128, 127, 0), 1);
  assert.equal(attentionRanges(1, 129, 128, 0), 2);
  assert.equal(attentionRanges(4, 1000, 996, 0), 1); // prompts are not split by keys
  assert.equal(attentionRanges(1, 1000, 999, 300), 3); // 300 keys in the window
  for (const [H, KV] of [
    [32, 4],
    [8, 8],
    [6, 2],
    [12, 3],
  ] as const) {
    for (const parts of [1, 2, 3]) {
      for (const nr of [2, 3, 5, 9, 40]) {
        const u = Array.from(rangeUnits(H, KV, parts, nr));
        const seen = new Set<string>();
        let last = -1;
        for (let i = 0; i < u.length; i += 3) {
          const [r, h0, h1] = [u[i]!, u[i + 1]!, u[i + 2]!];
          assert.ok(r >= last && r < nr && h0 < h1 && h1 <= H, `${H}/${KV} parts ${parts} nr ${nr}: ${u}`);
          last = r;
          const g = H / KV;
          // a unit starts where a chunk starts: at a key/value head's first head or four heads on
          assert.equal((h0 % g) % 4, 0);
          for (let h = h0; h < h1; h++) seen.add(`${r}:${h}`);
        }
        assert.equal(seen.size, nr * H);
        if (nr >= 2 * parts) assert.equal(u.length, 3 * nr, "whole ranges when there are enough of them");
      }
    }
  }
});

test("threaded linear and attention equal one thread bit for bit (odd N and M, split by N and by M)", async () => {
  const r = rng(13);
  const cases: { dtype: DType; K: number; N: number; M: number; quant: boolean }[] = [];
  for (const dtype of ["f32", "f16", "q8_0", "q4_0"] as DType[]) {
    const K = dtype === "f32" || dtype === "f16" ? 37 : 96;
    // 261 rows: decode products pair rows within spans of 128 (linear-relaxed.ts), whose bounds move with the split
    for (const N of [1, 5, 37, 101, 261]) {
      // 150 rows: split by x rows on two threads, in shares taken from the counter
      for (const M of [1, 3, 17, 41, 150]) {
        cases.push({ dtype, K, N, M, quant: false });
        if (dtype === "q8_0" || dtype === "q4_0") cases.push({ dtype, K, N, M, quant: true });
      }
    }
  }
  const inputs = cases.map((c) => ({
    ...c,
    w: weight(c.dtype, c.N, c.K, r, true, c.dtype === "f32" ? 4 : 2),
    x: randoms(c.M * c.K, r),
    bias: c.N % 2 ? randoms(c.N, r) : null,
  }));
  const attn: AttentionParams[] = [
    { T: 1, S: 37, nHeads: 7, nKvHeads: 7, headDim: 16, queryPos: 36, window: 0, scale: 0.25 },
    { T: 9, S: 20, nHeads: 6, nKvHeads: 2, headDim: 13, queryPos: 11, window: 5, scale: 0.3 },
    // threads take chunks of four heads (eight chunks here) from the shared counter
    { T: 1, S: 133, nHeads: 16, nKvHeads: 2, headDim: 32, queryPos: 132, window: 0, scale: 0.2 },
    { T: 3, S: 77, nHeads: 12, nKvHeads: 2, headDim: 64, queryPos: 74, window: 0, scale: 0.1 },
    // split by keys: units of key ranges (and head parts) from the shared counter, merged by the last to finish
    { T: 1, S: 900, nHeads: 16, nKvHeads: 2, headDim: 32, queryPos: 899, window: 0, scale: 0.2 },
    { T: 1, S: 2100, nHeads: 8, nKvHeads: 8, headDim: 16, queryPos: 2099, window: 1500, scale: 0.3 },
  ].map((p) => ({ ...p }));
  const attnIn = attn.map((p) => ({
    p,
    q: randoms(p.T * p.nHeads * p.headDim, r, 2),
    k: randoms(p.S * p.nKvHeads * p.headDim, r, 2),
    v: randoms(p.S * p.nKvHeads * p.headDim, r),
  }));
  const runAll = (): Float32Array[] => [
    ...inputs.map((c) => {
      const out = new Float32Array(c.M * c.N);
      withQuantizedActivations(c.quant, () => wk.linear(c.x, c.M, c.K, c.w, c.bias, out));
      return out;
    }),
    ...attnIn.map((a) => {
      const out = new Float32Array(a.q.length);
      wk.attention(a.q, a.k, a.v, a.p, out);
      return out;
    }),
  ];
  assert.equal(await wasm.setThreads(1), 1);
  const one = runAll();
  const minSplitWork = wasm.minSplitWork;
  wasm.minSplitWork = 0; // split even the smallest cases
  try {
    for (const n of [2, 3]) {
      const used = await wasm.setThreads(n);
      assert.equal(used, Math.min(n, availableParallelism()));
      assert.equal(wasm.threads, used);
      const many = runAll();
      for (let i = 0; i < one.length; i++) assert.deepEqual(many[i], one[i], `threads=${used} case ${i}`);
    }
  } finally {
    wasm.minSplitWork = minSplitWork;
    assert.equal(await wasm.setThreads(1), 1);
  }
});

test("CLI --threads 2: stories260K greedy prints the model card sample", () => {
  const r = runCli([
    "generate",
    "--threads",
    "2",
    "--model",
    STORIES_BIN,
    "--tokenizer",
    STORIES_TOK,
    "--temperature",
    "0",
    "--max-new-tokens",
    "256",
    "--json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { text: string; backend: string; threads: number };
  assert.equal(out.backend, "wasm");
  assert.equal(out.threads, Math.min(2, availableParallelism()));
  assert.equal(out.text, modelCardSample());
});

test("CLI --backend wasm: stories260K greedy prints the model card sample", () => {
  const r = runCli([
    "generate",
    "--backend",
    "wasm",
    "--model",
    STORIES_BIN,
    "--tokenizer",
    STORIES_TOK,
    "--temperature",
    "0",
    "--max-new-tokens",
    "256",
  ]);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  assert.equal(r.stdout, modelCardSample() + "\n");
});

test("CLI: tiny random Llama GGUF (f16) greedy tokens are the same on wasm and reference", () => {
  const run = (backend: string): { tokens: number[]; backend: string } => {
    const r = runCli([
      "generate",
      "--backend",
      backend,
      "--model",
      TINY_LLAMA_GGUF,
      "--temperature",
      "0",
      "--max-new-tokens",
      "48",
      "--json",
      "Hello world",
    ]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { tokens: number[]; backend: string };
  };
  const w = run("wasm");
  const ref = run("reference");
  assert.equal(w.backend, "wasm");
  assert.equal(ref.backend, "reference");
  assert.ok(w.tokens.length > 0);
  assert.deepEqual(w.tokens, ref.tokens);
});

test("CLI rejects an unknown --backend", () => {
  const r = runCli(["generate", "--backend", "cuda", "hi"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--backend/);
});

test("wasm gelu, gelu-tanh, add and mul match the reference (odd lengths, large |x|, NaN, in and out of memory)", () => {
  const r = rng(21);
  for (const n of [1, 2, 3, 4, 5, 7, 31, 130, 2049]) {
    const x = randoms(n, r, 8);
    if (n > 4) x.set([0, -0, 50, -50, 9.5, -9.5].slice(0, Math.min(6, n - 1)));
    const y = randoms(n, r, 3);
    for (const name of ["gelu", "geluTanh"] as const) {
      const want = new Float32Array(n);
      const got = new Float32Array(n);
      ref[name](x, want);
      wk[name](x, got);
      assertClose(got, want, 2e-6, `${name} n=${n}`);
      const ax = arenaF32(x, 12);
      wk[name](ax, ax);
      assertClose(ax, want, 2e-6, `${name} in memory n=${n}`);
    }
    for (const name of ["add", "mul"] as const) {
      const want = new Float32Array(n);
      ref[name](x, y, want);
      const got = new Float32Array(n);
      wk[name](x, y, got);
      assert.deepEqual(got, want, `${name} n=${n}`);
      const ax = arenaF32(x, 4);
      wk[name](ax, arenaF32(y, 8), ax);
      assert.deepEqual(ax, want, `${name} in memory n=${n}`);
    }
  }
  for (const name of ["gelu", "geluTanh"] as const) {
    const special = Float32Array.from([NaN, Infinity, -Infinity, 1e30, -1e30]);
    const got = new Float32Array(special.length);
    const want = new Float32Array(special.length);
    wk[name](special, got);
    ref[name](special, want);
    assert.deepEqual(got, want, name); // NaN, inf and the saturations exactly as the reference
  }
});

test("wasm layernorm and rope match the reference (odd widths, partial rotary dims, in and out of memory)", () => {
  const r = rng(22);
  for (const D of [1, 3, 8, 37, 130]) {
    for (const M of [1, 4]) {
      const x = randoms(M * D, r, 3);
      for (let i = 0; i < x.length; i++) x[i]! += 5; // an offset mean, as LayerNorm sees in practice
      const w = randoms(D, r);
      const b = M > 1 ? randoms(D, r) : null;
      const want = new Float32Array(M * D);
      ref.layernorm(x, M, D, w, b, 1e-5, want);
      const got = new Float32Array(M * D);
      wk.layernorm(x, M, D, w, b, 1e-5, got);
      assertClose(got, want, 1e-5, `layernorm D=${D} M=${M}`);
      const ga = arenaF32(new Float32Array(M * D), 20);
      wk.layernorm(arenaF32(x), M, D, arenaF32(w, 36), b && arenaF32(b, 4), 1e-5, ga);
      assertClose(ga, want, 1e-5, `layernorm in memory D=${D} M=${M}`);
    }
  }
  for (const [T, H, hd, half] of [
    [1, 2, 8, 4],
    [3, 3, 64, 32],
    [5, 2, 12, 3], // partial rotary (phi-style), odd half
    [2, 1, 10, 5],
  ] as const) {
    const x = randoms(T * H * hd, r, 2);
    const invFreq = Float32Array.from({ length: half }, (_, i) => Math.pow(10000, -(2 * i) / (2 * half)));
    const positions = Array.from({ length: T }, (_, t) => 1000 + 7 * t);
    const want = Float32Array.from(x);
    ref.rope(want, T, H, hd, positions, invFreq);
    const got = Float32Array.from(x);
    wk.rope(got, T, H, hd, positions, invFreq);
    assertClose(got, want, 1e-6, `rope T=${T} H=${H} hd=${hd}`);
    const ga = arenaF32(x, 8);
    wk.rope(ga, T, H, hd, positions, invFreq);
    assertClose(ga, want, 1e-6, `rope in memory T=${T} H=${H} hd=${hd}`);
  }
});
