// Where autograd puts gradient arrays: the activation allocator (the wasm backend's frame stack inside a training
// step, so that its kernels read and write them in place; the JS heap otherwise).

import { activationAllocator } from "../tensor/storage.js";

/** A zeroed f32 array of n entries from the activation allocator. */
export function gradBuffer(n: number): Float32Array {
  const bytes = activationAllocator().alloc(n * 4);
  return new Float32Array(bytes.buffer, bytes.byteOffset, n);
}

/** A copy of src from the activation allocator. */
export function gradCopy(src: Float32Array): Float32Array {
  const out = gradBuffer(src.length);
  out.set(src);
  return out;
}
