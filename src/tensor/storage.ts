// Where tensor bytes live. An Allocator hands out aligned byte ranges; the default uses the JS heap,
// and a WebAssembly arena allocator (one shared WebAssembly.Memory) can be swapped in so that kernels
// read weights and activations without copies. Loaders read file bytes straight into these ranges.

export interface Allocator {
  /** A zero-filled, 64-byte aligned byte range of `byteLength` bytes. */
  alloc(byteLength: number): Uint8Array;
  /** Returns a range from alloc() for reuse (allocators that cannot reuse omit this; the GC frees heap bytes). */
  free?(bytes: Uint8Array): void;
}

/** Largest single allocation the default allocator accepts (guards against hostile headers). */
export const MAX_ALLOC_BYTES = 2 ** 32;

export const heapAllocator: Allocator = {
  alloc(byteLength: number): Uint8Array {
    if (!Number.isSafeInteger(byteLength) || byteLength < 0 || byteLength > MAX_ALLOC_BYTES) {
      throw new Error(`refusing to allocate ${byteLength} bytes`);
    }
    return new Uint8Array(byteLength);
  },
};

let current: Allocator = heapAllocator;

export function getAllocator(): Allocator {
  return current;
}

export function setAllocator(a: Allocator): void {
  current = a;
}

let cacheAllocator: Allocator = heapAllocator;

/** Where KV caches keep their rows: the active backend's memory, so that attention reads them in place. */
export function getCacheAllocator(): Allocator {
  return cacheAllocator;
}

export function setCacheAllocator(a: Allocator): void {
  cacheAllocator = a;
}
