// Single-thread CPU-time microbenchmark of the wasm Q8_0/Q4_0 linear (quantized activations), baseline vs relaxed
// SIMD module in one process: best of `reps` runs (process.cpuUsage), weight GB/s for M = 1, GFLOP/s for M > 1.
// Usage: node tools/bench-wasm-simd.mjs [reps] (after npm run build).

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

/** Random blocks (every weight byte / nibble pattern) with small finite f16 scales, in the backend's arena. */
function weight(be, dtype, N, K, r) {
  const [bs, bb] = dtype === "q8_0" ? [32, 34] : [32, 18];
  const bytes = be.arena.alloc((N * K * bb) / bs);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (r() * 256) | 0;
  for (let i = 0; i < bytes.length; i += bb) bytes[i + 1] = 0x20 | (bytes[i + 1] & 0x03);
  return Tensor.fromBytes(dtype, [N, K], bytes);
}

/** CPU ms of one call: the best of `reps` timings of enough calls to take ≥ 20 ms. */
function cpuMs(f) {
  let n = 1;
  for (;;) {
    const t = process.cpuUsage();
    for (let i = 0; i < n; i++) f();
    const d = process.cpuUsage(t);
    if (d.user + d.system >= 20000) break;
    n *= 2;
  }
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = process.cpuUsage();
    for (let i = 0; i < n; i++) f();
    const d = process.cpuUsage(t);
    best = Math.min(best, (d.user + d.system) / 1000 / n);
  }
  return best;
}

const backends = ["baseline", "relaxed"].map((simd) => createWasmBackend({ simd }));
console.log(`node ${process.version}, reps ${reps}, one thread, CPU time`);
for (const dtype of ["q8_0", "q4_0"]) {
  for (const [N, K] of shapes) {
    for (const M of Ms) {
      const cols = [];
      const outs = [];
      for (const be of backends) {
        const r = rand(N + K);
        const w = weight(be, dtype, N, K, r);
        const x = new Float32Array(M * K).map(() => r() * 2 - 1);
        const out = new Float32Array(M * N);
        const ms = cpuMs(() => be.kernels.linear(x, M, K, w, null, out));
        outs.push(out);
        const rate =
          M === 1
            ? `${(w.bytes().length / ms / 1e6).toFixed(1)} GB/s`
            : `${((2 * M * N * K) / ms / 1e6).toFixed(1)} GFLOP/s`;
        cols.push(`${be.simd} ${ms.toFixed(3)} ms (${rate})`);
        be.arena.free(w.bytes());
      }
      let diff = 0;
      for (let i = 0; i < outs[0].length; i++)
        diff = Math.max(diff, Math.abs(outs[0][i] - outs[1][i]) / (1 + Math.abs(outs[0][i])));
      console.log(
        `${dtype} N=${N} K=${K} M=${M}: ${cols.join(", ")}; speed-up ${(parseFloat(cols[0].split(" ")[1]) / parseFloat(cols[1].split(" ")[1])).toFixed(2)}x; max rel diff ${diff.toExponential(1)}`,
      );
    }
  }
}
