// The "wasm" backend: WebAssembly SIMD kernels (the baseline or the relaxed-SIMD module, simd.ts) over one
// shared memory, owned by a WasmArena into which weights are loaded (`loadModel(path, { allocator:
// backend.arena })`), optionally split across worker threads that share that memory (pool.ts). Kernels it lacks
// are the reference ones.

import * as os from "node:os";
import { registerBackend, type Kernels } from "../../tensor/backend.js";
import { HALF_TO_FLOAT } from "../../tensor/quant.js";
import { WasmArena } from "./arena.js";
import { FrameStack } from "./frames.js";
import { makeWasmKernels, MIN_SPLIT_WORK, type WasmKernelSettings } from "./kernels.js";
import { ThreadPool } from "./pool.js";
import { instantiateKernels, type KernelExports, type WasmMemory } from "./runtime.js";
import type { SimdChoice, SimdVariant } from "./simd.js";

export { WasmArena } from "./arena.js";
export { WASM_LINEAR_DTYPES } from "./kernels.js";
export { SIMD_ENV, SIMD_VARIANTS, type SimdChoice, type SimdVariant } from "./simd.js";

export interface WasmBackendOptions {
  /** Kernel module: "auto" (default) = DECODERKIT_WASM_SIMD when set, else relaxed SIMD where it validates. */
  readonly simd?: SimdChoice;
}

export interface WasmBackend {
  readonly arena: WasmArena;
  /** Activations of forward passes (tensor/storage.ts inFrame), inside the memory. */
  readonly frames: FrameStack;
  readonly memory: WasmMemory;
  readonly kernels: Kernels;
  readonly exports: KernelExports;
  /** The kernel module running: "relaxed" (relaxed-SIMD integer dots) or "baseline". */
  readonly simd: SimdVariant;
  /** Threads computing linear and attention now (1 until setThreads has resolved). */
  readonly threads: number;
  /**
   * Sets the pool size, capped at os.availableParallelism(); 1 stops the workers. Resolves to the size in
   * use. Until it resolves the kernels keep the previous size.
   */
  setThreads(n: number): Promise<number>;
  /** Q8_0/Q4_0/Q4_K/Q6_K linear on q8-quantized activations (default, faster) or the exact f32 path (kernels.ts). */
  quantizeActivations: boolean;
  /** Multiply-adds from which linear and attention are split across the threads (tests set 0). */
  minSplitWork: number;
}

let instance: WasmBackend | null = null;

/** Thread count used where none is asked for: two (the fastest measured on a 2-core machine), at most the cores. */
export function defaultWasmThreads(): number {
  return Math.min(2, os.availableParallelism());
}

/**
 * Instantiates the kernels (once per process) and registers them as backend "wasm", single-threaded; it does
 * not make it the active backend (call setBackend("wasm")). Throws where WebAssembly SIMD or shared memory is
 * missing, or when a later call asks for another kernel module than the first made.
 */
export function initWasmBackend(options: WasmBackendOptions = {}): WasmBackend {
  if (instance) {
    const want = options.simd ?? "auto";
    if (want !== "auto" && want !== instance.simd)
      throw new Error(`wasm backend: already running the ${instance.simd} kernels, cannot switch to ${want}`);
    return instance;
  }
  instance = createWasmBackend(options);
  registerBackend("wasm", instance.kernels);
  return instance;
}

/**
 * A wasm backend of its own (memory, arena, kernels, threads), not registered: tests and microbenchmarks use
 * one per kernel module side by side. initWasmBackend makes the process's registered one.
 */
export function createWasmBackend(options: WasmBackendOptions = {}): WasmBackend {
  const { memory, module, exports, simd } = instantiateKernels(options.simd ?? "auto");
  const arena = new WasmArena(memory, exports.heapBase());
  const table = arena.alloc(65536 * 4);
  if (table.byteOffset !== exports.f16TableOffset())
    throw new Error("wasm backend: the f16 table is not where the kernels expect it");
  new Float32Array(table.buffer, table.byteOffset, 65536).set(HALF_TO_FLOAT);
  const settings: WasmKernelSettings = {
    pool: null,
    quantizeActivations: true,
    minSplitWork: MIN_SPLIT_WORK,
  };
  const kernels = makeWasmKernels(arena, exports, settings);
  let pending: Promise<number> = Promise.resolve(1);
  return {
    arena,
    frames: new FrameStack(arena, (p, n) => exports.zero(p, n)),
    memory,
    kernels,
    exports,
    simd,
    get threads() {
      return settings.pool?.size ?? 1;
    },
    setThreads(n: number): Promise<number> {
      if (!Number.isSafeInteger(n) || n < 1) throw new Error(`threads: ${n} is not a positive integer`);
      const want = Math.min(n, os.availableParallelism());
      pending = pending.then(async () => {
        if ((settings.pool?.size ?? 1) === want) return want;
        settings.pool?.close();
        settings.pool = null;
        if (want > 1) settings.pool = await ThreadPool.start(want, module, memory, arena, exports);
        return want;
      });
      return pending;
    },
    get quantizeActivations() {
      return settings.quantizeActivations;
    },
    set quantizeActivations(on: boolean) {
      settings.quantizeActivations = on;
    },
    get minSplitWork() {
      return settings.minSplitWork;
    },
    set minSplitWork(n: number) {
      settings.minSplitWork = n;
    },
  };
}

/** initWasmBackend, or null (with the reason) where this runtime cannot run it. */
export function tryInitWasmBackend(options: WasmBackendOptions = {}): {
  backend: WasmBackend | null;
  error: string | null;
} {
  try {
    return { backend: initWasmBackend(options), error: null };
  } catch (e) {
    return { backend: null, error: e instanceof Error ? e.message : String(e) };
  }
}
