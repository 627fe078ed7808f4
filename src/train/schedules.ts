// Learning-rate schedules as functions of the 0-based iteration: constant; linear warmup then cosine decay to a
// minimum (nanoGPT's get_lr); inverse square root (Vaswani et al. 2017: d^−0.5 · min(step^−0.5, step·warmup^−1.5),
// with step = it + 1).

export type Schedule = (it: number) => number;

export function constantLr(lr: number): Schedule {
  return () => lr;
}

export interface WarmupCosineOptions {
  readonly maxLr: number;
  readonly minLr: number;
  readonly warmupIters: number;
  /** Iteration where the cosine reaches minLr; minLr after it. */
  readonly decayIters: number;
}

export function warmupCosine(o: WarmupCosineOptions): Schedule {
  if (o.decayIters <= o.warmupIters) throw new Error("warmupCosine: decayIters must exceed warmupIters");
  return (it) => {
    if (it < o.warmupIters) return (o.maxLr * (it + 1)) / (o.warmupIters + 1);
    if (it > o.decayIters) return o.minLr;
    const ratio = (it - o.warmupIters) / (o.decayIters - o.warmupIters);
    return o.minLr + 0.5 * (1 + Math.cos(Math.PI * ratio)) * (o.maxLr - o.minLr);
  };
}

/** The Transformer schedule; `factor` multiplies it (1 in the paper). */
export function inverseSqrt(dModel: number, warmup: number, factor = 1): Schedule {
  if (!(dModel > 0 && warmup > 0)) throw new Error("inverseSqrt: dModel and warmup must be > 0");
  return (it) => {
    const step = it + 1;
    return factor * dModel ** -0.5 * Math.min(step ** -0.5, step * warmup ** -1.5);
  };
}
