// FrameStack: the activations of a forward pass on a stack inside the wasm memory (a FrameAllocator), so that
// kernels read and write them in place. Ranges come from chunks taken from the arena; a chunk once taken is
// kept and reused by every later frame, and a request that fits no chunk adds one twice the size of the last.

import type { FrameAllocator } from "../../tensor/storage.js";
import type { WasmArena } from "./arena.js";

const ALIGN = 64;
const FIRST_CHUNK = 1 << 20;
/** Marks encode (chunk index, used bytes) as index · 2^32 + used. */
const CHUNK_SPAN = 2 ** 32;

interface Chunk {
  readonly offset: number;
  readonly size: number;
}

export class FrameStack implements FrameAllocator {
  private readonly chunks: Chunk[] = [];
  private ci = 0;
  private used = 0;

  constructor(
    private readonly arena: WasmArena,
    /** Zeroes bytes in the memory (the kernels' `zero`: faster than fill() on shared memory). */
    private readonly zero: (ptr: number, n: number) => void,
  ) {}

  /** Bytes of wasm memory the stack holds (all chunks). */
  get reservedBytes(): number {
    return this.chunks.reduce((s, c) => s + c.size, 0);
  }

  alloc(byteLength: number): Uint8Array {
    if (!Number.isSafeInteger(byteLength) || byteLength < 0)
      throw new Error(`refusing to allocate ${byteLength} bytes`);
    const need = Math.ceil(byteLength / ALIGN) * ALIGN;
    let c = this.chunks[this.ci];
    if (!c || this.used + need > c.size) {
      // the next chunk that fits, else a new one
      let i = c ? this.ci + 1 : this.ci;
      while (i < this.chunks.length && this.chunks[i]!.size < need) i++;
      if (i >= this.chunks.length) {
        const last = this.chunks[this.chunks.length - 1]?.size ?? FIRST_CHUNK / 2;
        const size = Math.max(need, 2 * last);
        this.chunks.push({ offset: this.arena.alloc(size).byteOffset, size });
        i = this.chunks.length - 1;
      }
      this.ci = i;
      this.used = 0;
      c = this.chunks[i]!;
    }
    const bytes = new Uint8Array(this.arena.buffer, c.offset + this.used, byteLength);
    this.zero(c.offset + this.used, byteLength);
    this.used += need;
    return bytes;
  }

  mark(): number {
    return this.ci * CHUNK_SPAN + this.used;
  }

  release(mark: number): void {
    this.ci = Math.floor(mark / CHUNK_SPAN);
    this.used = mark - this.ci * CHUNK_SPAN;
  }
}
