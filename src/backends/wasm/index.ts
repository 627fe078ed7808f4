// The "wasm" backend: WebAssembly SIMD kernels over one shared memory, owned by a WasmArena into which
// weights are loaded (`loadModel(path, { allocator: backend.arena })`). Kernels it lacks are the reference ones.

import { registerBackend, type Kernels } from "../../tensor/backend.js";
import { WasmArena } from "./arena.js";
import { makeWasmKernels } from "./kernels.js";
import { instantiateKernels, type KernelExports, type WasmMemory } from "./runtime.js";

export { WasmArena } from "./arena.js";
export { WASM_LINEAR_DTYPES } from "./kernels.js";

export interface WasmBackend {
  readonly arena: WasmArena;
  readonly memory: WasmMemory;
  readonly kernels: Kernels;
  readonly exports: KernelExports;
}

let instance: WasmBackend | null = null;

/**
 * Instantiates the kernels (once per process) and registers them as backend "wasm"; it does not make
 * it the active backend (call setBackend("wasm")). Throws where WebAssembly SIMD or shared memory is missing.
 */
export function initWasmBackend(): WasmBackend {
  if (instance) return instance;
  const { memory, exports } = instantiateKernels();
  const arena = new WasmArena(memory, exports.heapBase());
  const kernels = makeWasmKernels(arena, exports);
  registerBackend("wasm", kernels);
  instance = { arena, memory, kernels, exports };
  return instance;
}

/** initWasmBackend, or null (with the reason) where this runtime cannot run it. */
export function tryInitWasmBackend(): { backend: WasmBackend | null; error: string | null } {
  try {
    return { backend: initWasmBackend(), error: null };
  } catch (e) {
    return { backend: null, error: e instanceof Error ? e.message : String(e) };
  }
}
