// A pool of worker threads that share the backend's WebAssembly.Memory: each worker instantiates the same
// kernel module over it and waits on a control block in that memory (Atomics.wait / notify); the main thread
// publishes a task, computes part 0 itself, and waits until every worker has done its part. Workers are unref'd
// and blocked in Atomics.wait between tasks, so they never keep the process alive.

import { Worker } from "node:worker_threads";
import type { WasmArena } from "./arena.js";
import type { KernelExports, WasmMemory, WasmModule } from "./runtime.js";
import { runPart } from "./program.js";
import { SPIN_POLLS } from "./spin.js";
import { CTL, OP } from "./tasks.js";

const WORKER_URL = new URL("./worker.js", import.meta.url);

export interface WorkerData {
  readonly module: WasmModule;
  readonly memory: WasmMemory;
  readonly ctl: number;
  readonly part: number;
  readonly parts: number;
  readonly gen: number;
}

export class ThreadPool {
  private closed = false;

  private constructor(
    private readonly workers: Worker[],
    private readonly i32: Int32Array,
    readonly u32: Uint32Array,
    readonly f32: Float32Array,
    private readonly exports: KernelExports,
    private readonly memory: WasmMemory,
  ) {}

  /** Total threads computing a task: the workers and the main thread. */
  get size(): number {
    return this.workers.length + 1;
  }

  /** Starts `threads - 1` workers and resolves once each has instantiated the kernels (rejects if one fails). */
  static async start(
    threads: number,
    module: WasmModule,
    memory: WasmMemory,
    arena: WasmArena,
    exports: KernelExports,
  ): Promise<ThreadPool> {
    const block = arena.alloc(CTL.WORDS * 4);
    const i32 = new Int32Array(block.buffer, block.byteOffset, CTL.WORDS);
    const u32 = new Uint32Array(block.buffer, block.byteOffset, CTL.WORDS);
    const f32 = new Float32Array(block.buffer, block.byteOffset, CTL.WORDS);
    const workers: Worker[] = [];
    const ready: Promise<void>[] = [];
    for (let part = 1; part < threads; part++) {
      const data: WorkerData = { module, memory, ctl: block.byteOffset, part, parts: threads, gen: 0 };
      const w = new Worker(WORKER_URL, { workerData: data });
      workers.push(w);
      ready.push(
        new Promise<void>((resolve, reject) => {
          w.once("message", () => resolve());
          w.once("error", reject);
          w.once("exit", (code) => reject(new Error(`wasm pool: worker exited (code ${code})`)));
        }),
      );
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      for (const w of workers) void w.terminate();
      throw e;
    }
    for (const w of workers) {
      w.removeAllListeners();
      w.on("error", () => {}); // failures inside a task are reported through the control block
      w.unref();
    }
    return new ThreadPool(workers, i32, u32, f32, exports, memory);
  }

  /** Runs the task already encoded in the control block on every thread; returns when all parts are done. */
  run(): void {
    if (this.closed) throw new Error("wasm pool: closed");
    const c = this.i32;
    Atomics.store(c, CTL.ERROR, 0);
    Atomics.store(c, CTL.NEXT, 0);
    Atomics.store(c, CTL.PENDING, this.workers.length);
    Atomics.add(c, CTL.GEN, 1);
    Atomics.notify(c, CTL.GEN);
    let error: unknown = null;
    try {
      runPart(this.exports, this.memory, this.u32, this.f32, 0, this.size);
    } catch (e) {
      error = e;
    }
    for (let spins = 0; ; spins++) {
      const left = Atomics.load(c, CTL.PENDING);
      if (left === 0) break;
      if (spins >= SPIN_POLLS) Atomics.wait(c, CTL.PENDING, left);
    }
    if (error) throw error;
    if (Atomics.load(c, CTL.ERROR)) throw new Error("wasm pool: a worker failed in a kernel");
  }

  /** Runs the program at byte `prog` (program.ts) on every thread. */
  runProgram(prog: number): void {
    this.u32[CTL.OP] = OP.PROGRAM;
    this.u32[CTL.ARGS] = prog;
    this.run();
  }

  /** Tells the workers to leave their loop and exit; the pool cannot run tasks afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.u32[CTL.OP] = OP.EXIT;
    Atomics.add(this.i32, CTL.GEN, 1);
    Atomics.notify(this.i32, CTL.GEN);
  }
}
