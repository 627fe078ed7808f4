// A program: a plan's kernel steps (tensor/plan.ts) encoded in wasm memory, which every thread of the pool walks
// through in one run (OP.PROGRAM). Every thread runs the small steps (norms, RoPE, adds, SwiGLU, quantizing x)
// whole where their outputs alias no input, each making for itself what it reads next (the main thread alone
// runs the others); products and attention are split as single tasks are (tasks.ts). The threads meet at a barrier only before a
// step that the encoder (plan.ts) found reading or writing what another thread may have touched since the last
// one, so independent products (q, k, v; gate, up) run back to back. One run a token instead of one a product,
// and no JavaScript between the steps but reading their records.

import type { KernelExports, WasmMemory } from "./runtime.js";
import { SPIN_POLLS } from "./spin.js";
import { CTL, OP, attentionPart, linearPart, readAttention, readLinear, runEncodedPart } from "./tasks.js";

/** Program header words (COUNT steps, the barrier's arrival counter, an error flag), then RECORD words a step. */
export const PROG = { COUNT: 0, ARRIVED: 1, ERROR: 2, STEPS: 4, RECORD: 24 } as const;
/** A step's words: its kind, who runs it (MODE_*), its share counter, whether a barrier precedes it, then its operands. */
export const STEP = { KIND: 0, MODE: 1, NEXT: 2, BARRIER: 3, ARGS: 4 } as const;
/** Who runs a step: the main thread alone, every thread a share of it, or every thread all of it (plan.ts). */
export const MODE_MAIN = 0;
export const MODE_SPLIT = 1;
export const MODE_ALL = 2;
export const KIND = {
  RMSNORM: 1,
  LINEAR: 2,
  QUANTIZE: 3,
  ROPE: 4,
  ATTENTION: 5,
  ADD: 6,
  SWIGLU: 7,
  LAYERNORM: 8,
  GELU: 9,
  GELU_TANH: 10,
} as const;

interface Views {
  buffer: ArrayBufferLike | null;
  u32: Uint32Array;
  i32: Int32Array;
  f32: Float32Array;
}

const views: Views = {
  buffer: null,
  u32: new Uint32Array(0),
  i32: new Int32Array(0),
  f32: new Float32Array(0),
};

/** Views over the whole memory, made again when it has grown. */
function memoryViews(memory: WasmMemory): Views {
  const b = memory.buffer;
  if (views.buffer !== b) {
    views.buffer = b;
    views.u32 = new Uint32Array(b);
    views.i32 = new Int32Array(b);
    views.f32 = new Float32Array(b);
  }
  return views;
}

/** Runs part `part` of the task published in the control block (a program or a single task); false for EXIT. */
export function runPart(
  k: KernelExports,
  memory: WasmMemory,
  u32: Uint32Array,
  f32: Float32Array,
  part: number,
  parts: number,
): boolean {
  if (u32[CTL.OP] !== OP.PROGRAM) return runEncodedPart(k, u32, f32, part, parts);
  runProgram(k, memory, u32[CTL.ARGS]!, part, parts);
  return true;
}

/**
 * Part `part` of the program at byte `prog`. A failing step flags the header's error word and the thread goes
 * on meeting the others at the barriers (without computing), so that none waits forever; the caller checks the
 * flag. The main thread (part 0) rethrows its own error after its last barrier.
 */
export function runProgram(
  k: KernelExports,
  memory: WasmMemory,
  prog: number,
  part: number,
  parts: number,
): void {
  const { u32, i32, f32 } = memoryViews(memory);
  const h = prog >> 2;
  const n = u32[h + PROG.COUNT]!;
  let met = 0; // barriers this thread has passed
  let error: unknown = null;
  const barrier = (): void => {
    met++;
    const target = met * parts;
    Atomics.add(i32, h + PROG.ARRIVED, 1);
    Atomics.notify(i32, h + PROG.ARRIVED);
    for (let spins = 0; ; spins++) {
      const now = Atomics.load(i32, h + PROG.ARRIVED);
      if (now >= target) break;
      if (spins >= SPIN_POLLS) Atomics.wait(i32, h + PROG.ARRIVED, now);
    }
  };
  for (let i = 0; i < n; i++) {
    const r = h + PROG.STEPS + i * PROG.RECORD;
    if (parts > 1 && u32[r + STEP.BARRIER] === 1) barrier();
    const mode = u32[r + STEP.MODE];
    const split = parts > 1 && mode === MODE_SPLIT;
    if (mode === MODE_MAIN && part !== 0) continue;
    if (error !== null || Atomics.load(i32, h + PROG.ERROR) !== 0) continue;
    try {
      runStep(k, u32, f32, r, split ? part : 0, split ? parts : 1);
    } catch (e) {
      error = e;
      Atomics.store(i32, h + PROG.ERROR, 1);
    }
  }
  if (error !== null && part === 0) throw error;
}

function runStep(
  k: KernelExports,
  u32: Uint32Array,
  f32: Float32Array,
  r: number,
  part: number,
  parts: number,
): void {
  const a = r + STEP.ARGS;
  switch (u32[r + STEP.KIND]) {
    case KIND.RMSNORM: // x, M, D, weight, (bias: none), eps, out: LAYERNORM's layout
      return k.rmsnorm(u32[a]!, u32[a + 1]!, u32[a + 2]!, u32[a + 3]!, f32[a + 5]!, u32[a + 6]!);
    case KIND.LAYERNORM:
      return k.layernorm(
        u32[a]!,
        u32[a + 1]!,
        u32[a + 2]!,
        u32[a + 3]!,
        u32[a + 4]!,
        f32[a + 5]!,
        u32[a + 6]!,
      );
    case KIND.GELU:
      return k.gelu(u32[a]!, u32[a + 1]!, u32[a + 2]!);
    case KIND.GELU_TANH:
      return k.geluTanh(u32[a]!, u32[a + 1]!, u32[a + 2]!);
    case KIND.LINEAR:
      return linearPart(k, readLinear(u32, a), part, parts, u32, r + STEP.NEXT);
    case KIND.QUANTIZE: {
      // x, M, K, xq, code, k-quant rows, then the count and words of the linears' xq (zeroed when x holds inf or
      // NaN: those run the exact path)
      const [x, M, K, xq, code] = [u32[a]!, u32[a + 1]!, u32[a + 2]!, u32[a + 3]!, u32[a + 4]!];
      const ok = u32[a + 5] ? k.quantizeRowsK(x, M, K, xq, code) : k.quantizeRows(x, M, K, xq, code);
      if (!ok) for (let j = 0; j < u32[a + 6]!; j++) u32[u32[a + 7 + j]!] = 0;
      return;
    }
    case KIND.ROPE:
      return k.rope(u32[a]!, u32[a + 6]!, u32[a + 1]!, u32[a + 2]!, u32[a + 3]!, u32[a + 4]!, u32[a + 5]!);
    case KIND.ATTENTION:
      return attentionPart(k, readAttention(u32, f32, a), part, parts, u32, r + STEP.NEXT);
    case KIND.ADD:
      return k.binary(u32[a]!, u32[a + 1]!, u32[a + 2]!, u32[a + 3]!, 0);
    case KIND.SWIGLU: // one pass, each output written once: every thread may run it (plan.ts)
      return k.swiglu(u32[a]!, u32[a + 1]!, u32[a + 2]!, u32[a + 3]!);
    default:
      throw new Error(`wasm program: unknown step ${u32[r + STEP.KIND]}`);
  }
}
