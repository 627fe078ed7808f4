// The few WebAssembly JS API pieces the backend uses, typed locally so that neither the build nor the
// published typings need the DOM library; instantiation of the kernel module from its base64 bytes.

import { KERNELS_WASM_BASE64 } from "./generated/kernels-wasm.js";

export interface WasmMemory {
  readonly buffer: ArrayBufferLike;
  grow(pages: number): number;
}

interface WasmApi {
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
}

/** The compiled kernels (signatures of src/backends/wasm/assembly/index.ts; pointers are byte offsets). */
export interface KernelExports {
  heapBase(): number;
  linear(
    dtype: number,
    x: number,
    M: number,
    K: number,
    w: number,
    N: number,
    bias: number,
    out: number,
    rowbuf: number,
  ): void;
  rmsnorm(x: number, M: number, D: number, w: number, eps: number, out: number): void;
  softmax(x: number, M: number, N: number): void;
  attention(
    q: number,
    k: number,
    v: number,
    out: number,
    T: number,
    S: number,
    nHeads: number,
    nKvHeads: number,
    hd: number,
    queryPos: number,
    window: number,
    scale: number,
    scores: number,
  ): void;
}

export const PAGE_BYTES = 65536;
/** 65536 pages: the whole 32-bit address space (4 GiB). */
export const MAX_PAGES = 65536;

function webAssembly(): WasmApi {
  const wa = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  if (!wa) throw new Error("this runtime has no WebAssembly");
  if (typeof SharedArrayBuffer === "undefined")
    throw new Error("shared WebAssembly memory needs SharedArrayBuffer (browsers: cross-origin isolation)");
  return wa;
}

function decodeBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** A fresh shared memory of `initialPages` and the kernel instance over it (synchronous: the module is small). */
export function instantiateKernels(initialPages = 16): { memory: WasmMemory; exports: KernelExports } {
  const wa = webAssembly();
  const memory = new wa.Memory({ initial: initialPages, maximum: MAX_PAGES, shared: true });
  const module = new wa.Module(decodeBase64(KERNELS_WASM_BASE64));
  const instance = new wa.Instance(module, { env: { memory } });
  return { memory, exports: instance.exports as unknown as KernelExports };
}
