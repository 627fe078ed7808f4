// Single-thread CPU-time microbenchmark of the wasm Q8_0/Q4_0 linear (quantized activations), baseline vs relaxed
// SIMD module in one process: best of `reps` runs (process.cpuUsage), weight GB/s for M = 1, GFLOP/s for M > 1.
// Usage: node tools/bench-wasm-simd.mjs [reps] (after npm run build); SHAPES='[[N,K],..]' and DTYPES=q8_0,q4_0,q4_k,q6_k
// pick other cases.

import { createWasmBackend } from "../dist/backends/wasm/index.js";
import { Tensor } from "../dist/tensor/tensor.js";

const reps = Number(process.argv[2] ?? 7);
const shapes = process.env.SHAPES
  ? JSON.parse(process.env.SHAPES)
  : [
      [4096, 4096],
      [5632, 2048],
    ];
const Ms = [1, 32];

function rand(seed) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** [values, bytes] per block and the byte offsets of its f16 scales. */
const BLOCKS = {
  q8_0: [32, 34, [0]],
  q4_0: [32, 18, [0]],
  q4_k: [256, 144, [0, 2]],
  q6_k: [256, 210, [208]],
};

/** Random blocks (every weight byte / nibble pattern) with small finite f16 scales, in the backend's arena. */
function weight(be, dtype, N, K, r) {
  const [bs, bb, halves] = BLOCKS[dtype];
  const bytes = be.arena.alloc((N * K * bb) / bs);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (r() * 256) | 0;
  for (let i = 0; i < bytes.length; i += bb)
    for (const h of halves) bytes[i + h + 1] = 0x20 | (bytes[i + h + 1] & 0x03);
  return Tensor.fromBytes(dtype, [N, K], bytes);
}

/** CPU ms of one call of each f, timed in turns (drift hits all alike): the best of `reps` turns of ≥ 20 ms. */
function cpuMs(fs) {
  let n = 1;
  for (;;) {
    const t = process.cpuUsage();
    for (let i = 0; i < n; i++) fs[0]();
    const d = process.cpuUsage(t);
    if (d.user + d.system >= 20000) break;
    n *= 2;
  }
  const best = fs.map(() => Infinity);
  for (let r = 0; r < reps; r++) {
    fs.forEach((f, j) => {
      const t = process.cpuUsage();
      for (let i = 0; i < n; i++) f();
      const d = process.cpuUsage(t);
      best[j] = Math.min(best[j], (d.user + d.system) / 1000 / n);
    });
  }
  return best;
}

const backends = (process.env.ORDER === "rb" ? ["relaxed", "baseline"] : ["baseline", "relaxed"]).map(
  (simd) => createWasmBackend({ simd }),
);
console.log(`node ${process.version}, reps ${reps}, one thread, CPU time`);
const dtypes = process.env.DTYPES ? process.env.DTYPES.split(",") : ["q8_0", "q4_0"];
for (const dtype of dtypes) {
  for (const [N, K] of shapes) {
    for (const M of Ms) {
      const cases = backends.map((be) => {
        const r = rand(N + K);
        const w = weight(be, dtype, N, K, r);
        const x = new Float32Array(M * K).map(() => r() * 2 - 1);
        const out = new Float32Array(M * N);
        return { be, w, x, out };
      });
      const ms = cpuMs(cases.map((c) => () => c.be.kernels.linear(c.x, M, K, c.w, null, c.out)));
      const outs = cases.map((c) => c.out);
      const cols = cases.map((c, j) => {
        const rate =
          M === 1
            ? `${(c.w.bytes().length / ms[j] / 1e6).toFixed(1)} GB/s`
            : `${((2 * M * N * K) / ms[j] / 1e6).toFixed(1)} GFLOP/s`;
        c.be.arena.free(c.w.bytes());
        return `${c.be.simd} ${ms[j].toFixed(3)} ms (${rate})`;
      });
      let diff = 0;
      for (let i = 0; i < outs[0].length; i++)
        diff = Math.max(diff, Math.abs(outs[0][i] - outs[1][i]) / (1 + Math.abs(outs[0][i])));
      console.log(
        `${dtype} N=${N} K=${K} M=${M}: ${cols.join(", ")}; ${cases[1].be.simd} speed-up ${(ms[0] / ms[1]).toFixed(2)}x; max rel diff ${diff.toExponential(1)}`,
      );
    }
  }
}
