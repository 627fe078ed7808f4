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

/**
 * A stack of scratch ranges for the activations of one forward pass: mark() before, release(mark) after, and
 * every range handed out in between is reused. The wasm backend supplies one inside its memory so that kernels
 * read and write activations in place; with none, activations live on the JS heap.
 */
export interface FrameAllocator extends Allocator {
  mark(): number;
  release(mark: number): void;
}

let frames: FrameAllocator | null = null;
let frameDepth = 0;

export function setFrameAllocator(f: FrameAllocator | null): void {
  if (frameDepth > 0) throw new Error("cannot change the frame allocator inside a frame");
  frames = f;
}

/** Whether a frame allocator is set (inFrame then releases what ops allocate). */
export function hasFrames(): boolean {
  return frames !== null;
}

/** Where op outputs go: the frame stack inside inFrame(), else the current allocator. */
export function activationAllocator(): Allocator {
  return frameDepth > 0 && frames ? frames : current;
}

/**
 * Runs fn with op outputs on the frame stack, then releases every range taken meanwhile: fn must copy out
 * (e.g. with `Tensor.fromArray` after leaving, or into a tensor allocated before) whatever outlives it.
 */
export function inFrame<T>(fn: () => T): T {
  if (!frames) return fn();
  const f = frames;
  const mark = f.mark();
  frameDepth++;
  try {
    return fn();
  } finally {
    frameDepth--;
    f.release(mark);
  }
}
