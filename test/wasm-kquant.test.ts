// The wasm Q4_K/Q6_K linear kernels (src/backends/wasm/assembly/kquant.ts) against the reference kernel: odd N,
// M = 1, 2, 3, 9, 17, K from 256 to 2816, weights encoded from random floats and raw random blocks (every bit
// pattern of scales and nibbles); exact path within f32 rounding, quantized-activation path within the x
// rounding bound; threads bit-equal to one thread; a tiny Q4_K/Q6_K Llama gives the reference's greedy tokens
// (exact path; quantized activations: teacher-forced logits within a few percent, flips only at near ties), and
// llama.cpp, where it runs, computes the same logits from that file.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import "../src/backends/reference/index.js";
import { referenceKernels as ref } from "../src/backends/reference/index.js";
import { initWasmBackend, WASM_LINEAR_DTYPES } from "../src/backends/wasm/index.js";
import { setBackend } from "../src/tensor/backend.js";
import { DTYPES } from "../src/tensor/dtype.js";
import { dequantizeRow } from "../src/tensor/quant.js";
import { Tensor } from "../src/tensor/tensor.js";
import { readGGUF, writeGGUF } from "../src/io/gguf.js";
import type { GGUFType, GGUFValue } from "../src/io/gguf-types.js";
import { loadModel } from "../src/models/load.js";
import { generateTokens } from "../src/generation/generate.js";
import type { KVCache } from "../src/cache/kv-cache.js";
import { rng } from "./helpers/fixtures.js";
import { encodeQ4K, encodeQ6K } from "./helpers/kquant-encode.js";
import { disposeLlamaCpp, llamaCppLastLogits } from "./helpers/llamacpp.js";
import { SHARED, tmpDir } from "./helpers/paths.js";

type KDType = "q4_k" | "q6_k";

const wasm = initWasmBackend();
const { arena } = wasm;
const wk = wasm.kernels;

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

/**
 * A [N, K] k-quant weight in wasm memory (at a byte skew): encoded from random floats, or raw random bytes
 * with each block's f16 scales kept small and finite (so scales, mins and nibbles take every bit pattern).
 */
function weight(
  dtype: KDType,
  N: number,
  K: number,
  r: () => number,
  raw: boolean,
  skew = 3,
  scale = 1,
): Tensor {
  const info = DTYPES[dtype];
  const rowBytes = (K / info.blockSize) * info.blockBytes;
  const bytes = arena.alloc(N * rowBytes + skew).subarray(skew);
  if (raw) {
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(r() * 256);
    for (let o = 0; o < bytes.length; o += info.blockBytes) {
      for (const h of dtype === "q4_k" ? [0, 2] : [208]) bytes[o + h + 1] = 0x20 | (bytes[o + h + 1]! & 0x83);
    }
  } else {
    const src = randoms(N * K, r, scale);
    for (let n = 0; n < N; n++)
      (dtype === "q4_k" ? encodeQ4K : encodeQ6K)(src, n * K, K, bytes, n * rowBytes);
  }
  return Tensor.fromBytes(dtype, [N, K], bytes);
}

function dequantized(w: Tensor): Float32Array {
  const [N, K] = w.shape as [number, number];
  const out = new Float32Array(N * K);
  dequantizeRow(w.dtype, w.bytes(), 0, out, 0, N * K);
  return out;
}

/** 1e-6 of Σ|w·x| (+ |bias|) per output: f32 sums against the reference's f64 ones. */
function bounds(
  x: Float32Array,
  M: number,
  K: number,
  w: Float32Array,
  N: number,
  bias: Float32Array | null,
) {
  const t = new Float32Array(M * N);
  for (let n = 0; n < N; n++) {
    for (let m = 0; m < M; m++) {
      let s = bias ? Math.abs(bias[n]!) : 0;
      for (let k = 0; k < K; k++) s += Math.abs(x[m * K + k]! * w[n * K + k]!);
      t[m * N + n] = 1e-6 * s + 1e-7;
    }
  }
  return t;
}

/**
 * Values per activation scale: the relaxed module quantizes x for k-quant weights in blocks of 256 (llama.cpp's
 * Q8_K), the baseline module in blocks of 32.
 */
function xBlock(): number {
  return wasm.simd === "relaxed" ? 256 : 32;
}

/**
 * bounds plus the x rounding of q8 blocks of xBlock() values: Σ_blocks (max|x_block| / 254) · Σ_block |w|,
 * with 1e-6 slack.
 */
function quantizedBounds(
  x: Float32Array,
  M: number,
  K: number,
  w: Float32Array,
  N: number,
  bias: Float32Array | null,
) {
  const t = bounds(x, M, K, w, N, bias);
  const B = xBlock();
  for (let n = 0; n < N; n++) {
    for (let m = 0; m < M; m++) {
      let q = 0;
      for (let b = 0; b < K; b += B) {
        let amax = 0;
        let wsum = 0;
        for (let i = b; i < b + B; i++) {
          amax = Math.max(amax, Math.abs(x[m * K + i]!));
          wsum += Math.abs(w[n * K + i]!);
        }
        q += (amax / 254) * wsum;
      }
      t[m * N + n] = t[m * N + n]! + q * (1 + 1e-6);
    }
  }
  return t;
}

/** Largest |got − want| / tolerance (fails on a ratio above 1 or a non-finite value). */
function worstRatio(got: Float32Array, want: Float32Array, tol: Float32Array, what: string): number {
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const ratio = Math.abs(got[i]! - want[i]!) / tol[i]!;
    if (!(ratio <= 1))
      assert.fail(`${what}: [${i}] wasm ${got[i]} vs reference ${want[i]} (tolerance ${tol[i]})`);
    worst = Math.max(worst, ratio);
  }
  return worst;
}

const KS = [256, 512, 768, 2816];
const MS = [1, 2, 3, 9, 17];

test("Q4_K and Q6_K are wasm linear dtypes", () => {
  assert.equal(WASM_LINEAR_DTYPES.q4_k, 4);
  assert.equal(WASM_LINEAR_DTYPES.q6_k, 5);
});

for (const dtype of ["q4_k", "q6_k"] as const) {
  test(`wasm ${dtype} linear matches the reference within f32 rounding (exact path, odd N)`, () =>
    withQuantizedActivations(false, () => {
      const r = rng(dtype === "q4_k" ? 21 : 22);
      let worst = 0;
      let cases = 0;
      for (const K of KS) {
        for (const raw of [false, true]) {
          const N = raw ? 5 : 7;
          const w = weight(dtype, N, K, r, raw);
          const wf = dequantized(w);
          for (const M of MS) {
            const x = randoms(M * K, r);
            const bias = (M + N) % 4 === 0 ? randoms(N, r) : null;
            const want = new Float32Array(M * N);
            ref.linear(x, M, K, w, bias, want);
            const got = new Float32Array(M * N);
            wk.linear(x, M, K, w, bias, got);
            const what = `${dtype} exact K=${K} M=${M} N=${N}${raw ? " raw" : ""}`;
            worst = Math.max(worst, worstRatio(got, want, bounds(x, M, K, wf, N, bias), what));
            cases++;
          }
        }
      }
      assert.equal(cases, 2 * KS.length * MS.length);
      console.log(`${dtype} exact path: worst error ${worst.toFixed(3)} of the f32 rounding allowance`);
    }));

  test(`wasm ${dtype} linear on quantized activations is within the x rounding bound of the reference`, () => {
    const r = rng(dtype === "q4_k" ? 23 : 24);
    let cases = 0;
    let worst = 0;
    for (const K of KS) {
      for (const raw of [false, true]) {
        const N = raw ? 13 : 6 + (K % 3);
        const w = weight(dtype, N, K, r, raw);
        const wf = dequantized(w);
        for (const M of MS) {
          const x = randoms(M * K, r, 2);
          const bias = M % 2 ? randoms(N, r) : null;
          const want = new Float32Array(M * N);
          ref.linear(x, M, K, w, bias, want);
          const got = new Float32Array(M * N);
          withQuantizedActivations(true, () => wk.linear(x, M, K, w, bias, got));
          const what = `${dtype} quantized K=${K} M=${M} N=${N}${raw ? " raw" : ""}`;
          worst = Math.max(worst, worstRatio(got, want, quantizedBounds(x, M, K, wf, N, bias), what));
          // The x rounding shows: this is not the exact path.
          const exact = new Float32Array(M * N);
          withQuantizedActivations(false, () => wk.linear(x, M, K, w, bias, exact));
          assert.notDeepEqual(got, exact, what);
          cases++;
        }
      }
    }
    assert.equal(cases, 2 * KS.length * MS.length);
    console.log(`${dtype} quantized path: worst error ${worst.toFixed(3)} of the x rounding bound`);
  });
}

test("wasm Q4_K/Q6_K linear with subnormal f16 scales (small weights, as real Q6_K d often is) matches the reference", () => {
  // weights within ±0.01: Q6_K's d ≈ 0.01 / 4064 and Q4_K's d, dmin ≈ 0.02 / 945 are below 2^-14, subnormal halves,
  // which the kernels convert through the f16 table (arithmetic conversion runs them far slower)
  const r = rng(29);
  for (const dtype of ["q4_k", "q6_k"] as const) {
    const K = 512;
    const N = 9;
    const w = weight(dtype, N, K, r, false, 1, 0.01);
    const bytes = w.bytes();
    const blockBytes = DTYPES[dtype].blockBytes;
    let subnormal = 0;
    for (let o = 0; o < bytes.length; o += blockBytes)
      for (const h of dtype === "q4_k" ? [0] : [208]) if ((bytes[o + h + 1]! & 0x7c) === 0) subnormal++;
    assert.equal(subnormal, (N * K) / 256, `${dtype}: every block's d is subnormal`);
    const wf = dequantized(w);
    for (const M of [1, 3]) {
      const x = randoms(M * K, r, 2);
      const want = new Float32Array(M * N);
      ref.linear(x, M, K, w, null, want);
      for (const quantized of [false, true]) {
        const got = new Float32Array(M * N);
        withQuantizedActivations(quantized, () => wk.linear(x, M, K, w, null, got));
        const tol = quantized ? quantizedBounds(x, M, K, wf, N, null) : bounds(x, M, K, wf, N, null);
        worstRatio(got, want, tol, `${dtype} subnormal scales M=${M}${quantized ? " quantized" : ""}`);
      }
    }
  }
});

test("wasm Q4_K/Q6_K linear on x with outliers (one large value a 256) stays within the x rounding bound", () => {
  // an outlier sets the activation scale of its whole block: of 32 values in the baseline module, of 256 in the
  // relaxed one (so the other 255 round more coarsely there; the bound follows xBlock)
  const r = rng(30);
  for (const dtype of ["q4_k", "q6_k"] as const) {
    for (const raw of [false, true]) {
      const K = 768;
      const N = 11;
      const w = weight(dtype, N, K, r, raw);
      const wf = dequantized(w);
      for (const M of [1, 2]) {
        const x = randoms(M * K, r);
        for (let i = 0; i < M * K; i += 256) x[i + Math.floor(r() * 256)] = (r() < 0.5 ? -1 : 1) * 40;
        const want = new Float32Array(M * N);
        ref.linear(x, M, K, w, null, want);
        const got = new Float32Array(M * N);
        withQuantizedActivations(true, () => wk.linear(x, M, K, w, null, got));
        const what = `${dtype} outliers M=${M}${raw ? " raw" : ""}`;
        worstRatio(got, want, quantizedBounds(x, M, K, wf, N, null), what);
      }
    }
  }
});

test("wasm Q4_K/Q6_K linear with inf or NaN in x: the quantized path falls back to the exact one", () => {
  const r = rng(25);
  for (const dtype of ["q4_k", "q6_k"] as const) {
    const w = weight(dtype, 3, 512, r, false, 0);
    for (const M of [1, 5]) {
      const x = randoms(M * 512, r);
      x[7] = Infinity;
      x[M * 512 - 3] = NaN;
      const want = new Float32Array(M * 3);
      ref.linear(x, M, 512, w, null, want);
      const exact = new Float32Array(M * 3);
      const got = new Float32Array(M * 3);
      withQuantizedActivations(false, () => wk.linear(x, M, 512, w, null, exact));
      withQuantizedActivations(true, () => wk.linear(x, M, 512, w, null, got));
      assert.deepEqual(got, exact, `${dtype} M=${M}`);
      for (let i = 0; i < got.length; i++) {
        assert.equal(Number.isFinite(got[i]!), Number.isFinite(want[i]!), `${dtype} M=${M} [${i}]`);
      }
      assert.ok(!Number.isFinite(got[0]!) && !Number.isFinite(got[M * 3 - 1]!));
    }
  }
});

test("Q4_K/Q6_K weights outside wasm memory go to the reference kernel (bit for bit)", () => {
  const r = rng(28);
  for (const dtype of ["q4_k", "q6_k"] as const) {
    const inArena = weight(dtype, 3, 256, r, true, 0);
    const w = Tensor.fromBytes(dtype, [3, 256], Uint8Array.from(inArena.bytes()));
    assert.equal(arena.offsetOf(w.data), -1);
    for (const M of [1, 9]) {
      const x = randoms(M * 256, r);
      const want = new Float32Array(M * 3);
      const got = new Float32Array(M * 3);
      ref.linear(x, M, 256, w, null, want);
      wk.linear(x, M, 256, w, null, got);
      assert.deepEqual(got, want, `${dtype} M=${M}`);
    }
  }
});

test("threaded Q4_K/Q6_K linear equals one thread bit for bit (split by N and by M, both paths)", async () => {
  const r = rng(26);
  const cases: { w: Tensor; x: Float32Array; M: number; bias: Float32Array | null; quant: boolean }[] = [];
  for (const dtype of ["q4_k", "q6_k"] as const) {
    for (const N of [1, 5, 37]) {
      for (const M of [1, 3, 17, 41]) {
        const w = weight(dtype, N, 512, r, N === 5);
        const x = randoms(M * 512, r);
        const bias = N % 2 ? randoms(N, r) : null;
        for (const quant of [false, true]) cases.push({ w, x, M, bias, quant });
      }
    }
  }
  const runAll = (): Float32Array[] =>
    cases.map((c) => {
      const out = new Float32Array(c.M * c.w.shape[0]!);
      withQuantizedActivations(c.quant, () => wk.linear(c.x, c.M, 512, c.w, c.bias, out));
      return out;
    });
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

/** A random 2-layer Llama (dim 256, ffn 768, GQA 4/2 heads) as GGUF: Q4_K matrices, Q6_K ffn_down and output. */
function writeTinyKQuantLlama(file: string): void {
  const dim = 256;
  const ffn = 768;
  const heads = 4;
  const kvHeads = 2;
  const vocab = readGGUF(path.join(SHARED, "vocab/ggml-vocab-llama-spm.gguf"), { metadataOnly: true });
  const nVocab = (vocab.metadata.get("tokenizer.ggml.tokens") as string[]).length;
  const meta = new Map<string, GGUFValue>([
    ["general.architecture", "llama"],
    ["general.name", "decoderkit-test-kquant"],
    ["llama.vocab_size", nVocab],
    ["llama.context_length", 128],
    ["llama.embedding_length", dim],
    ["llama.block_count", 2],
    ["llama.feed_forward_length", ffn],
    ["llama.attention.head_count", heads],
    ["llama.attention.head_count_kv", kvHeads],
    ["llama.rope.dimension_count", dim / heads],
    ["llama.rope.freq_base", 10000],
    ["llama.attention.layer_norm_rms_epsilon", 1e-5],
  ]);
  const types = new Map<string, GGUFType>();
  for (const [k, v] of vocab.metadata) {
    if (!k.startsWith("tokenizer.")) continue;
    meta.set(k, v);
    types.set(k, vocab.metadataTypes.get(k)!);
  }
  const r = rng(27);
  const tensors: { name: string; tensor: Tensor }[] = [];
  const mat = (name: string, rows: number, cols: number, dtype: KDType, scale: number): void => {
    const x = randoms(rows * cols, r, scale);
    const rowBytes = (cols / 256) * DTYPES[dtype].blockBytes;
    const bytes = new Uint8Array(rows * rowBytes);
    for (let i = 0; i < rows; i++)
      (dtype === "q4_k" ? encodeQ4K : encodeQ6K)(x, i * cols, cols, bytes, i * rowBytes);
    tensors.push({ name, tensor: Tensor.fromBytes(dtype, [rows, cols], bytes) });
  };
  const norm = (name: string): void => {
    tensors.push({ name, tensor: Tensor.fromArray(Float32Array.from({ length: dim }, () => 0.5 + r())) });
  };
  const kvDim = (dim / heads) * kvHeads;
  mat("token_embd.weight", nVocab, dim, "q4_k", 1);
  for (let l = 0; l < 2; l++) {
    norm(`blk.${l}.attn_norm.weight`);
    mat(`blk.${l}.attn_q.weight`, dim, dim, "q4_k", 0.15);
    mat(`blk.${l}.attn_k.weight`, kvDim, dim, "q4_k", 0.15);
    mat(`blk.${l}.attn_v.weight`, kvDim, dim, "q4_k", 0.1);
    mat(`blk.${l}.attn_output.weight`, dim, dim, "q4_k", 0.1);
    norm(`blk.${l}.ffn_norm.weight`);
    mat(`blk.${l}.ffn_gate.weight`, ffn, dim, "q4_k", 0.1);
    mat(`blk.${l}.ffn_up.weight`, ffn, dim, "q4_k", 0.1);
    mat(`blk.${l}.ffn_down.weight`, dim, ffn, "q6_k", 0.06);
  }
  norm("output_norm.weight");
  mat("output.weight", nVocab, dim, "q6_k", 0.2);
  writeGGUF(file, { metadata: meta, tensors }, { valueTypes: types });
}

test("a tiny Q4_K/Q6_K Llama GGUF gives the same greedy tokens on the wasm and reference backends", async () => {
  const dir = tmpDir();
  const file = path.join(dir, "tiny-kquant.gguf");
  try {
    writeTinyKQuantLlama(file);
    const onArena = await loadModel(file, { allocator: arena });
    const onHeap = await loadModel(file);
    for (const [name, t] of onArena.checkpoint.tensors) {
      if (t.dtype === "q4_k" || t.dtype === "q6_k") assert.ok(arena.offsetOf(t.data) >= 0, name);
    }
    const prompt = onHeap.tokenizer!.encode("Once upon a time there was");
    const greedy = async (m: typeof onHeap, backend: string): Promise<number[]> => {
      setBackend(backend);
      const out: number[] = [];
      try {
        for await (const t of generateTokens(m.model, prompt, { temperature: 0, maxNewTokens: 24 }))
          out.push(t);
      } finally {
        setBackend("reference");
      }
      return out;
    };
    const want = await greedy(onHeap, "reference");
    assert.equal(want.length, 24);
    assert.ok(new Set(want).size > 3, `degenerate reference output ${want}`);
    wasm.quantizeActivations = false;
    assert.deepEqual(await greedy(onArena, "wasm"), want, "exact path");

    // Quantized activations (the default) move logits by the x rounding, which can flip a near tie: fed the
    // reference's tokens, every step's logits stay within 3% of the largest, and the wasm pick is the
    // reference's or one whose reference logit is within twice that step's error of the top.
    wasm.quantizeActivations = true;
    const logits = (m: typeof onHeap, backend: string, ids: number[], cache: KVCache): Float32Array => {
      setBackend(backend);
      try {
        const l = m.model.forward(ids, cache).f32();
        return l.subarray(l.length - m.model.vocabSize);
      } finally {
        setBackend("reference");
      }
    };
    const argmax = (a: Float32Array): number => a.reduce((best, v, i) => (v > a[best]! ? i : best), 0);
    const cacheW = onArena.model.newCache();
    const cacheR = onHeap.model.newCache();
    let ids = prompt;
    for (const next of want) {
      const lw = logits(onArena, "wasm", ids, cacheW);
      const lr = logits(onHeap, "reference", ids, cacheR);
      assert.equal(argmax(lr), next);
      let err = 0;
      let top = 0;
      for (let i = 0; i < lr.length; i++) {
        err = Math.max(err, Math.abs(lw[i]! - lr[i]!));
        top = Math.max(top, Math.abs(lr[i]!));
      }
      assert.ok(err > 0 && err <= 0.03 * top, `quantized logits off by ${err} (largest ${top})`);
      const pick = argmax(lw);
      assert.ok(lr[next]! - lr[pick]! <= 2 * err, `wasm picks ${pick}, reference ${next}: not a near tie`);
      ids = [next];
    }

    // llama.cpp (when it runs here) reads the same blocks: its logits (on q8_K activations) are as close.
    const cpp = await llamaCppLastLogits(file, prompt);
    if (cpp !== null) {
      const lr = logits(onHeap, "reference", prompt, onHeap.model.newCache());
      let err = 0;
      let top = 0;
      for (let i = 0; i < lr.length; i++) {
        err = Math.max(err, Math.abs(cpp[i]! - lr[i]!));
        top = Math.max(top, Math.abs(lr[i]!));
      }
      assert.ok(err <= 0.03 * top, `llama.cpp logits off by ${err} (largest ${top})`);
      assert.ok(lr[argmax(lr)]! - lr[argmax(cpp)]! <= 2 * err);
    }
  } finally {
    wasm.quantizeActivations = true;
    await disposeLlamaCpp();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
