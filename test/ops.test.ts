// Reference-backend ops against PyTorch goldens (test/fixtures/ops-golden.json, from tools/dump_op_goldens.py) and
// against naive float64 definitions written here: softmax, norms, activations, RoPE, GQA attention, linear, embedding, views.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import "../src/backends/reference/index.js";
import { ropeInvFreq } from "../src/nn/rope.js";
import { DTYPES, type DType } from "../src/tensor/dtype.js";
import * as ops from "../src/tensor/ops.js";
import { dequantizeRow, quantizeRow, type QuantizeDType } from "../src/tensor/quant.js";
import { Tensor } from "../src/tensor/tensor.js";
import { rng } from "./helpers/fixtures.js";

interface Golden {
  act_x: number[];
  gelu: number[];
  gelu_tanh: number[];
  silu: number[];
  softmax_x: (number | string)[][];
  softmax: number[][];
  norm_x: number[][];
  norm_w: number[];
  norm_b: number[];
  norm_eps: number;
  layer_norm: number[][];
  rms_norm: number[][];
}

const G = JSON.parse(fs.readFileSync("test/fixtures/ops-golden.json", "utf8")) as Golden;

function randn(n: number, r: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * (r() + r() + r() - 1.5) * 2;
  return out;
}

function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  atol: number,
  rtol: number,
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    assert.ok(!Number.isNaN(a), `${what}[${i}] is NaN`);
    assert.ok(Math.abs(a - e) <= atol + rtol * Math.abs(e), `${what}[${i}]: ${a} vs ${e}`);
  }
}

/** Stores f32 values as `dtype` (quantizing row by row) → a [rows, cols] tensor. */
function stored(dtype: DType, values: Float32Array, rows: number, cols: number): Tensor {
  if (dtype === "f32") return Tensor.fromArray(values, [rows, cols]);
  const info = DTYPES[dtype];
  const rowBytes = (cols / info.blockSize) * info.blockBytes;
  const bytes = new Uint8Array(rows * rowBytes);
  for (let r = 0; r < rows; r++)
    quantizeRow(dtype as QuantizeDType, values, r * cols, cols, bytes, r * rowBytes);
  return Tensor.fromBytes(dtype, [rows, cols], bytes);
}

function dequantized(w: Tensor): Float32Array {
  if (w.dtype === "f32") return Float32Array.from(w.f32());
  const out = new Float32Array(w.size);
  dequantizeRow(w.dtype, w.data as Uint8Array, 0, out, 0, w.size);
  return out;
}

// ---------------------------------------------------------------- softmax

test("softmax matches torch on ordinary, huge (1e30, ±80) and -Infinity-masked rows, with no NaN", () => {
  const rowsIn = G.softmax_x.map((r) => r.map((v) => (v === "-inf" ? -Infinity : (v as number))));
  const N = rowsIn[0]!.length;
  const y = ops.softmax(Tensor.fromArray(rowsIn.flat(), [rowsIn.length, N]));
  assert.deepEqual(y.shape, [rowsIn.length, N]);
  const out = y.toArray();
  assertClose(out, G.softmax.flat(), 1e-7, 1e-6, "softmax");
  for (let m = 0; m < rowsIn.length; m++) {
    const sum = out.slice(m * N, m * N + N).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-6, `row ${m} sums to ${sum}`);
  }
  // masked entries are exactly zero
  assert.equal(out[4 * N + 1], 0);
  assert.equal(out[4 * N + 3], 0);
});

test("softmax of a fully masked row is all zeros, not NaN; a single finite entry gets probability 1", () => {
  const y = ops
    .softmax(Tensor.fromArray([-Infinity, -Infinity, -Infinity, -Infinity, 3.5, -Infinity], [2, 3]))
    .toArray();
  assert.deepEqual(y, [0, 0, 0, 0, 1, 0]);
});

test("softmax works over the last dimension of a 3-D tensor and leaves its input alone", () => {
  const r = rng(1);
  const x = Tensor.fromArray(randn(2 * 3 * 5, r, 4), [2, 3, 5]);
  const before = x.toArray();
  const y = ops.softmax(x).toArray();
  assert.deepEqual(x.toArray(), before);
  for (let m = 0; m < 6; m++) {
    const row = before.slice(m * 5, m * 5 + 5);
    const max = Math.max(...row);
    const e = row.map((v) => Math.exp(v - max));
    const s = e.reduce((a, b) => a + b, 0);
    assertClose(
      y.slice(m * 5, m * 5 + 5),
      e.map((v) => v / s),
      1e-7,
      1e-6,
      `row ${m}`,
    );
  }
});

// ---------------------------------------------------------------- activations

test("gelu (erf), geluTanh and silu match torch", () => {
  const x = Tensor.fromArray(G.act_x);
  assertClose(ops.gelu(x).toArray(), G.gelu, 2e-7, 1e-6, "gelu");
  assertClose(ops.geluTanh(x).toArray(), G.gelu_tanh, 2e-7, 1e-6, "geluTanh");
  assertClose(ops.silu(x).toArray(), G.silu, 2e-7, 1e-6, "silu");
});

test("gelu and geluTanh really differ (the erf form is not the tanh approximation)", () => {
  const x = Tensor.fromArray([-3]);
  // torch: gelu(-3) = -0.0040497, gelu_tanh(-3) = -0.0036374
  assert.ok(Math.abs(ops.gelu(x).toArray()[0]! - ops.geluTanh(x).toArray()[0]!) > 3e-4);
});

test("activations stay finite at extreme inputs", () => {
  const x = Tensor.fromArray([-1e4, -100, 100, 1e4]);
  for (const f of [ops.gelu, ops.geluTanh, ops.silu]) {
    const y = f(x).toArray();
    for (const v of y) assert.ok(Number.isFinite(v), `${f.name}: ${y}`);
    assert.ok(Math.abs(y[0]!) < 1e-30 && Math.abs(y[1]!) < 1e-30);
    assertClose([y[2]!, y[3]!], [100, 1e4], 0, 1e-6, "positive side");
  }
});

test("add and mul are element-wise and refuse different sizes", () => {
  const a = Tensor.fromArray([1, 2, 3, 4], [2, 2]);
  const b = Tensor.fromArray([0.5, -1, 10, 0], [2, 2]);
  assert.deepEqual(ops.add(a, b).toArray(), [1.5, 1, 13, 4]);
  assert.deepEqual(ops.mul(a, b).toArray(), [0.5, -2, 30, 0]);
  assert.throws(() => ops.add(a, Tensor.fromArray([1, 2, 3])), /add: shapes/);
  assert.throws(() => ops.mul(a, Tensor.fromInts([1, 2, 3, 4], [2, 2])), /expected f32/);
});

// ---------------------------------------------------------------- norms

test("layerNorm and rmsNorm match torch (including a row far below eps)", () => {
  const D = G.norm_w.length;
  const x = Tensor.fromArray(G.norm_x.flat(), [G.norm_x.length, D]);
  const w = Tensor.fromArray(G.norm_w);
  const b = Tensor.fromArray(G.norm_b);
  assertClose(ops.layerNorm(x, w, b, G.norm_eps).toArray(), G.layer_norm.flat(), 1e-6, 1e-5, "layerNorm");
  assertClose(ops.rmsNorm(x, w, G.norm_eps).toArray(), G.rms_norm.flat(), 1e-6, 1e-5, "rmsNorm");
});

test("layerNorm without bias and rmsNorm match a naive float64 definition on a 3-D input", () => {
  const r = rng(2);
  const D = 7;
  const xs = randn(2 * 3 * D, r, 3);
  const ws = randn(D, r);
  const x = Tensor.fromArray(xs, [2, 3, D]);
  const w = Tensor.fromArray(ws);
  const eps = 1e-6;
  const ln = ops.layerNorm(x, w, null, eps);
  const rms = ops.rmsNorm(x, w, eps);
  assert.deepEqual(ln.shape, [2, 3, D]);
  const eln: number[] = [];
  const erms: number[] = [];
  for (let m = 0; m < 6; m++) {
    const row = Array.from(xs.subarray(m * D, m * D + D));
    const mean = row.reduce((a, v) => a + v, 0) / D;
    const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / D;
    const ms = row.reduce((a, v) => a + v * v, 0) / D;
    row.forEach((v, i) => {
      eln.push(((v - mean) / Math.sqrt(variance + eps)) * ws[i]!);
      erms.push((v / Math.sqrt(ms + eps)) * ws[i]!);
    });
  }
  assertClose(ln.toArray(), eln, 1e-6, 1e-5, "layerNorm");
  assertClose(rms.toArray(), erms, 1e-6, 1e-5, "rmsNorm");
});

test("norms refuse parameters that do not match the row size", () => {
  const x = Tensor.fromArray(new Float32Array(12), [3, 4]);
  assert.throws(
    () => ops.rmsNorm(x, Tensor.fromArray([1, 1, 1]), 1e-5),
    /rmsNorm: weight of 3 for rows of 4/,
  );
  assert.throws(
    () => ops.layerNorm(x, Tensor.fromArray([1, 1, 1, 1]), Tensor.fromArray([0, 0]), 1e-5),
    /layerNorm/,
  );
});

// ---------------------------------------------------------------- rope

/** Rotate-half RoPE as complex rotation: z_i = x[i] + j·x[i + half] is multiplied by e^{j·pos·θ_i}. */
function ropeNaive(
  x: Float32Array,
  T: number,
  H: number,
  hd: number,
  pos: number[],
  inv: Float32Array,
): Float64Array {
  const out = Float64Array.from(x);
  const half = inv.length;
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < H; h++) {
      const o = (t * H + h) * hd;
      for (let i = 0; i < half; i++) {
        const re = x[o + i]!;
        const im = x[o + i + half]!;
        const a = pos[t]! * inv[i]!;
        const [cr, ci] = [Math.cos(a), Math.sin(a)];
        out[o + i] = re * cr - im * ci;
        out[o + i + half] = re * ci + im * cr;
      }
    }
  }
  return out;
}

test("rope equals the complex-rotation definition (rotate-half pairs i, i + d/2)", () => {
  const r = rng(3);
  const [T, H, hd] = [4, 3, 8];
  const xs = randn(T * H * hd, r);
  const pos = [0, 1, 7, 1000];
  const inv = ropeInvFreq(hd, 10000);
  const x = Tensor.fromArray(xs, [T, H, hd]);
  const y = ops.rope(x, pos, inv);
  assertClose(y.toArray(), ropeNaive(xs, T, H, hd, pos, inv), 1e-5, 1e-5, "rope");
  // position 0 is the identity
  assert.deepEqual(y.toArray().slice(0, H * hd), Array.from(xs.subarray(0, H * hd)));
  // rope works on a copy
  assert.deepEqual(x.toArray(), Array.from(xs));
});

test("rope with a partial rotary dimension leaves the trailing dims alone", () => {
  const r = rng(4);
  const [T, H, hd] = [3, 2, 8];
  const xs = randn(T * H * hd, r);
  const inv = ropeInvFreq(4, 10000); // rotary over the first 4 dims: pairs (0,2), (1,3)
  const pos = [3, 4, 5];
  const y = ops.rope(Tensor.fromArray(xs, [T, H, hd]), pos, inv).toArray();
  assertClose(y, ropeNaive(xs, T, H, hd, pos, inv), 1e-5, 1e-5, "partial rope");
  for (let t = 0; t < T * H; t++) for (let d = 4; d < hd; d++) assert.equal(y[t * hd + d], xs[t * hd + d]);
});

test("rope makes q·k depend only on the position difference", () => {
  const r = rng(5);
  const hd = 16;
  const q = randn(hd, r);
  const k = randn(hd, r);
  const inv = ropeInvFreq(hd, 10000);
  const dot = (m: number, n: number): number => {
    const a = ops.rope(Tensor.fromArray(q, [1, 1, hd]), [m], inv).toArray();
    const b = ops.rope(Tensor.fromArray(k, [1, 1, hd]), [n], inv).toArray();
    return a.reduce((s, v, i) => s + v * b[i]!, 0);
  };
  assert.ok(Math.abs(dot(5, 2) - dot(103, 100)) < 1e-4);
  assert.ok(Math.abs(dot(0, 0) - dot(57, 57)) < 1e-4);
});

test("rope refuses bad shapes", () => {
  const inv = ropeInvFreq(4, 10000);
  assert.throws(
    () => ops.rope(Tensor.fromArray(new Float32Array(8), [2, 4]), [0, 1], inv),
    /rope: expected \[T, heads, headDim\]/,
  );
  assert.throws(
    () => ops.rope(Tensor.fromArray(new Float32Array(8), [2, 1, 4]), [0], inv),
    /rope: positions/,
  );
  assert.throws(
    () => ops.rope(Tensor.fromArray(new Float32Array(4), [1, 1, 4]), [0], ropeInvFreq(8, 10000)),
    /rope/,
  );
  assert.throws(() => ropeInvFreq(5, 10000), /even/);
});

// ---------------------------------------------------------------- attention

/** HF repeat_kv: kv head j serves query heads j·g .. j·g + g − 1. [S, KV, hd] → [S, H, hd]. */
function repeatKv(k: Float32Array, S: number, KV: number, H: number, hd: number): Float32Array {
  const g = H / KV;
  const out = new Float32Array(S * H * hd);
  for (let s = 0; s < S; s++) {
    for (let h = 0; h < H; h++)
      out.set(
        k.subarray((s * KV + Math.floor(h / g)) * hd, (s * KV + Math.floor(h / g) + 1) * hd),
        (s * H + h) * hd,
      );
  }
  return out;
}

/** Per-head masked attention in float64 over already repeated k/v: query t at position queryPos + t sees key j iff
 *  j <= pos and (window = 0 or pos − j < window). */
function attentionNaive(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  T: number,
  S: number,
  H: number,
  hd: number,
  queryPos: number,
  window: number,
  scale: number,
): Float64Array {
  const out = new Float64Array(T * H * hd);
  for (let h = 0; h < H; h++) {
    for (let t = 0; t < T; t++) {
      const pos = queryPos + t;
      const scores: number[] = [];
      for (let j = 0; j < S; j++) {
        const allowed = j <= pos && (window === 0 || pos - j < window);
        let s = 0;
        for (let d = 0; d < hd; d++) s += q[(t * H + h) * hd + d]! * k[(j * H + h) * hd + d]!;
        scores.push(allowed ? s * scale : -Infinity);
      }
      const max = Math.max(...scores);
      const e = scores.map((s) => (s === -Infinity ? 0 : Math.exp(s - max)));
      const sum = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j < S; j++) {
        for (let d = 0; d < hd; d++) out[(t * H + h) * hd + d]! += (e[j]! / sum) * v[(j * H + h) * hd + d]!;
      }
    }
  }
  return out;
}

for (const [H, KV] of [
  [4, 4],
  [4, 2],
  [4, 1],
] as const) {
  for (const window of [0, 3]) {
    test(`attention with ${H} heads over ${KV} kv heads, window ${window}, equals repeat_kv + naive per-head attention`, () => {
      const r = rng(100 + H * 10 + KV + window);
      const hd = 6;
      const scale = 1 / Math.sqrt(hd);
      for (const [T, S] of [
        [7, 7], // prefill
        [3, 9], // three new rows after six cached
        [1, 9], // one decode step
      ] as const) {
        const q = randn(T * H * hd, r);
        const k = randn(S * KV * hd, r);
        const v = randn(S * KV * hd, r);
        const queryPos = S - T;
        const y = ops.attention(
          Tensor.fromArray(q, [T, H, hd]),
          Tensor.fromArray(k, [S, KV, hd]),
          Tensor.fromArray(v, [S, KV, hd]),
          {
            queryPos,
            window,
            scale,
          },
        );
        assert.deepEqual(y.shape, [T, H, hd]);
        const kr = repeatKv(k, S, KV, H, hd);
        const vr = repeatKv(v, S, KV, H, hd);
        assertClose(
          y.toArray(),
          attentionNaive(q, kr, vr, T, S, H, hd, queryPos, window, scale),
          1e-6,
          1e-5,
          `T=${T} S=${S}`,
        );
      }
    });
  }
}

test("attention: the first query row sees only key 0 (output = v[0]); a window of 1 gives v at the own position", () => {
  const r = rng(7);
  const [T, H, hd] = [5, 2, 4];
  const q = randn(T * H * hd, r);
  const k = randn(T * H * hd, r);
  const v = randn(T * H * hd, r);
  const args = [
    Tensor.fromArray(q, [T, H, hd]),
    Tensor.fromArray(k, [T, H, hd]),
    Tensor.fromArray(v, [T, H, hd]),
  ] as const;
  const full = ops.attention(...args, { queryPos: 0, window: 0, scale: 0.5 }).toArray();
  // (within an ulp or two: the kernel's softmax max is taken before its scores are rounded to f32)
  assertClose(full.slice(0, H * hd), v.subarray(0, H * hd), 0, 3e-7, "row 0");
  const w1 = ops.attention(...args, { queryPos: 0, window: 1, scale: 0.5 }).toArray();
  assertClose(w1, v, 0, 3e-7, "window 1");
});

test("attention with huge scores stays finite and picks the dominant key", () => {
  const [T, S, H, hd] = [1, 3, 1, 2];
  const q = Tensor.fromArray([1e4, 0], [T, H, hd]);
  const k = Tensor.fromArray([1, 0, 3, 0, -5, 0], [S, H, hd]); // scores 1e4, 3e4, -5e4
  const v = Tensor.fromArray([1, 2, 3, 4, 5, 6], [S, H, hd]);
  const y = ops.attention(q, k, v, { queryPos: 2, window: 0, scale: 1 }).toArray();
  assert.deepEqual(y, [3, 4]);
});

test("attention refuses mismatched shapes and head counts", () => {
  const q = Tensor.fromArray(new Float32Array(3 * 4), [1, 3, 4]);
  const k = Tensor.fromArray(new Float32Array(2 * 2 * 4), [2, 2, 4]);
  assert.throws(
    () => ops.attention(q, k, k, { queryPos: 1, window: 0, scale: 1 }),
    /3 heads not divisible by 2 kv heads/,
  );
  const k3 = Tensor.fromArray(new Float32Array(2 * 1 * 3), [2, 1, 3]);
  assert.throws(
    () => ops.attention(q, k3, k3, { queryPos: 1, window: 0, scale: 1 }),
    /q\/k\/v shapes disagree/,
  );
  const v1 = Tensor.fromArray(new Float32Array(1 * 1 * 4), [1, 1, 4]);
  const k1 = Tensor.fromArray(new Float32Array(2 * 1 * 4), [2, 1, 4]);
  assert.throws(
    () => ops.attention(q, k1, v1, { queryPos: 1, window: 0, scale: 1 }),
    /q\/k\/v shapes disagree/,
  );
});

// ---------------------------------------------------------------- linear and embedding

function matmulNaive(
  x: Float32Array,
  M: number,
  K: number,
  w: Float32Array,
  N: number,
  b: Float32Array | null,
): Float64Array {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = b ? b[n]! : 0;
      for (let i = 0; i < K; i++) s += x[m * K + i]! * w[n * K + i]!;
      out[m * N + n] = s;
    }
  }
  return out;
}

for (const dtype of ["f32", "f16", "bf16", "q8_0", "q4_0"] as const) {
  test(`linear with ${dtype} weights equals dequantize-then-matmul (odd M and N, both kernel paths)`, () => {
    const r = rng(200 + dtype.length);
    const [N, K] = [5, 64];
    const w = stored(dtype, randn(N * K, r), N, K);
    const wd = dequantized(w);
    const bias = randn(N, r);
    for (const M of [1, 3, 9]) {
      const x = randn(M * K, r);
      for (const b of [null, bias]) {
        const y = ops.linear(Tensor.fromArray(x, [M, K]), w, b ? Tensor.fromArray(b) : null);
        assert.deepEqual(y.shape, [M, N]);
        assertClose(y.toArray(), matmulNaive(x, M, K, wd, N, b), 1e-4, 1e-5, `M=${M} bias=${b !== null}`);
      }
    }
  });
}

test("linear keeps leading dimensions and accepts strided (transposed) inputs and weights", () => {
  const r = rng(9);
  const [N, K] = [3, 4];
  const xs = randn(2 * 5 * K, r);
  const ws = randn(N * K, r);
  const w = Tensor.fromArray(ws, [N, K]);
  const y = ops.linear(Tensor.fromArray(xs, [2, 5, K]), w);
  assert.deepEqual(y.shape, [2, 5, N]);
  assertClose(y.toArray(), matmulNaive(xs, 10, K, ws, N, null), 1e-6, 1e-6, "3-D input");
  // x given as the transpose of a [K, M] tensor; w as the transpose of a [K, N] tensor
  const xT = Tensor.fromArray(
    Tensor.fromArray(xs.subarray(0, 5 * K), [5, K])
      .transpose(0, 1)
      .toArray(),
    [K, 5],
  ).transpose(0, 1);
  const wT = Tensor.fromArray(w.transpose(0, 1).toArray(), [K, N]).transpose(0, 1);
  assert.equal(xT.isContiguous(), false);
  assert.equal(wT.isContiguous(), false);
  assertClose(ops.linear(xT, wT).toArray(), matmulNaive(xs, 5, K, ws, N, null), 1e-6, 1e-6, "strided");
});

test("linear refuses mismatched shapes, a bad bias and non-f32 inputs", () => {
  const w = Tensor.fromArray(new Float32Array(3 * 4), [3, 4]);
  assert.throws(
    () => ops.linear(Tensor.fromArray(new Float32Array(10), [2, 5]), w),
    /linear: input \[2,5\] vs weight \[3,4\]/,
  );
  assert.throws(
    () => ops.linear(Tensor.fromArray(new Float32Array(8), [2, 4]), Tensor.fromArray(new Float32Array(12))),
    /linear/,
  );
  assert.throws(
    () => ops.linear(Tensor.fromArray(new Float32Array(8), [2, 4]), w, Tensor.fromArray([1, 2])),
    /bias/,
  );
  assert.throws(() => ops.linear(Tensor.fromInts(new Int32Array(8), [2, 4]), w), /expected f32/);
});

for (const dtype of ["f32", "f16", "q8_0", "q4_0"] as const) {
  test(`embedding with a ${dtype} table returns the dequantized rows`, () => {
    const r = rng(300 + dtype.length);
    const [V, D] = [7, 64];
    const table = stored(dtype, randn(V * D, r), V, D);
    const full = dequantized(table);
    const ids = [6, 0, 3, 3];
    const y = ops.embedding(table, ids);
    assert.deepEqual(y.shape, [ids.length, D]);
    const expected = ids.flatMap((id) => Array.from(full.subarray(id * D, id * D + D)));
    assert.deepEqual(y.toArray(), expected);
    assert.throws(() => ops.embedding(table, [7]), /token id 7 outside vocabulary of 7/);
    assert.throws(() => ops.embedding(table, [-1]), /outside vocabulary/);
    assert.throws(() => ops.embedding(table, [1.5]), /outside vocabulary/);
  });
}

// ---------------------------------------------------------------- tensor views

test("reshape (with -1), transpose, narrow and contiguous give the right values", () => {
  const t = Tensor.fromArray(
    Array.from({ length: 12 }, (_, i) => i),
    [3, 4],
  );
  const r = t.reshape([2, -1]);
  assert.deepEqual(r.shape, [2, 6]);
  assert.equal(r.data, t.data); // a view
  const tr = t.transpose(0, 1); // [4, 3]
  assert.deepEqual(tr.shape, [4, 3]);
  assert.equal(tr.isContiguous(), false);
  assert.deepEqual(tr.toArray(), [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
  assert.deepEqual(t.transpose(-1, -2).toArray(), tr.toArray());
  const n = t.narrow(1, 1, 2); // columns 1..2
  assert.deepEqual(n.shape, [3, 2]);
  assert.deepEqual(n.toArray(), [1, 2, 5, 6, 9, 10]);
  const rowsView = t.narrow(0, 1, 2); // rows 1..2: contiguous with an offset
  assert.equal(rowsView.isContiguous(), true);
  assert.deepEqual(rowsView.reshape([8]).toArray(), [4, 5, 6, 7, 8, 9, 10, 11]);
  assert.deepEqual(Array.from(rowsView.f32()), [4, 5, 6, 7, 8, 9, 10, 11]);
  const c = tr.contiguous();
  assert.equal(c.isContiguous(), true);
  assert.notEqual(c.data, t.data);
  assert.deepEqual(c.toArray(), tr.toArray());
  // reshape of a strided view copies in logical order
  assert.deepEqual(tr.reshape([12]).toArray(), [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
  // view chains: narrow a transposed 3-D tensor
  const t3 = Tensor.fromArray(
    Array.from({ length: 24 }, (_, i) => i),
    [2, 3, 4],
  );
  const v = t3.transpose(0, 2).narrow(0, 1, 2).narrow(2, 1, 1); // [2, 3, 1]: t3[1, j, i] for i in 1..2
  assert.deepEqual(v.shape, [2, 3, 1]);
  assert.deepEqual(v.toArray(), [13, 17, 21, 14, 18, 22]);
  // writes through a view are seen by the base
  (t.data as Float32Array)[5] = 50;
  assert.equal(n.toArray()[2], 50);
});

test("tensor construction and views refuse bad shapes", () => {
  const t = Tensor.fromArray(new Float32Array(12), [3, 4]);
  assert.throws(() => t.reshape([5, 2]), /cannot reshape \[3,4\] to \[5,2\]/);
  assert.throws(() => t.reshape([5, -1]), /bad dimension|cannot reshape/);
  assert.throws(() => t.narrow(1, 3, 2), /narrow\(1, 3, 2\) out of range/);
  assert.throws(() => t.narrow(0, -1, 1), /out of range/);
  assert.throws(() => Tensor.fromArray([1, 2, 3], [2, 2]), /3 values do not fill shape \[2,2\]/);
  assert.throws(() => Tensor.zeros([2, -1]), /bad dimension -1/);
  assert.throws(() => Tensor.zeros([1.5]), /bad dimension 1.5/);
  assert.throws(() => new Tensor("f32", [2], new Int32Array(2)), /f32 tensor needs a Float32Array/);
  assert.throws(() => Tensor.fromBytes("q8_0", [2, 16], new Uint8Array(64)), /multiple of 32/);
  assert.throws(() => Tensor.fromBytes("q8_0", [2, 32], new Uint8Array(67)), /tensor data too short/);
  assert.throws(
    () => Tensor.fromBytes("f16", [2, 3], new Uint8Array(12)).narrow(1, 0, 2),
    /f16 tensors must be contiguous/,
  );
  assert.throws(() => Tensor.fromBytes("f16", [2, 3], new Uint8Array(12)).toArray(), /dequantize first/);
  assert.throws(() => Tensor.fromInts([1, 2]).f32(), /expected an f32 tensor/);
});
