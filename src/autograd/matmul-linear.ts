// Backward matrix products run by the active backend's linear kernel (x·wᵀ): dX = dY·W is linear(dY, Wᵀ) and
// dW = dYᵀ·X is linear(dYᵀ, Xᵀ). The right operand is copied transposed into storage from `alloc` (the wasm
// arena, where the SIMD kernel reads weights in place) and given back after each product.

import { kernels } from "../tensor/backend.js";
import type { Allocator } from "../tensor/storage.js";
import { Tensor } from "../tensor/tensor.js";
import type { MatmulKernels } from "./matmul.js";

/** src [R, C] transposed into dst [C, R]. */
function transposeInto(src: Float32Array, R: number, C: number, dst: Float32Array): void {
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) dst[c * R + r] = src[r * C + c]!;
}

/** out (+)= x[M, K] · w[N, K]ᵀ, with w's storage from alloc. */
function linearInto(
  alloc: Allocator,
  x: Float32Array,
  M: number,
  K: number,
  N: number,
  fillW: (w: Float32Array) => void,
  out: Float32Array,
): void {
  const bytes = alloc.alloc(N * K * 4);
  try {
    const w = Tensor.fromBytes("f32", [N, K], bytes);
    fillW(w.f32());
    const tmp = new Float32Array(M * N);
    kernels().linear(x, M, K, w, null, tmp);
    for (let i = 0; i < tmp.length; i++) out[i]! += tmp[i]!;
  } finally {
    alloc.free?.(bytes);
  }
}

export function linearMatmul(alloc: Allocator): MatmulKernels {
  return {
    // out[M, K] += a[M, N] · b[N, K] = linear(a, bᵀ as [K, N])
    nn(a, b, M, N, K, out) {
      linearInto(alloc, a, M, N, K, (w) => transposeInto(b, N, K, w), out);
    },
    // out[N, K] += a[M, N]ᵀ · b[M, K] = linear(aᵀ [N, M], bᵀ as [K, M])
    tn(a, b, M, N, K, out) {
      const at = new Float32Array(N * M);
      transposeInto(a, M, N, at);
      linearInto(alloc, at, N, M, K, (w) => transposeInto(b, M, K, w), out);
    },
  };
}
