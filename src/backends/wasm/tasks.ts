// The kernels that run split across threads, encoded in a small control block in wasm memory so that the main
// thread and every worker (src/backends/wasm/pool.ts) decode the same task and each computes its own part:
// linear by output rows N (few x rows: decode; and prompts on the packed GEMM) or by x rows M, attention by chunks of heads, training's GEMM by
// rows of the output and attention's gradient by (sequence, key/value head) units.

import type { KernelExports } from "./runtime.js";

/**
 * Control block, in 32-bit words: sync words, the work-sharing counter (NEXT, zeroed before each task), then the
 * task (u32 operands, f32 in the same words).
 */
export const CTL = { GEN: 0, PENDING: 1, ERROR: 2, OP: 3, NEXT: 4, ARGS: 5, WORDS: 32 } as const;
export const OP = {
  EXIT: 0,
  LINEAR: 1,
  ATTENTION: 2,
  GEMM: 3,
  ATTENTION_BACKWARD: 4,
  ATTENTION_FORWARD: 5,
  /** A program of steps (program.ts); its byte offset is the first operand. */
  PROGRAM: 6,
} as const;

/** Flag on a linear's dtype code: the packed-GEMM path for prompts (assembly/expand.ts DT_GEMM), split by columns. */
export const LINEAR_GEMM = 0x100;

/** Operands of a split linear (byte offsets into wasm memory; 0 = none). */
export interface LinearTask {
  readonly dtype: number;
  readonly x: number;
  readonly xq: number;
  readonly M: number;
  readonly K: number;
  readonly w: number;
  readonly N: number;
  readonly bias: number;
  readonly out: number;
  /** Per-thread row buffers of `rowbufStride` bytes each, from `rowbuf`. */
  readonly rowbuf: number;
  readonly rowbufStride: number;
}

export interface AttentionTask {
  readonly q: number;
  readonly k: number;
  readonly v: number;
  readonly out: number;
  readonly T: number;
  readonly S: number;
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly hd: number;
  readonly queryPos: number;
  readonly window: number;
  readonly scale: number;
  /** Per-thread score rows of `scoresStride` bytes each, from `scores`. */
  readonly scores: number;
  readonly scoresStride: number;
  /**
   * A decode attention split by keys (attentionRanges > 1): the ranges' partial results (attentionPartBytes) and
   * the word counting finished units, zeroed before the run; 0 when the task has none (then it is not split by keys).
   */
  readonly parts: number;
  readonly counter: number;
}

/** Operands of a split GEMM (assembly/gemm.ts): strides in floats, pointers as byte offsets. */
export interface GemmTask {
  readonly a: number;
  readonly rsa: number;
  readonly csa: number;
  readonly b: number;
  readonly rsb: number;
  readonly csb: number;
  readonly c: number;
  readonly ldc: number;
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly accumulate: number;
  readonly bias: number;
  /** Per-thread work spaces of `workStride` bytes each, from `work`. */
  readonly work: number;
  readonly workStride: number;
}

/**
 * Operands of a split attention gradient (assembly/attention-grad.ts); the training forward uses the same task
 * with its output in `dout` (dq, dk, dv unused).
 */
export interface AttentionBackwardTask {
  readonly q: number;
  readonly k: number;
  readonly v: number;
  readonly dout: number;
  readonly dq: number;
  readonly dk: number;
  readonly dv: number;
  readonly B: number;
  readonly T: number;
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly hd: number;
  readonly window: number;
  readonly scale: number;
  /** Per-thread scratch of `scratchStride` bytes each, from `scratch`. */
  readonly scratch: number;
  readonly scratchStride: number;
}

const GEMM_KEYS = [
  "a",
  "rsa",
  "csa",
  "b",
  "rsb",
  "csb",
  "c",
  "ldc",
  "M",
  "N",
  "K",
  "accumulate",
  "bias",
  "work",
  "workStride",
] as const;
const ATTENTION_BACKWARD_KEYS = [
  "q",
  "k",
  "v",
  "dout",
  "dq",
  "dk",
  "dv",
  "B",
  "T",
  "nHeads",
  "nKvHeads",
  "hd",
  "window",
  "scratch",
  "scratchStride",
] as const;
const BACKWARD_SCALE = CTL.ARGS + ATTENTION_BACKWARD_KEYS.length;

const LINEAR_KEYS = [
  "dtype",
  "x",
  "xq",
  "M",
  "K",
  "w",
  "N",
  "bias",
  "out",
  "rowbuf",
  "rowbufStride",
] as const;
const ATTENTION_KEYS = [
  "q",
  "k",
  "v",
  "out",
  "T",
  "S",
  "nHeads",
  "nKvHeads",
  "hd",
  "queryPos",
  "window",
  "scores",
  "scoresStride",
  "parts",
  "counter",
] as const;

/**
 * x rows from which a linear is split by rows of x rather than by output columns, per thread. Below it (decode,
 * and prompts of up to 127 rows on two threads) the threads take column shares in turn, so both read each weight
 * row once between them and a slower thread takes fewer shares: a 32-token prompt on 110m q8_0, split in fixed
 * halves of x rows, left the main thread waiting 3–16 ms of a 100–130 ms prefill for the worker; in shares 2.6–4.6.
 */
const ROWS_PER_THREAD_FOR_M_SPLIT = 64;

/**
 * Rows of x in the shares of a product split by x rows, and their multiple: the largest of the kernels' chunks
 * of x rows that stay in cache while every weight row passes over them (assembly/linear-relaxed.ts CHUNK, 32;
 * linear.ts and kquant.ts take 16), so a share adds no pass over the weights (a 256-token prompt on a 1.1B Q4_K
 * model, two threads: 36 → 40 tok/s against shares of 16).
 */
const ROW_SHARE = 32;

/** Part `i` of `parts` of [0, n), in whole multiples of `grain` where possible. */
export function partRange(n: number, parts: number, i: number, grain = 1): [number, number] {
  const units = Math.ceil(n / grain);
  const start = Math.min(n, Math.floor((units * i) / parts) * grain);
  const end = Math.min(n, Math.floor((units * (i + 1)) / parts) * grain);
  return [start, end];
}

export function splitsByRows(M: number, parts: number): boolean {
  return M >= ROWS_PER_THREAD_FOR_M_SPLIT * parts;
}

/** Fewest output entries a share of a split product holds (in columns: a multiple of 4, as every share). */
const MIN_SHARE = 32;

/** Fewest columns of a share when the product has M rows of x: 32 for decode, 4 from 8 rows up. */
export function minShareColumns(M: number): number {
  return Math.max(4, Math.ceil(MIN_SHARE / Math.max(1, M) / 4) * 4);
}
const shareCache = new Map<number, Int32Array>();

/**
 * Bounds of the column shares of a split product (decode, short prompts): each share takes 1/(2·parts) of the
 * columns left, so the first shares are large and the last ones small, and the thread that finishes first waits
 * for at most a small share of the other's. On a 1.1B q4_0 decode, against eight equal shares, the main thread's wait at the end of
 * the large products went from 27–33 µs to 9–13 µs on average (90th percentile 37–74 → 6–7 µs). Shares hold at
 * least `min` columns (a multiple of `grain`, at most 60), in multiples of `grain` (4 or 16). Also the row shares
 * of a product split by x rows. Cached per (N, parts, min, grain).
 */
export function shareBounds(N: number, parts: number, min = MIN_SHARE, grain = 4): Int32Array {
  const key = ((N * 64 + parts) * 16 + min / 4) * 2 + (grain === 4 ? 0 : 1);
  let b = shareCache.get(key);
  if (!b) {
    const bounds = [0];
    for (let n = 0; n < N;)
      bounds.push((n = Math.min(N, n + Math.max(min, Math.ceil((N - n) / (2 * parts) / grain) * grain))));
    b = Int32Array.from(bounds);
    if (shareCache.size >= 256) shareCache.clear();
    shareCache.set(key, b);
  }
  return b;
}

/**
 * Part `part` of `parts` of a linear: every part computes whole output entries with the same per-entry math.
 * Split by output columns (decode and short prompts), the threads take column ranges in turn from the control
 * block's counter `next` (zeroed before the task), so a thread that runs slower (one woken late, or sharing its
 * core) takes fewer (shareBounds): with fixed halves the main thread waited 12–17% of a 1.1B decode step for the
 * worker. Split by x rows (long prompts), they take row shares in turn the same way.
 */
export function linearPart(
  k: KernelExports,
  t: LinearTask,
  part: number,
  parts: number,
  next?: Uint32Array,
  at: number = CTL.NEXT,
): void {
  const rowbuf = t.rowbuf ? t.rowbuf + part * t.rowbufStride : 0;
  const run = (m0: number, m1: number, n0: number, n1: number): void => {
    if (m0 < m1 && n0 < n1)
      k.linear(t.dtype, t.x, t.xq, t.M, t.K, t.w, t.N, t.bias, t.out, rowbuf, m0, m1, n0, n1);
  };
  if (t.dtype & LINEAR_GEMM)
    run(0, t.M, ...partRange(t.N, parts, part, 12)); // whole 12-column panels
  else if (splitsByRows(t.M, parts)) {
    if (!next || parts === 1) run(...partRange(t.M, parts, part, 4), 0, t.N);
    else {
      const b = shareBounds(t.M, parts, ROW_SHARE, ROW_SHARE);
      for (let i = Atomics.add(next, at, 1); i + 1 < b.length; i = Atomics.add(next, at, 1))
        run(b[i]!, b[i + 1]!, 0, t.N);
    }
  } else if (!next || parts === 1) run(0, t.M, ...partRange(t.N, parts, part, 4));
  else {
    const b = shareBounds(t.N, parts, minShareColumns(t.M));
    for (let i = Atomics.add(next, at, 1); i + 1 < b.length; i = Atomics.add(next, at, 1))
      run(0, t.M, b[i]!, b[i + 1]!);
  }
}

/** Query heads the attention kernel takes through each block of keys together (assembly/attention.ts HEADS). */
const ATTENTION_CHUNK = 4;

const unitCache = new Map<number, Int32Array>();

/**
 * Head ranges [b[2i], b[2i + 1]) that threads take in turn for an attention of nHeads query heads on nKvHeads:
 * chunks of up to ATTENTION_CHUNK heads that share a key/value head, and the last 2·parts heads one by one, so
 * that the thread done first waits for at most one head of the other's (a long context made whole chunks leave
 * the main thread waiting 2 ms and more a 1.1B token). Each head's result is the same in any range (the kernel's
 * arithmetic per head does not depend on its chunk). Cached per shape.
 */
export function attentionUnits(nHeads: number, nKvHeads: number, parts: number): Int32Array {
  const key = (nHeads * 4096 + nKvHeads) * 64 + parts;
  let b = unitCache.get(key);
  if (!b) {
    const group = nHeads / nKvHeads;
    const tail = nHeads - Math.min(nHeads, 2 * parts);
    const bounds: number[] = [];
    for (let h = 0; h < nHeads;) {
      const end = (Math.floor(h / group) + 1) * group;
      const size = h >= tail ? 1 : Math.min(ATTENTION_CHUNK, end - h, tail - h);
      bounds.push(h, h + size);
      h += size;
    }
    b = Int32Array.from(bounds);
    if (unitCache.size >= 64) unitCache.clear();
    unitCache.set(key, b);
  }
  return b;
}

/**
 * Keys of one range of a decode attention split by keys: two of the kernel's blocks of 64 (1.1B shape, 1060 keys,
 * 22 layers' keys and values from memory, two threads: 8.0–10.2 ms against 10.9–11.2 for ranges of 256, whose
 * fewer units balance the threads worse).
 */
export const RANGE_KEYS = 128;

/**
 * Key ranges of RANGE_KEYS that a decode attention (one query) is split into, 1 for a prompt or a context of at
 * most one range (attention() then runs whole, as before). It depends on the keys alone, so the result is the
 * same however many threads run it.
 */
export function attentionRanges(T: number, S: number, queryPos: number, window: number): number {
  if (T !== 1) return 1;
  const [first, last] = keySpan(S, queryPos, window);
  return Math.max(1, Math.ceil((last - first + 1) / RANGE_KEYS));
}

/** The first and last key a query at queryPos sees (the kernel's own bounds: causal, within the window). */
function keySpan(S: number, queryPos: number, window: number): [number, number] {
  return [window > 0 ? Math.max(0, queryPos - window + 1) : 0, Math.min(S - 1, queryPos)];
}

/** Bytes of the partial results of an attention split into nr key ranges (0 when not split). */
export function attentionPartBytes(k: KernelExports, nr: number, nHeads: number, hd: number): number {
  return nr > 1 ? nr * k.attentionRangeBytes(nHeads, hd) : 0;
}

const rangeUnitCache = new Map<string, Int32Array>();

/**
 * Units (range, first head, end head) of a decode attention split into nr key ranges, range by range: whole
 * ranges (every head) once there are at least two a thread, else each range cut into head parts at chunk bounds
 * (attentionUnits' chunks of up to ATTENTION_CHUNK heads sharing a key/value head). A unit reads its keys and
 * values once for all its heads, so whole ranges read the least (1.1B shape, 1060 keys from memory, two
 * threads, ranges of 256: 7.6–9.6 ms for 22 layers against 10.4–12.0 with every range in two head parts);
 * head parts balance the threads when ranges are few. Cached per shape.
 */
export function rangeUnits(nHeads: number, nKvHeads: number, parts: number, nr: number): Int32Array {
  const key = `${nHeads},${nKvHeads},${parts},${nr}`;
  let u = rangeUnitCache.get(key);
  if (!u) {
    const group = nHeads / nKvHeads;
    const chunks: number[] = [];
    for (let h = 0; h < nHeads; h += Math.min(ATTENTION_CHUNK, (Math.floor(h / group) + 1) * group - h))
      chunks.push(h);
    const hp = Math.min(chunks.length, Math.max(1, Math.ceil((2 * parts) / nr)));
    const units: number[] = [];
    for (let r = 0; r < nr; r++)
      for (let i = 0; i < hp; i++) {
        const c0 = Math.floor((i * chunks.length) / hp);
        const c1 = Math.floor(((i + 1) * chunks.length) / hp);
        units.push(r, chunks[c0]!, c1 < chunks.length ? chunks[c1]! : nHeads);
      }
    u = Int32Array.from(units);
    if (rangeUnitCache.size >= 64) rangeUnitCache.clear();
    rangeUnitCache.set(key, u);
  }
  return u;
}

/**
 * Part `part` of `parts` of a decode attention split into nr key ranges: the units of rangeUnits, from the
 * work-sharing counter when there is one, else every parts-th; the thread that finishes the last unit merges the
 * ranges (the kernel's attentionFinish).
 */
function rangesPart(
  k: KernelExports,
  t: AttentionTask,
  nr: number,
  scores: number,
  part: number,
  parts: number,
  next: Uint32Array | undefined,
  at: number,
): void {
  const { q, v, out, S, nHeads, nKvHeads, hd, queryPos, window, scale } = t;
  const [first, last] = keySpan(S, queryPos, window);
  const rb = k.attentionRangeBytes(nHeads, hd);
  const units = rangeUnits(nHeads, nKvHeads, next ? parts : 1, nr);
  const n = units.length / 3;
  const run = (i: number): void => {
    const r = units[3 * i]!;
    const j0 = first + r * RANGE_KEYS;
    const j1 = Math.min(last + 1, j0 + RANGE_KEYS);
    k.attentionKeys(
      q,
      t.k,
      v,
      nHeads,
      nKvHeads,
      hd,
      scale,
      scores,
      t.parts + r * rb,
      units[3 * i + 1]!,
      units[3 * i + 2]!,
      j0,
      j1,
    );
  };
  let done = 0;
  if (next && parts > 1)
    for (let i = Atomics.add(next, at, 1); i < n; i = Atomics.add(next, at, 1), done++) run(i);
  else for (let i = part; i < n; i += parts, done++) run(i);
  k.attentionFinish(t.counter, done, n, out, t.parts, nr, nHeads, hd);
}

/**
 * Part `part` of `parts` of an attention: with `next` (the control block), the head ranges of attentionUnits,
 * taken from the work-sharing counter by whichever thread is free (a late thread takes fewer); else a fixed
 * range of heads. Each head's result is the same whichever thread computes it.
 */
export function attentionPart(
  k: KernelExports,
  t: AttentionTask,
  part: number,
  parts: number,
  next?: Uint32Array,
  at: number = CTL.NEXT,
): void {
  const scores = t.scores + part * t.scoresStride;
  const nr = t.parts ? attentionRanges(t.T, t.S, t.queryPos, t.window) : 1;
  if (nr > 1) return rangesPart(k, t, nr, scores, part, parts, next, at);
  const run = (h0: number, h1: number): void => {
    const { q, v, out, T, S, nHeads, nKvHeads, hd, queryPos, window, scale } = t;
    k.attention(q, t.k, v, out, T, S, nHeads, nKvHeads, hd, queryPos, window, scale, scores, h0, h1);
  };
  if (!next || parts === 1) {
    const [h0, h1] = partRange(t.nHeads, parts, part);
    if (h0 < h1) run(h0, h1);
    return;
  }
  const b = attentionUnits(t.nHeads, t.nKvHeads, parts);
  for (let i = Atomics.add(next, at, 1); 2 * i < b.length; i = Atomics.add(next, at, 1))
    run(b[2 * i]!, b[2 * i + 1]!);
}

/** Part `part` of `parts` of a GEMM: a range of output rows (multiples of 3, the micro-tile height). */
export function gemmPart(k: KernelExports, t: GemmTask, part: number, parts: number): void {
  const [m0, m1] = partRange(t.M, parts, part, 3);
  if (m0 >= m1) return;
  k.gemm(
    t.a,
    t.rsa,
    t.csa,
    t.b,
    t.rsb,
    t.csb,
    t.c,
    t.ldc,
    t.M,
    t.N,
    t.K,
    t.accumulate,
    t.bias,
    t.work + part * t.workStride,
    m0,
    m1,
  );
}

export function attentionBackwardPart(
  k: KernelExports,
  t: AttentionBackwardTask,
  part: number,
  parts: number,
): void {
  const [u0, u1] = partRange(t.B * t.nKvHeads, parts, part);
  if (u0 >= u1) return;
  k.attentionBackward(
    t.q,
    t.k,
    t.v,
    t.dout,
    t.dq,
    t.dk,
    t.dv,
    t.T,
    t.nHeads,
    t.nKvHeads,
    t.hd,
    t.window,
    t.scale,
    t.scratch + part * t.scratchStride,
    u0,
    u1,
  );
}

export function attentionForwardPart(
  k: KernelExports,
  t: AttentionBackwardTask,
  part: number,
  parts: number,
): void {
  const [u0, u1] = partRange(t.B * t.nKvHeads, parts, part);
  if (u0 >= u1) return;
  k.attentionForward(
    t.q,
    t.k,
    t.v,
    t.dout,
    t.T,
    t.nHeads,
    t.nKvHeads,
    t.hd,
    t.window,
    t.scale,
    t.scratch + part * t.scratchStride,
    u0,
    u1,
  );
}

export function encodeGemm(u32: Uint32Array, t: GemmTask): void {
  u32[CTL.OP] = OP.GEMM;
  GEMM_KEYS.forEach((key, i) => (u32[CTL.ARGS + i] = t[key]));
}

export function encodeAttentionBackward(
  u32: Uint32Array,
  f32: Float32Array,
  t: AttentionBackwardTask,
  forward = false,
): void {
  u32[CTL.OP] = forward ? OP.ATTENTION_FORWARD : OP.ATTENTION_BACKWARD;
  ATTENTION_BACKWARD_KEYS.forEach((key, i) => (u32[CTL.ARGS + i] = t[key]));
  f32[BACKWARD_SCALE] = t.scale;
}

/** Writes a task's operands into the control block (the caller then publishes it by bumping GEN). */
export function encodeLinear(u32: Uint32Array, t: LinearTask): void {
  u32[CTL.OP] = OP.LINEAR;
  writeLinear(u32, t, CTL.ARGS);
}

/** The operands of a linear task from word `at` (readLinear's layout). */
export function writeLinear(u32: Uint32Array, t: LinearTask, at: number): void {
  for (let i = 0; i < LINEAR_KEYS.length; i++) u32[at + i] = t[LINEAR_KEYS[i]!];
}

/** Word of the xq operand in a linear task written at `at`. */
export const LINEAR_XQ = LINEAR_KEYS.indexOf("xq");

/** Words of an attention task's operands (writeAttention: ATTENTION_KEYS, then the scale). */
export const ATTENTION_WORDS = ATTENTION_KEYS.length + 1;

export function encodeAttention(u32: Uint32Array, f32: Float32Array, t: AttentionTask): void {
  u32[CTL.OP] = OP.ATTENTION;
  writeAttention(u32, f32, t, CTL.ARGS);
}

/** The operands of an attention task from word `at` (readAttention's layout). */
export function writeAttention(u32: Uint32Array, f32: Float32Array, t: AttentionTask, at: number): void {
  for (let i = 0; i < ATTENTION_KEYS.length; i++) u32[at + i] = t[ATTENTION_KEYS[i]!];
  f32[at + ATTENTION_KEYS.length] = t.scale;
}

/**
 * The linear task at word `at` (the control block's operands by default), as an object literal with its fields in a fixed order (the generic decoder filled an
 * empty object key by key, on every thread, for each of the about 170 runs of a 1.1B decode step).
 */
export function readLinear(u32: Uint32Array, at: number = CTL.ARGS): LinearTask {
  return {
    dtype: u32[at + 0]!,
    x: u32[at + 1]!,
    xq: u32[at + 2]!,
    M: u32[at + 3]!,
    K: u32[at + 4]!,
    w: u32[at + 5]!,
    N: u32[at + 6]!,
    bias: u32[at + 7]!,
    out: u32[at + 8]!,
    rowbuf: u32[at + 9]!,
    rowbufStride: u32[at + 10]!,
  };
}

/** The attention task at word `at`, as readLinear. */
export function readAttention(u32: Uint32Array, f32: Float32Array, at: number = CTL.ARGS): AttentionTask {
  return {
    q: u32[at + 0]!,
    k: u32[at + 1]!,
    v: u32[at + 2]!,
    out: u32[at + 3]!,
    T: u32[at + 4]!,
    S: u32[at + 5]!,
    nHeads: u32[at + 6]!,
    nKvHeads: u32[at + 7]!,
    hd: u32[at + 8]!,
    queryPos: u32[at + 9]!,
    window: u32[at + 10]!,
    scores: u32[at + 11]!,
    scoresStride: u32[at + 12]!,
    parts: u32[at + 13]!,
    counter: u32[at + 14]!,
    scale: f32[at + 15]!,
  };
}

/** Decodes the published task and runs part `part` of it; false for EXIT. */
export function runEncodedPart(
  k: KernelExports,
  u32: Uint32Array,
  f32: Float32Array,
  part: number,
  parts: number,
): boolean {
  const op = u32[CTL.OP];
  if (op === OP.EXIT) return false;
  const read = <K extends string>(keys: readonly K[]): Record<K, number> => {
    const o = {} as Record<K, number>;
    keys.forEach((key, i) => (o[key] = u32[CTL.ARGS + i]!));
    return o;
  };
  if (op === OP.LINEAR) linearPart(k, readLinear(u32), part, parts, u32);
  else if (op === OP.ATTENTION) attentionPart(k, readAttention(u32, f32), part, parts, u32);
  else if (op === OP.GEMM) gemmPart(k, read(GEMM_KEYS), part, parts);
  else if (op === OP.ATTENTION_BACKWARD)
    attentionBackwardPart(k, { ...read(ATTENTION_BACKWARD_KEYS), scale: f32[BACKWARD_SCALE]! }, part, parts);
  else if (op === OP.ATTENTION_FORWARD)
    attentionForwardPart(k, { ...read(ATTENTION_BACKWARD_KEYS), scale: f32[BACKWARD_SCALE]! }, part, parts);
  else throw new Error(`wasm pool: unknown task ${op}`);
  return true;
}
