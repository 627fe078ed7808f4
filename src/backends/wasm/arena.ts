// WasmArena: an Allocator that bump-allocates 64-byte aligned ranges inside one shared WebAssembly.Memory,
// growing it as needed (up to 4 GiB). Weights loaded through it are read by the kernels in place.

import type { Allocator } from "../../tensor/storage.js";
import { MAX_PAGES, PAGE_BYTES, type WasmMemory } from "./runtime.js";

const ALIGN = 64;

function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

export class WasmArena implements Allocator {
  private top: number;
  /** Every buffer object memory.buffer has returned: after grow() it is a new object over the same bytes. */
  private readonly buffers = new WeakSet<object>();

  constructor(
    readonly memory: WasmMemory,
    base: number,
  ) {
    this.top = alignUp(Math.max(base, ALIGN)); // offset 0 stays unused: kernels read 0 as "none"
  }

  /** The current buffer over the whole memory (take it fresh: growth replaces the object). */
  get buffer(): ArrayBufferLike {
    const b = this.memory.buffer;
    this.buffers.add(b);
    return b;
  }

  /** Bytes handed out so far (the arena never frees). */
  get usedBytes(): number {
    return this.top;
  }

  alloc(byteLength: number): Uint8Array {
    if (!Number.isSafeInteger(byteLength) || byteLength < 0)
      throw new Error(`refusing to allocate ${byteLength} bytes`);
    const start = alignUp(this.top);
    this.reserve(start + byteLength);
    this.top = start + byteLength;
    return new Uint8Array(this.buffer, start, byteLength);
  }

  /** Grows the memory so that bytes [0, end) exist. */
  private reserve(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE_BYTES);
    if (have / PAGE_BYTES + pages > MAX_PAGES)
      throw new Error(`wasm arena: ${end} bytes exceed the 4 GiB WebAssembly memory`);
    try {
      this.memory.grow(pages);
    } catch (e) {
      throw new Error(`wasm arena: cannot grow memory to ${end} bytes (${(e as Error).message})`);
    }
  }

  /** Whether `buf` is (a buffer object of) this arena's memory. */
  owns(buf: ArrayBufferLike): boolean {
    return this.buffers.has(buf) || buf === this.buffer;
  }

  /** Byte offset of a view inside the memory, or -1 when it lies elsewhere. */
  offsetOf(a: ArrayBufferView): number {
    return this.owns(a.buffer) ? a.byteOffset : -1;
  }
}
