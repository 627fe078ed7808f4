// A region of the wasm arena that kernel calls reuse for operands living outside the memory (JS heap arrays):
// inputs are copied in, outputs written there and copied back by finish().

import type { WasmArena } from "./arena.js";

const ALIGN = 64;
export const align = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

/** A region of the arena reused by every call for operands that live outside the memory. */
export class Scratch {
  private base = 0;
  private cap = 0;
  private used = 0;
  private view: Float32Array = new Float32Array(0);

  constructor(private readonly arena: WasmArena) {}

  /** Starts a call needing at most `bytes` (the sum of aligned pieces). */
  begin(bytes: number): void {
    if (bytes > this.cap) {
      const cap = align(Math.max(bytes, 2 * this.cap, 1 << 16));
      this.base = this.arena.alloc(cap).byteOffset;
      this.cap = cap;
    }
    this.used = 0;
  }

  take(bytes: number): number {
    const p = this.base + this.used;
    this.used += align(bytes);
    return p;
  }

  /** f32 view over the whole memory, refreshed after growth. */
  f32(): Float32Array {
    const b = this.arena.buffer;
    if (this.view.buffer !== b) this.view = new Float32Array(b, 0, Math.floor(b.byteLength / 4));
    return this.view;
  }

  /** Offset of the first n floats of `a`: in place when it lies in the memory, else copied into scratch. */
  input(a: Float32Array, n: number): number {
    const off = this.arena.offsetOf(a);
    if (off >= 0) return off;
    const p = this.take(n * 4);
    this.f32().set(a.subarray(0, n), p / 4);
    return p;
  }

  /** Offset to write n floats of `a` to: in place, or a scratch piece that `finish` copies back. */
  output(a: Float32Array, n: number): number {
    const off = this.arena.offsetOf(a);
    return off >= 0 ? off : this.take(n * 4);
  }

  finish(a: Float32Array, off: number, n: number): void {
    if (this.arena.offsetOf(a) >= 0) return;
    a.set(this.f32().subarray(off / 4, off / 4 + n));
  }

  /** Aligned bytes for n floats when `a` must be staged, else 0. */
  need(a: Float32Array, n: number): number {
    return this.arena.offsetOf(a) >= 0 ? 0 : align(n * 4);
  }
}
