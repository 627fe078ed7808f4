// The wasm backend's runPlan (tensor/plan.ts): a plan whose buffers and weights all lie in the memory becomes a
// program (program.ts) that the pool runs in one pass, or the calling thread alone. Each step runs the kernel,
// the activation quantizing and the thread split that the single call would (kernels.ts), so the results are the
// same bits; a plan with anything else (a buffer outside the memory, a weight the kernels do not take) is declined.

import type { PlanStep } from "../../tensor/plan.js";
import type { Tensor } from "../../tensor/tensor.js";
import type { WasmArena } from "./arena.js";
import type { LinearLayout, WasmKernelSettings } from "./kernels.js";
import { ropeTable } from "./kernels.js";
import { KIND, MODE_ALL, MODE_MAIN, MODE_SPLIT, PROG, STEP, runProgram } from "./program.js";
import type { KernelExports } from "./runtime.js";
import { align, type Scratch } from "./scratch.js";
import {
  ATTENTION_WORDS,
  LINEAR_XQ,
  attentionPartBytes,
  attentionRanges,
  writeAttention,
  writeLinear,
} from "./tasks.js";

type Layout = (w: Tensor, M: number, K: number) => LinearLayout | null;

// an attention record holds its operands and, after them, its counter of finished units
if (STEP.ARGS + ATTENTION_WORDS + 1 > PROG.RECORD)
  throw new Error("wasm program: an attention record does not fit");

/** Bytes [start, end) of the memory. */
type Range = [number, number];

const overlaps = (a: Range, b: Range): boolean => a[0] < b[1] && b[0] < a[1];
const anyOverlap = (a: readonly Range[], b: readonly Range[]): boolean =>
  a.some((x) => b.some((y) => overlaps(x, y)));

/**
 * Small steps that every thread may run whole (MODE_ALL) when their output aliases no input (RoPE in place stays
 * on the main thread). On a 1.1B decode step the worker otherwise waited through each of them for the main
 * thread, and the main thread then for a worker woken late.
 */
const REPLICABLE = new Set<number>([
  KIND.ROPE,
  KIND.RMSNORM,
  KIND.LAYERNORM,
  KIND.QUANTIZE,
  KIND.ADD,
  KIND.SWIGLU,
  KIND.GELU,
  KIND.GELU_TANH,
]);

/** Linears that one quantized x serves at most (the quantize step's record lists their xq words). */
const QUANT_SHARED = 8;

/**
 * Who runs a step: the main thread alone, every thread its share (split), or every thread the whole step (a
 * small step whose output no input aliases, so that running it twice writes the same bytes: then the next steps
 * need not wait for it, since each thread made what it reads itself).
 */
export type StepMode = typeof MODE_MAIN | typeof MODE_SPLIT | typeof MODE_ALL;

/**
 * Where the threads must meet: a step waits for whatever another thread may have read or written since the last
 * barrier that it writes, or written that it reads. A step of the main thread alone does not wait for the main
 * thread's earlier steps (the same thread, in order), and no step waits to read what every thread wrote whole
 * (each wrote the same bytes itself). Per-thread scratch (row buffers, scores) is left out: each thread touches
 * only its own.
 */
class Hazards {
  private r: Range[][] = [[], [], []];
  private w: Range[][] = [[], [], []];

  /** Whether a barrier must precede a step of `mode` with these reads and writes; then records them. */
  before(mode: StepMode, reads: Range[], writes: Range[]): boolean {
    const [r, w] = [this.r, this.w];
    const written = mode === MODE_MAIN ? w[MODE_SPLIT]! : [...w[MODE_MAIN]!, ...w[MODE_SPLIT]!];
    const touched = [...r[MODE_SPLIT]!, ...w[MODE_SPLIT]!, ...r[MODE_ALL]!, ...w[MODE_ALL]!];
    if (mode !== MODE_MAIN) touched.push(...r[MODE_MAIN]!, ...w[MODE_MAIN]!);
    const need = anyOverlap(reads, written) || anyOverlap(writes, touched);
    if (need) {
      this.r = [[], [], []];
      this.w = [[], [], []];
    }
    this.r[mode]!.push(...reads);
    this.w[mode]!.push(...writes);
    return need;
  }
}

export function makeRunPlan(
  arena: WasmArena,
  k: KernelExports,
  settings: WasmKernelSettings,
  s: Scratch,
  layoutOf: Layout,
): (steps: readonly PlanStep[]) => boolean {
  /** Byte offset of the first n floats of a, or -1 when they do not lie in the memory. */
  const at = (a: Float32Array, n: number): number => (a.length < n ? -1 : arena.offsetOf(a));

  return (steps) => {
    const threads = settings.pool?.size ?? 1;
    const layouts: (LinearLayout | null)[] = [];
    let records = 0;
    let xqBytes = 0;
    let rowBytes = 0;
    let scoreBytes = 0;
    let partBytes = 0;
    let ropeBytes = 0;
    for (const st of steps) {
      let ok = true;
      let layout: LinearLayout | null = null;
      records++;
      if (st.op === "rmsnorm" || st.op === "layernorm") {
        const n = st.M * st.D;
        const bias = st.op === "layernorm" ? st.bias : null;
        ok = at(st.x, n) >= 0 && at(st.out, n) >= 0 && at(st.weight, st.D) >= 0 && n > 0;
        ok &&= !bias || at(bias, st.D) >= 0;
      } else if (st.op === "gelu") {
        const n = st.out.length;
        ok = n > 0 && st.x.length === n && at(st.x, n) >= 0 && at(st.out, n) >= 0;
      } else if (st.op === "linear") {
        layout = layoutOf(st.w, st.M, st.K);
        ok = layout !== null && st.M > 0 && layout.N > 0 && at(st.x, st.M * st.K) >= 0;
        if (layout) {
          ok &&= at(st.out, st.M * layout.N) >= 0 && (!st.bias || at(st.bias, layout.N) >= 0);
          xqBytes = Math.max(xqBytes, layout.xqBytes);
          rowBytes = Math.max(rowBytes, layout.rowbuf);
          if (layout.quant) records++;
        }
      } else if (st.op === "rope") {
        const half = st.invFreq.length;
        const n = st.T * st.nHeads * st.headDim;
        ok = at(st.x, n) >= 0 && at(st.out, n) >= 0 && half > 0 && 2 * half <= st.headDim;
        ok &&= st.positions.length >= st.T;
        ropeBytes += align(2 * st.T * half * 4);
      } else if (st.op === "attention") {
        const { T, S, nHeads, nKvHeads, headDim: hd } = st.p;
        ok = nKvHeads > 0 && nHeads % nKvHeads === 0 && T > 0 && S > 0 && hd > 0;
        ok &&= at(st.q, T * nHeads * hd) >= 0 && at(st.out, T * nHeads * hd) >= 0;
        ok &&= at(st.k, S * nKvHeads * hd) >= 0 && at(st.v, S * nKvHeads * hd) >= 0;
        scoreBytes = Math.max(scoreBytes, align(k.attentionScoreBytes(hd)));
        const nr = attentionRanges(T, S, st.p.queryPos, st.p.window);
        partBytes = Math.max(partBytes, align(attentionPartBytes(k, nr, nHeads, hd)));
      } else if (st.op === "add") {
        const n = st.out.length;
        ok = n > 0 && at(st.a, n) >= 0 && at(st.b, n) >= 0 && at(st.out, n) >= 0;
      } else {
        const n = st.out.length;
        ok = n > 0 && at(st.gate, n) >= 0 && at(st.up, n) >= 0 && at(st.out, n) >= 0;
      }
      if (!ok) return false;
      layouts.push(layout);
    }

    const progBytes = align((PROG.STEPS + records * PROG.RECORD) * 4);
    s.begin(progBytes + xqBytes + threads * rowBytes + threads * scoreBytes + partBytes + ropeBytes);
    const prog = s.take(progBytes);
    const xq = xqBytes ? s.take(xqBytes) : 0;
    const rowbuf = rowBytes ? s.take(threads * rowBytes) : 0;
    const scores = scoreBytes ? s.take(threads * scoreBytes) : 0;
    const parts = partBytes ? s.take(partBytes) : 0;
    const f32 = s.f32();
    const u32 = new Uint32Array(f32.buffer, 0, f32.length);
    u32.fill(0, prog / 4, (prog + progBytes) / 4);
    const h = prog / 4;
    let r = h + PROG.STEPS;
    let count = 0;
    const hazards = new Hazards();
    /** A step's record: its operands' first word. Small steps run on every thread when they may (StepMode). */
    const next = (kind: number, split: boolean, reads: Range[], writes: Range[]): number => {
      const a = r;
      const mode = split
        ? MODE_SPLIT
        : REPLICABLE.has(kind) && !anyOverlap(reads, writes)
          ? MODE_ALL
          : MODE_MAIN;
      u32[a + STEP.KIND] = kind;
      u32[a + STEP.MODE] = mode;
      u32[a + STEP.BARRIER] = hazards.before(threads > 1 ? mode : MODE_MAIN, reads, writes) ? 1 : 0;
      r += PROG.RECORD;
      count++;
      return a + STEP.ARGS;
    };
    const span = (a: Float32Array, n: number): Range => [at(a, 0), at(a, 0) + 4 * n];
    /** The quantize step whose xq the next linears on the same x reuse, while neither x nor xq is written. */
    let quant: { x: Range; code: number; M: number; K: number; args: number } | null = null;
    const wrote = (w: Range): void => {
      if (quant && (overlaps(w, quant.x) || overlaps(w, [xq, xq + xqBytes]))) quant = null;
    };
    let lastRope: { positions: readonly number[]; invFreq: Float32Array; cs: number } | null = null;
    steps.forEach((st, i) => {
      if (st.op === "rmsnorm" || st.op === "layernorm") {
        // one record layout for both: x, M, D, weight, bias (LayerNorm), eps, out
        const bias = st.op === "layernorm" ? st.bias : null;
        const out = span(st.out, st.M * st.D);
        const kind = st.op === "rmsnorm" ? KIND.RMSNORM : KIND.LAYERNORM;
        const a = next(kind, false, [span(st.x, st.M * st.D)], [out]);
        u32[a] = at(st.x, 0);
        u32[a + 1] = st.M;
        u32[a + 2] = st.D;
        u32[a + 3] = at(st.weight, 0);
        u32[a + 4] = bias ? at(bias, 0) : 0;
        f32[a + 5] = st.eps;
        u32[a + 6] = at(st.out, 0);
        wrote(out);
      } else if (st.op === "gelu") {
        const n = st.out.length;
        const out = span(st.out, n);
        const a = next(st.tanh ? KIND.GELU_TANH : KIND.GELU, false, [span(st.x, n)], [out]);
        u32[a] = at(st.x, 0);
        u32[a + 1] = n;
        u32[a + 2] = at(st.out, 0);
        wrote(out);
      } else if (st.op === "linear") {
        const l = layouts[i]!;
        const { M, K } = st;
        const x = at(st.x, 0);
        const xs = span(st.x, M * K);
        const out = span(st.out, M * l.N);
        const split = threads > 1 && M * l.N * K >= settings.minSplitWork;
        let q = -1;
        if (l.quant) {
          const same =
            quant && quant.x[0] === xs[0] && quant.code === l.code && quant.M === M && quant.K === K;
          if (!same || u32[quant!.args + 6]! >= QUANT_SHARED) {
            q = next(KIND.QUANTIZE, false, [xs], [[xq, xq + l.xqBytes]]);
            quant = { x: xs, code: l.code, M, K, args: q };
            u32[q] = x;
            u32[q + 1] = M;
            u32[q + 2] = K;
            u32[q + 3] = xq;
            u32[q + 4] = l.code;
            u32[q + 5] = l.kq ? 1 : 0;
          }
          q = quant!.args;
        }
        // x too when quantized: the exact path reads it if x holds inf or NaN
        const reads: Range[] = l.quant ? [xs, [xq, xq + l.xqBytes]] : [xs];
        const a = next(KIND.LINEAR, split, reads, [out]);
        if (q >= 0) {
          const shared = u32[q + 6]!;
          u32[q + 7 + shared] = a + LINEAR_XQ; // zeroed when x holds inf or NaN
          u32[q + 6] = shared + 1;
        }
        const bias = st.bias ? at(st.bias, 0) : 0;
        const task = {
          dtype: l.code,
          x,
          xq: l.quant ? xq : 0,
          M,
          K,
          w: l.w,
          N: l.N,
          bias,
          out: at(st.out, 0),
          rowbuf,
          rowbufStride: l.rowbuf,
        };
        writeLinear(u32, task, a);
        wrote(out);
      } else if (st.op === "rope") {
        const half = st.invFreq.length;
        if (!lastRope || lastRope.positions !== st.positions || lastRope.invFreq !== st.invFreq) {
          const cs = s.take(2 * st.T * half * 4);
          ropeTable(f32, cs, st.positions, st.T, st.invFreq);
          lastRope = { positions: st.positions, invFreq: st.invFreq, cs };
        }
        const xs = span(st.x, st.T * st.nHeads * st.headDim);
        const outs = span(st.out, st.T * st.nHeads * st.headDim);
        const a = next(KIND.ROPE, false, [xs], [outs]);
        u32[a] = at(st.x, 0);
        u32[a + 1] = st.T;
        u32[a + 2] = st.nHeads;
        u32[a + 3] = st.headDim;
        u32[a + 4] = half;
        u32[a + 5] = lastRope.cs;
        u32[a + 6] = at(st.out, 0);
        wrote(outs);
      } else if (st.op === "attention") {
        const p = st.p;
        const work = 2 * p.T * p.S * p.nHeads * p.headDim;
        const split = threads > 1 && p.nHeads >= 2 && work >= settings.minSplitWork;
        const nq = p.T * p.nHeads * p.headDim;
        const nkv = p.S * p.nKvHeads * p.headDim;
        const out = span(st.out, nq);
        // split by keys: the ranges' partial results (one region for every such step: barriers part them) and
        // a counter of finished units in the record's spare word after the operands (zeroed with the program)
        const nr = attentionRanges(p.T, p.S, p.queryPos, p.window);
        const pb = attentionPartBytes(k, nr, p.nHeads, p.headDim);
        const writes: Range[] = pb ? [out, [parts, parts + pb]] : [out];
        const a = next(KIND.ATTENTION, split, [span(st.q, nq), span(st.k, nkv), span(st.v, nkv)], writes);
        const task = {
          q: at(st.q, 0),
          k: at(st.k, 0),
          v: at(st.v, 0),
          out: at(st.out, 0),
          T: p.T,
          S: p.S,
          nHeads: p.nHeads,
          nKvHeads: p.nKvHeads,
          hd: p.headDim,
          queryPos: p.queryPos,
          window: p.window,
          scale: p.scale,
          scores,
          scoresStride: scoreBytes,
          parts: pb ? parts : 0,
          counter: pb ? (a + ATTENTION_WORDS) * 4 : 0,
        };
        writeAttention(u32, f32, task, a);
        wrote(out);
      } else {
        const [x0, x1] = st.op === "add" ? [st.a, st.b] : [st.gate, st.up];
        const n = st.out.length;
        const out = span(st.out, n);
        const a = next(st.op === "add" ? KIND.ADD : KIND.SWIGLU, false, [span(x0, n), span(x1, n)], [out]);
        u32[a] = at(x0, 0);
        u32[a + 1] = at(x1, 0);
        u32[a + 2] = n;
        u32[a + 3] = at(st.out, 0);
        wrote(out);
      }
    });
    u32[h + PROG.COUNT] = count;
    const pool = settings.pool;
    if (pool) pool.runProgram(prog);
    else runProgram(k, arena.memory, prog, 0, 1);
    if (u32[h + PROG.ERROR]) throw new Error("wasm program: a worker failed in a kernel");
    return true;
  };
}
