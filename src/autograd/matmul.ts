// The matrix products that linear's backward needs, behind a small replaceable interface so that a fast kernel
// (wasm SIMD, threads) can slot in: dX = dY·W and dW = dYᵀ·X. The default is plain loops in cache-friendly order;
// backendMatmul runs the active backend's matmul kernel.

import { kernels } from "../tensor/backend.js";
import { gradBuffer } from "./buffers.js";

export interface MatmulKernels {
  /** out[M, K] (+)= a[M, N] · b[N, K]. */
  nn(a: Float32Array, b: Float32Array, M: number, N: number, K: number, out: Float32Array): void;
  /** out[N, K] (+)= a[M, N]ᵀ · b[M, K]. */
  tn(a: Float32Array, b: Float32Array, M: number, N: number, K: number, out: Float32Array): void;
}

/** out[o..o+K) += s0·b[b0..] + s1·b[b1..] + s2·b[b2..] + s3·b[b3..]: four rows per pass over out. */
function axpy4(
  out: Float32Array,
  o: number,
  b: Float32Array,
  K: number,
  s: readonly [number, number, number, number],
  r: readonly [number, number, number, number],
): void {
  const [s0, s1, s2, s3] = s;
  const [b0, b1, b2, b3] = r;
  for (let k = 0; k < K; k++)
    out[o + k]! += s0 * b[b0 + k]! + s1 * b[b1 + k]! + s2 * b[b2 + k]! + s3 * b[b3 + k]!;
}

function axpy1(out: Float32Array, o: number, b: Float32Array, K: number, s: number, bo: number): void {
  if (s === 0) return;
  for (let k = 0; k < K; k++) out[o + k]! += s * b[bo + k]!;
}

export const loopMatmul: MatmulKernels = {
  nn(a, b, M, N, K, out) {
    const N4 = N - (N % 4);
    for (let m = 0; m < M; m++) {
      const o = m * K;
      const ao = m * N;
      for (let n = 0; n < N4; n += 4) {
        const s = [a[ao + n]!, a[ao + n + 1]!, a[ao + n + 2]!, a[ao + n + 3]!] as const;
        axpy4(out, o, b, K, s, [n * K, (n + 1) * K, (n + 2) * K, (n + 3) * K]);
      }
      for (let n = N4; n < N; n++) axpy1(out, o, b, K, a[ao + n]!, n * K);
    }
  },
  tn(a, b, M, N, K, out) {
    const M4 = M - (M % 4);
    for (let m = 0; m < M4; m += 4) {
      const r = [m * K, (m + 1) * K, (m + 2) * K, (m + 3) * K] as const;
      for (let n = 0; n < N; n++) {
        const s = [a[m * N + n]!, a[(m + 1) * N + n]!, a[(m + 2) * N + n]!, a[(m + 3) * N + n]!] as const;
        axpy4(out, n * K, b, K, s, r);
      }
    }
    for (let m = M4; m < M; m++) for (let n = 0; n < N; n++) axpy1(out, n * K, b, K, a[m * N + n]!, m * K);
  },
};

/** The active backend's matmul kernel (Kernels.matmul: a GEMM on the wasm backend, loops on the reference one). */
export const backendMatmul: MatmulKernels = {
  nn(a, b, M, N, K, out) {
    kernels().matmul(a, b, null, { M, N: K, K: N, transA: false, transB: false, accumulate: true }, out);
  },
  tn(a, b, M, N, K, out) {
    kernels().matmul(a, b, null, { M: N, N: K, K: M, transA: true, transB: false, accumulate: true }, out);
  },
};

let active: MatmulKernels = loopMatmul;

export function setMatmulKernels(k: MatmulKernels): void {
  active = k;
}

export function matmulKernels(): MatmulKernels {
  return active;
}

/** a[M, N] · b[N, K] → new [M, K]. */
export function matmulNN(a: Float32Array, b: Float32Array, M: number, N: number, K: number): Float32Array {
  const out = gradBuffer(M * K);
  active.nn(a, b, M, N, K, out);
  return out;
}

/** a[M, N]ᵀ · b[M, K] → new [N, K]. */
export function matmulTN(a: Float32Array, b: Float32Array, M: number, N: number, K: number): Float32Array {
  const out = gradBuffer(N * K);
  active.tn(a, b, M, N, K, out);
  return out;
}
