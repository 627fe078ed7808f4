// WasmArena: an Allocator that bump-allocates 64-byte aligned ranges inside one shared WebAssembly.Memory,
// growing it as needed (up to 4 GiB). Weights loaded through it are read by the kernels in place. Memory is
// never returned to the system; free() keeps a range on a free list keyed by its aligned size for the next
// alloc of that size (KV caches, whose sizes repeat: doubling capacities of one model shape).

import type { Allocator } from "../../tensor/storage.js";
import { MAX_PAGES, PAGE_BYTES, type WasmMemory } from "./runtime.js";

const ALIGN = 64;

function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

export class WasmArena implements Allocator {
  private top: number;
  /** Freed ranges by aligned byte length: offsets ready for reuse. */
  private readonly freeLists = new Map<number, number[]>();
  private freedBytes = 0;
  /** Every buffer object memory.buffer has returned: after grow() it is a new object over the same bytes. */
  private readonly buffers = new WeakSet<object>();
  private last: object | null = null;

  constructor(
    readonly memory: WasmMemory,
    base: number,
  ) {
    this.top = alignUp(Math.max(base, ALIGN)); // offset 0 stays unused: kernels read 0 as "none"
  }

  /** The current buffer over the whole memory (take it fresh: growth replaces the object). */
  get buffer(): ArrayBufferLike {
    const b = this.memory.buffer;
    if (b !== this.last) {
      this.buffers.add(b);
      this.last = b;
    }
    return b;
  }

  /** Bytes below the bump pointer (including freed ranges waiting for reuse). */
  get usedBytes(): number {
    return this.top;
  }

  /** Bytes on the free lists. */
  get freeBytes(): number {
    return this.freedBytes;
  }

  alloc(byteLength: number): Uint8Array {
    if (!Number.isSafeInteger(byteLength) || byteLength < 0)
      throw new Error(`refusing to allocate ${byteLength} bytes`);
    const reused = this.freeLists.get(alignUp(byteLength))?.pop();
    if (reused !== undefined) {
      this.freedBytes -= alignUp(byteLength);
      const bytes = new Uint8Array(this.buffer, reused, byteLength);
      bytes.fill(0);
      return bytes;
    }
    const start = alignUp(this.top);
    this.reserve(start + byteLength);
    this.top = start + byteLength;
    return new Uint8Array(this.buffer, start, byteLength);
  }

  /** Puts a range from alloc() on the free list; the caller must drop every view of it. */
  free(bytes: Uint8Array): void {
    const off = this.offsetOf(bytes);
    if (off < 0 || off % ALIGN !== 0 || bytes.byteLength === 0)
      throw new Error("wasm arena: free of a range it did not allocate");
    const size = alignUp(bytes.byteLength);
    let list = this.freeLists.get(size);
    if (!list) this.freeLists.set(size, (list = []));
    list.push(off);
    this.freedBytes += size;
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
    return buf === this.last || this.buffers.has(buf) || buf === this.buffer;
  }

  /** Byte offset of a view inside the memory, or -1 when it lies elsewhere. */
  offsetOf(a: ArrayBufferView): number {
    return this.owns(a.buffer) ? a.byteOffset : -1;
  }
}
