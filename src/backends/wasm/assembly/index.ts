// The decoderkit WebAssembly SIMD kernels (AssemblyScript): every pointer is a byte offset into the one
// shared memory that the host imports; the host owns all allocation.

export { linear, quantBytes, quantizeRows } from "./linear";
export { linearGemmRows, linearGemmWorkBytes } from "./linear-gemm";
export { quantBytesK, quantizeRowsK, quantRowBytesK } from "./kquant";
export { layernorm, rmsnorm, softmax } from "./rows";
export { attention, attentionFinish, attentionKeys, attentionRangeBytes, attentionScoreBytes } from "./attention";
export { attentionBackward, attentionBackwardScratch, attentionForward } from "./attention-grad";
export { gemm, gemmWorkBytes } from "./gemm";
export { geluBackward, geluTanhBackward, layernormBackward, rmsnormBackward, siluBackward, sumRows } from "./train-ops";
export { adamStep, scaleInPlace, sumSquares } from "./optim";
export { binary, gelu, geluTanh, rope, silu, swiglu } from "./activations";
import { f16Table } from "./half";
export { halvesFinite } from "./half";

/** Zeroes bytes [ptr, ptr + n) (TypedArray.fill on shared memory is several times slower). */
export function zero(ptr: usize, n: usize): void {
  memory.fill(ptr, 0, n);
}

/** Where the kernels expect the host's f16 → f32 table (half.ts). */
export function f16TableOffset(): usize {
  return f16Table();
}

/** First byte past the module's static data; the host's arena starts above it. */
export function heapBase(): usize {
  return __heap_base;
}
export { crossEntropyBackward, crossEntropyForward } from "./cross-entropy";
