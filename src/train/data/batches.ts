// Language-model batches as nanoGPT's get_batch: a train/validation split by position (the first 90% trains), and
// batches of B windows starting at uniform random offsets, inputs ids[i..i+T) with targets shifted by one.

import type { Rng } from "../../generation/rng.js";

export interface Split {
  readonly train: Int32Array;
  readonly val: Int32Array;
}

/** The first `trainFraction` of the ids (rounded down, as int(0.9 * n)) train; the rest validate. */
export function splitTrainVal(ids: Int32Array, trainFraction = 0.9): Split {
  if (!(trainFraction > 0 && trainFraction < 1))
    throw new Error(`split: the train fraction must be in (0, 1), got ${trainFraction}`);
  const n = Math.floor(ids.length * trainFraction);
  return { train: ids.subarray(0, n), val: ids.subarray(n) };
}

export interface Batch {
  /** Input ids [B·T], row-major. */
  readonly x: Int32Array;
  /** Targets [B·T]: each input's next id. */
  readonly y: Int32Array;
}

/** B windows of T + 1 consecutive ids at offsets uniform in [0, n − T). */
export function sampleBatch(data: Int32Array, B: number, T: number, rng: Rng): Batch {
  if (!(Number.isSafeInteger(B) && Number.isSafeInteger(T) && B > 0 && T > 0))
    throw new Error(`batch: B and T must be positive integers, got ${B} × ${T}`);
  const span = data.length - T;
  if (span < 1) throw new Error(`batch: ${data.length} tokens are too few for windows of ${T} + 1`);
  const x = new Int32Array(B * T);
  const y = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const i = Math.floor(rng.next() * span);
    x.set(data.subarray(i, i + T), b * T);
    y.set(data.subarray(i + 1, i + T + 1), b * T);
  }
  return { x, y };
}
