// The two wasm kernel modules side by side (src/backends/wasm/simd.ts): relaxed-SIMD and baseline Q8_0/Q4_0
// linear on quantized activations against an exact emulation of the integer block dots (random and raw weight
// blocks with -128 bytes and every nibble, activations at ±127, odd N, M and K); both modules give the same bits,
// on one thread or several; the relaxed module's Q4_K/Q6_K linear against an exact emulation of its integer
// block dots on x quantized per 256 (llama.cpp's Q8_K); quantized activations stay inside their bytes; the
// DECODERKIT_WASM_SIMD override and its errors. Q4_K/Q6_K are checked on both modules against the reference by
// wasm-kquant(-baseline).test.ts.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createWasmBackend, type WasmBackend } from "../src/backends/wasm/index.js";
import { instantiateKernels, webAssembly } from "../src/backends/wasm/runtime.js";
import { relaxedSimdSupported } from "../src/backends/wasm/simd.js";
import { HALF_TO_FLOAT, q4kMin6, q4kScale6, quantizeRow } from "../src/tensor/quant.js";
import { Tensor } from "../src/tensor/tensor.js";
import { rng } from "./helpers/fixtures.js";
import { runCli, STORIES_BIN, STORIES_TOK } from "./helpers/paths.js";

const hasRelaxed = relaxedSimdSupported(webAssembly());
const noRelaxed = hasRelaxed ? false : "this runtime does not validate relaxed SIMD";
const backends: WasmBackend[] = hasRelaxed
  ? [createWasmBackend({ simd: "relaxed" }), createWasmBackend({ simd: "baseline" })]
  : [createWasmBackend({ simd: "baseline" })];

type QDType = "q8_0" | "q4_0";
const BLOCK_BYTES = { q8_0: 34, q4_0: 18 } as const;

/** x: random rows where every other block has all |x| equal (so q = ±127 everywhere in it). */
function activations(M: number, K: number, r: () => number): Float32Array {
  const x = new Float32Array(M * K);
  for (let i = 0; i < x.length; i++) {
    const extreme = ((i >> 5) & 1) === 1;
    x[i] = extreme ? (r() < 0.5 ? -3 : 3) : (r() * 2 - 1) * 4;
  }
  return x;
}

/** Weight bytes [N, K]: quantized from random floats, or raw random blocks (-128 bytes, every nibble). */
function weightBytes(dtype: QDType, N: number, K: number, r: () => number, raw: boolean): Uint8Array {
  const bb = BLOCK_BYTES[dtype];
  const bytes = new Uint8Array((N * K * bb) / 32);
  if (raw) {
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(r() * 256);
    for (let o = 0; o < bytes.length; o += bb) bytes[o + 1] = 0x20 | (bytes[o + 1]! & 0x83); // small finite scales
  } else {
    const src = new Float32Array(N * K).map(() => r() * 2 - 1);
    for (let n = 0; n < N; n++) quantizeRow(dtype, src, n * K, K, bytes, (n * K * bb) / 32);
  }
  return bytes;
}

function inArena(be: WasmBackend, dtype: QDType, N: number, K: number, bytes: Uint8Array): Tensor {
  const b = be.arena.alloc(bytes.length + 3).subarray(3);
  b.set(bytes);
  return Tensor.fromBytes(dtype, [N, K], b);
}

/** Ties to even, as f32x4.nearest. */
function roundEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
}

/**
 * The exact sum Σ_blocks S_b · f32(d_w · d_x) (f64 over exact integer block sums S_b, x rounded as the kernels
 * round it) and Σ_blocks Σ|w·q| · |d_w · d_x|, which bounds the kernels' f32 accumulation error (whatever
 * partial sums of a block they scale).
 */
function emulate(
  dtype: QDType,
  w: Uint8Array,
  n: number,
  x: Float32Array,
  m: number,
  K: number,
): [number, number] {
  const bb = BLOCK_BYTES[dtype];
  const f = Math.fround;
  let sum = 0;
  let mag = 0;
  for (let b = 0; b < K / 32; b++) {
    const xb = x.subarray(m * K + b * 32, m * K + b * 32 + 32);
    let amax = 0;
    for (const v of xb) amax = Math.max(amax, Math.abs(v));
    const d = f(amax / 127);
    const id = d > 0 ? f(1 / d) : 0;
    const o = (n * K * bb) / 32 + b * bb;
    let s = 0;
    let abs = 0;
    for (let i = 0; i < 32; i++) {
      const q = roundEven(f(xb[i]! * id));
      let wq: number;
      if (dtype === "q8_0") wq = (w[o + 2 + i]! << 24) >> 24;
      else wq = (i < 16 ? w[o + 2 + i]! & 15 : w[o + 2 + i - 16]! >> 4) - 8;
      s += wq * q;
      abs += Math.abs(wq * q);
    }
    const scale = f(HALF_TO_FLOAT[w[o]! | (w[o + 1]! << 8)]! * d);
    sum += s * scale;
    mag += abs * Math.abs(scale);
  }
  return [sum, mag];
}

test("Q8_0/Q4_0 linear on quantized activations: both kernel modules give the exact integer block dots", () => {
  const r = rng(31);
  let cases = 0;
  for (const dtype of ["q8_0", "q4_0"] as const) {
    for (const K of [32, 96, 288]) {
      for (const N of [1, 3, 4, 5, 13, 37]) {
        for (const M of [1, 2, 3, 5, 9, 14, 17, 33]) {
          const raw = (N + M) % 2 === 1;
          const bytes = weightBytes(dtype, N, K, r, raw);
          const x = activations(M, K, r);
          const bias = M % 3 === 0 ? new Float32Array(N).map(() => r()) : null;
          for (const be of backends) {
            const w = inArena(be, dtype, N, K, bytes);
            const got = new Float32Array(M * N);
            be.kernels.linear(x, M, K, w, bias, got);
            for (let m = 0; m < M; m++) {
              for (let n = 0; n < N; n++) {
                const [want, mag] = emulate(dtype, bytes, n, x, m, K);
                const b = bias ? bias[n]! : 0;
                const tol = 1e-6 * (mag + Math.abs(b)) + 1e-30;
                const g = got[m * N + n]!;
                if (!(Math.abs(g - (want + b)) <= tol))
                  assert.fail(
                    `${be.simd} ${dtype} ${raw ? "raw" : "quantized"} K=${K} N=${N} M=${M} [${m},${n}]: ${g} vs ${want + b}`,
                  );
              }
            }
            cases++;
          }
        }
      }
    }
  }
  assert.equal(cases, 2 * 3 * 6 * 8 * backends.length);
});

/** Value i (0..255) of the k-quant block at o as [integer multiplier of xq, f16 bits of its factor, is a min]. */
function kquantTerms(dtype: "q4_k" | "q6_k", w: Uint8Array, o: number, i: number): [number, number][] {
  const half = (at: number): number => w[at]! | (w[at + 1]! << 8);
  if (dtype === "q4_k") {
    const j = i >> 5; // sub-block
    const l = i & 31;
    const byte = w[o + 16 + (j >> 1) * 32 + l]!;
    const q = j & 1 ? byte >> 4 : byte & 15;
    const sc = q4kScale6(w, o + 4, j);
    const mn = q4kMin6(w, o + 4, j);
    return [
      [sc * q, half(o)],
      [-mn, half(o + 2)],
    ];
  }
  const h = i >> 7; // half block
  const g = (i >> 5) & 3; // group of 32 in it
  const l = i & 31;
  const lo = w[o + 64 * h + 32 * (g & 1) + l]!;
  const hi = w[o + 128 + 32 * h + l]!;
  const q = ((g < 2 ? lo : lo >> 4) & 15) | (((hi >> (2 * g)) & 3) << 4);
  const sc = (w[o + 192 + (i >> 4)]! << 24) >> 24;
  return [[sc * (q - 32), half(o + 208)]];
}

/**
 * The relaxed matvec's sum for row n: x rounded in blocks of 256 (dx = max|x| / 127, as the kernel rounds it),
 * each block's integer sums per f16 factor (Q4_K: d and dmin; Q6_K: d) times f32(factor · dx), in f64; and the
 * magnitude Σ|term|·|factor·dx|, which bounds the kernel's f32 accumulation error.
 */
function emulateQ8K(
  dtype: "q4_k" | "q6_k",
  w: Uint8Array,
  n: number,
  x: Float32Array,
  K: number,
): [number, number] {
  const bb = dtype === "q4_k" ? 144 : 210;
  const f = Math.fround;
  let sum = 0;
  let mag = 0;
  for (let b = 0; b < K / 256; b++) {
    const xb = x.subarray(b * 256, b * 256 + 256);
    let amax = 0;
    for (const v of xb) amax = Math.max(amax, Math.abs(v));
    const d = f(amax / 127);
    const id = d > 0 ? f(1 / d) : 0;
    const o = (n * K * bb) / 256 + b * bb;
    const sums = new Map<number, [number, number]>(); // f16 bits → [Σ term·q, Σ |term·q|]
    for (let i = 0; i < 256; i++) {
      const q = roundEven(f(xb[i]! * id));
      for (const [t, h] of kquantTerms(dtype, w, o, i)) {
        const e = sums.get(h) ?? [0, 0];
        sums.set(h, [e[0] + t * q, e[1] + Math.abs(t * q)]);
      }
    }
    for (const [h, [s, a]] of sums) {
      const scale = f(HALF_TO_FLOAT[h]! * d);
      sum += s * scale;
      mag += a * Math.abs(scale);
    }
  }
  return [sum, mag];
}

test(
  "the relaxed module's Q4_K/Q6_K linear (matvec and prompts) gives the exact integer dots on x quantized per 256",
  { skip: noRelaxed },
  () => {
    const r = rng(33);
    const be = backends[0]!;
    for (const dtype of ["q4_k", "q6_k"] as const) {
      const bb = dtype === "q4_k" ? 144 : 210;
      for (const K of [256, 768, 2048]) {
        const N = 7;
        // raw random blocks: every nibble, 6-bit scale and min, Q6_K value and int8 scale; small finite f16 factors
        // (d and dmin of a Q4_K block may be equal, then their sums share one entry, as the kernel's do not: the
        // bound still holds)
        const raw = new Uint8Array((N * K * bb) / 256).map(() => Math.floor(r() * 256));
        for (let o = 0; o < raw.length; o += bb)
          for (const h of dtype === "q4_k" ? [0, 2] : [208]) raw[o + h + 1] = 0x20 | (raw[o + h + 1]! & 0x83);
        const b = be.arena.alloc(raw.length + 5).subarray(5);
        b.set(raw);
        for (const M of [1, 3, 9, 14]) {
          const x = activations(M, K, r);
          const got = new Float32Array(M * N);
          be.kernels.linear(x, M, K, Tensor.fromBytes(dtype, [N, K], b), null, got);
          for (let m = 0; m < M; m++) {
            for (let n = 0; n < N; n++) {
              const [want, mag] = emulateQ8K(dtype, raw, n, x.subarray(m * K, m * K + K), K);
              const g = got[m * N + n]!;
              if (!(Math.abs(g - want) <= 1e-6 * mag + 1e-30))
                assert.fail(`${dtype} K=${K} M=${M} [${m},${n}]: ${g} vs ${want} (magnitude ${mag})`);
            }
          }
        }
      }
    }
  },
);

test(
  "the relaxed and baseline modules give the same bits for Q8_0/Q4_0 (M = 1 and M > 1), on one thread and on three",
  { skip: noRelaxed },
  async () => {
    const r = rng(32);
    // Q8_0 decode takes rows four at a time in spans of 128: N = 2, 3 and 263 leave groups of two and three
    for (const [dtype, N, Ms] of [
      ["q8_0", 37, [1, 2, 19]],
      ["q4_0", 37, [1, 2, 19]],
      ["q8_0", 2, [1]],
      ["q8_0", 3, [1]],
      ["q8_0", 263, [1]],
    ] as const) {
      const K = 160;
      const bytes = weightBytes(dtype, N, K, r, dtype === "q4_0");
      const bias = new Float32Array(N).map(() => r());
      for (const M of Ms) {
        const x = activations(M, K, r);
        const outs = backends.map((be) => {
          const out = new Float32Array(M * N);
          be.kernels.linear(x, M, K, inArena(be, dtype, N, K, bytes), bias, out);
          return out;
        });
        assert.deepEqual(outs[0], outs[1], `${dtype} M=${M} N=${N}`);
      }
    }
    const be = backends[0]!;
    const before = be.minSplitWork;
    be.minSplitWork = 0;
    try {
      for (const dtype of ["q8_0", "q4_0"] as const) {
        const [N, K, M] = [41, 96, 21];
        const w = inArena(be, dtype, N, K, weightBytes(dtype, N, K, r, true));
        const x = activations(M, K, r);
        for (const rows of [1, M]) {
          await be.setThreads(1);
          const one = new Float32Array(rows * N);
          be.kernels.linear(x, rows, K, w, null, one);
          await be.setThreads(3);
          const many = new Float32Array(rows * N);
          be.kernels.linear(x, rows, K, w, null, many);
          assert.deepEqual(many, one, `${dtype} M=${rows} on ${be.threads} threads`);
        }
      }
    } finally {
      be.minSplitWork = before;
      await be.setThreads(1);
    }
  },
);

test("quantizing activations writes inside the bytes quantBytes (quantBytesK) gives, in both kernel modules", () => {
  const r = rng(31);
  for (const simd of hasRelaxed ? (["relaxed", "baseline"] as const) : (["baseline"] as const)) {
    const { memory, exports: k } = instantiateKernels(simd, 64);
    const heap = Math.ceil(k.heapBase() / 64) * 64;
    const u8 = new Uint8Array(memory.buffer);
    // Q8_0 (2) and Q4_0 (3): quantizeRows inside quantBytes, odd and even block counts (the relaxed module stores
    // blocks in pairs); Q4_K (4) and Q6_K (5): quantizeRowsK inside quantBytesK (the relaxed module's M > 1
    // grouped layouts too)
    const cases = [
      ...[2, 3].map((dtype) => ({ dtype, Ks: [32, 64, 96, 160, 2080], Ms: [1, 3, 5], kq: false })),
      ...[4, 5].map((dtype) => ({ dtype, Ks: [256, 768], Ms: [1, 2, 5], kq: true })),
    ];
    for (const { dtype, Ks, Ms, kq } of cases) {
      for (const K of Ks) {
        for (const M of Ms) {
          const x = heap;
          new Float32Array(memory.buffer, x, M * K).set(activations(M, K, r));
          const out = x + M * K * 4 + 64;
          const n = kq ? k.quantBytesK(M, K, dtype) : k.quantBytes(M, K, dtype);
          u8.fill(0xa5, out - 64, out + n + 64);
          if (kq) k.quantizeRowsK(x, M, K, out, dtype);
          else k.quantizeRows(x, M, K, out, dtype);
          const before = u8.subarray(out - 64, out);
          const after = u8.subarray(out + n, out + n + 64);
          const what = `${simd} dtype ${dtype} K ${K} M ${M}`;
          assert.ok(before.every((b) => b === 0xa5) && after.every((b) => b === 0xa5), what);
        }
      }
    }
  }
});

test("the one-pass SwiGLU gives the bits of SiLU then the product, in both kernel modules", () => {
  const r = rng(32);
  for (const simd of hasRelaxed ? (["relaxed", "baseline"] as const) : (["baseline"] as const)) {
    const { memory, exports: k } = instantiateKernels(simd, 16);
    const heap = Math.ceil(k.heapBase() / 64) * 64;
    for (const n of [1, 2, 3, 4, 5, 7, 96, 101]) {
      const [g, u, a, b] = [0, 1, 2, 3].map((i) => heap + i * 4096);
      const f = new Float32Array(memory.buffer);
      for (let i = 0; i < n; i++) {
        f[g / 4 + i] = (r() * 2 - 1) * 12;
        f[u / 4 + i] = (r() * 2 - 1) * 3;
      }
      k.silu(g!, n, a!);
      k.binary(a!, u!, n, a!, 1);
      k.swiglu(g!, u!, n, b!);
      assert.deepEqual(f.slice(b! / 4, b! / 4 + n), f.slice(a! / 4, a! / 4 + n), `${simd} n ${n}`);
    }
  }
});

test("RoPE into another buffer gives the in-place bits, the dims past the rotated ones copied", () => {
  const r = rng(33);
  for (const simd of hasRelaxed ? (["relaxed", "baseline"] as const) : (["baseline"] as const)) {
    const { memory, exports: k } = instantiateKernels(simd, 16);
    const heap = Math.ceil(k.heapBase() / 64) * 64;
    // full and partial rotary (half < hd / 2), half not a multiple of 4, two positions
    for (const [T, H, hd, half] of [
      [1, 3, 16, 8],
      [2, 2, 20, 6],
      [1, 4, 12, 5],
    ] as const) {
      const n = T * H * hd;
      const [x, inPlace, out, cs] = [0, 1, 2, 3].map((i) => heap + i * 4096) as [
        number,
        number,
        number,
        number,
      ];
      const f = new Float32Array(memory.buffer);
      for (let i = 0; i < n; i++) f[x / 4 + i] = r() * 2 - 1;
      for (let i = 0; i < 2 * T * half; i++) f[cs / 4 + i] = r() * 2 - 1;
      f.copyWithin(inPlace / 4, x / 4, x / 4 + n);
      k.rope(inPlace, inPlace, T, H, hd, half, cs);
      k.rope(x, out, T, H, hd, half, cs);
      const what = `${simd} T ${T} H ${H} hd ${hd} half ${half}`;
      assert.deepEqual(f.slice(out / 4, out / 4 + n), f.slice(inPlace / 4, inPlace / 4 + n), what);
    }
  }
});

test("DECODERKIT_WASM_SIMD forces the kernel module; generate --json says which ran; bad values are errors", () => {
  const args = ["generate", "--model", STORIES_BIN, "--tokenizer", STORIES_TOK, "--temperature", "0"];
  const run = (simd: string) =>
    runCli([...args, "--max-new-tokens", "24", "--json"], { env: { DECODERKIT_WASM_SIMD: simd } });
  const base = run("baseline");
  assert.equal(base.code, 0, base.stderr);
  const b = JSON.parse(base.stdout) as { simd: string; backend: string; text: string };
  assert.equal(b.backend, "wasm");
  assert.equal(b.simd, "baseline");
  if (hasRelaxed) {
    const relaxed = run("relaxed");
    assert.equal(relaxed.code, 0, relaxed.stderr);
    const j = JSON.parse(relaxed.stdout) as { simd: string; text: string };
    assert.equal(j.simd, "relaxed");
    assert.equal(j.text, b.text);
  }
  const bad = run("avx512");
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /DECODERKIT_WASM_SIMD=avx512: use baseline, relaxed or auto/);
  assert.throws(
    () => createWasmBackend({ simd: "fast" as "relaxed" }),
    /DECODERKIT_WASM_SIMD|baseline|relaxed/,
  );
});
