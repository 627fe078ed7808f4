// One thread of the wasm pool (pool.ts): instantiates the kernel module over the shared memory, then runs its
// part of every task published in the control block until told to exit.

import { parentPort, workerData } from "node:worker_threads";
import type { WorkerData } from "./pool.js";
import { runPart } from "./program.js";
import { instantiateOn } from "./runtime.js";
import { SPIN_POLLS } from "./spin.js";
import { CTL } from "./tasks.js";

const d = workerData as WorkerData;
const exports = instantiateOn(d.module, d.memory);
const i32 = new Int32Array(d.memory.buffer, d.ctl, CTL.WORDS);
const u32 = new Uint32Array(d.memory.buffer, d.ctl, CTL.WORDS);
const f32 = new Float32Array(d.memory.buffer, d.ctl, CTL.WORDS);
parentPort!.postMessage("ready");

let seen = d.gen;
for (;;) {
  for (let spins = 0; Atomics.load(i32, CTL.GEN) === seen; spins++) {
    if (spins >= SPIN_POLLS) Atomics.wait(i32, CTL.GEN, seen);
  }
  seen = Atomics.load(i32, CTL.GEN);
  let more = true;
  try {
    more = runPart(exports, d.memory, u32, f32, d.part, d.parts);
  } catch {
    Atomics.store(i32, CTL.ERROR, 1);
  }
  if (!more) break;
  if (Atomics.sub(i32, CTL.PENDING, 1) === 1) Atomics.notify(i32, CTL.PENDING);
}
