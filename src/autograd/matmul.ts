// The matrix products that linear's backward needs, behind a small replaceable interface so that a fast kernel
// (wasm SIMD, threads) can slot in: dX = dY·W and dW = dYᵀ·X. The default is plain loops in cache-friendly order.

export interface MatmulKernels {
  /** out[M, K] (+)= a[M, N] · b[N, K]. */
  nn(a: Float32Array, b: Float32Array, M: number, N: number, K: number, out: Float32Array): void;
  /** out[N, K] (+)= a[M, N]ᵀ · b[M, K]. */
  tn(a: Float32Array, b: Float32Array, M: number, N: number, K: number, out: Float32Array): void;
}

export const loopMatmul: MatmulKernels = {
  nn(a, b, M, N, K, out) {
    for (let m = 0; m < M; m++) {
      const o = m * K;
      for (let n = 0; n < N; n++) {
        const s = a[m * N + n]!;
        if (s === 0) continue;
        const bo = n * K;
        for (let k = 0; k < K; k++) out[o + k]! += s * b[bo + k]!;
      }
    }
  },
  tn(a, b, M, N, K, out) {
    for (let m = 0; m < M; m++) {
      const ao = m * N;
      const bo = m * K;
      for (let n = 0; n < N; n++) {
        const s = a[ao + n]!;
        if (s === 0) continue;
        const o = n * K;
        for (let k = 0; k < K; k++) out[o + k]! += s * b[bo + k]!;
      }
    }
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
  const out = new Float32Array(M * K);
  active.nn(a, b, M, N, K, out);
  return out;
}

/** a[M, N]ᵀ · b[M, K] → new [N, K]. */
export function matmulTN(a: Float32Array, b: Float32Array, M: number, N: number, K: number): Float32Array {
  const out = new Float32Array(N * K);
  active.tn(a, b, M, N, K, out);
  return out;
}
