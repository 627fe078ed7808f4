// The decoderkit WebAssembly SIMD kernels (AssemblyScript): every pointer is a byte offset into the one
// shared memory that the host imports; the host owns all allocation.

export { linear, quantizeRows, quantRowBytes } from "./linear";
export { quantizeRowsK, quantRowBytesK } from "./kquant";
export { rmsnorm, softmax } from "./rows";
export { attention } from "./attention";
export { silu } from "./activations";

/** First byte past the module's static data; the host's arena starts above it. */
export function heapBase(): usize {
  return __heap_base;
}
