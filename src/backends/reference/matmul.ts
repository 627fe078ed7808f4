// Reference dense product out[M, N] (+)= A·B (+ bias) with either operand stored transposed: plain loops, each
// entry summed over k in order (the oracle for the fast GEMMs).

import type { MatmulParams } from "../../tensor/backend.js";

export function matmul(
  a: Float32Array,
  b: Float32Array,
  bias: Float32Array | null,
  p: MatmulParams,
  out: Float32Array,
): void {
  const { M, N, K, transA, transB, accumulate } = p;
  if (a.length < M * K || b.length < K * N || out.length < M * N || (bias && bias.length < N))
    throw new Error("matmul: buffers too small");
  const [rsa, csa] = transA ? [1, M] : [K, 1];
  const [rsb, csb] = transB ? [1, K] : [N, 1];
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[m * rsa + k * csa]! * b[k * rsb + n * csb]!;
      if (bias) s += bias[n]!;
      out[m * N + n] = accumulate ? out[m * N + n]! + s : s;
    }
}
