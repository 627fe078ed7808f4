// Activates a kernel backend by name for the entry points (generate, eval, bench): "wasm" where WebAssembly
// SIMD and shared memory are available, else "reference"; returns where weights must be loaded.

import { setBackend } from "../tensor/backend.js";
import { heapAllocator, setCacheAllocator, setFrameAllocator, type Allocator } from "../tensor/storage.js";
import "./reference/index.js";
import { SIMD_ENV, tryInitWasmBackend, type SimdVariant } from "./wasm/index.js";

export const BACKEND_NAMES = ["reference", "wasm"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface ActiveBackend {
  readonly name: BackendName;
  /** Where weights must be loaded (the backend's own memory), if it has one. */
  readonly allocator?: Allocator;
  /** Threads the backend computes with. */
  readonly threads: number;
  /** The wasm kernel module (relaxed or baseline SIMD); absent for the reference backend. */
  readonly simd?: SimdVariant;
}

/** "wasm (relaxed SIMD)", "wasm (baseline SIMD)" or "reference": what reports print. */
export function backendLabel(b: ActiveBackend): string {
  return b.simd ? `${b.name} (${b.simd} SIMD)` : b.name;
}

export function isBackendName(s: string): s is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(s);
}

/** Activates `name` (default: wasm where it runs, else reference) with up to `threads` threads. */
export async function activateBackend(
  name: BackendName | undefined,
  threads: number,
): Promise<ActiveBackend> {
  if (name !== "reference") {
    const { backend, error } = tryInitWasmBackend();
    if (backend) {
      setBackend("wasm");
      setCacheAllocator(backend.arena); // KV caches in the memory: attention reads them without a copy
      setFrameAllocator(backend.frames); // so are the activations of forward passes
      const used = await backend.setThreads(threads);
      return { name: "wasm", allocator: backend.arena, threads: used, simd: backend.simd };
    }
    const forced = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[
      SIMD_ENV
    ];
    if (name === "wasm" || forced) throw new Error(`backend wasm cannot run here: ${error}`);
  }
  setBackend("reference");
  setCacheAllocator(heapAllocator);
  setFrameAllocator(null);
  return { name: "reference", threads: 1 };
}

/** The active backend on n threads instead (the wasm pool resized; the reference backend stays on one). */
export async function withThreads(active: ActiveBackend, n: number): Promise<ActiveBackend> {
  if (active.name !== "wasm") return active;
  const { backend } = tryInitWasmBackend();
  if (!backend) return active;
  return { ...active, threads: await backend.setThreads(n) };
}
