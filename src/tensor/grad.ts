// The core's autograd hooks (reverse mode, as PyTorch's tape): grad mode with noGrad(), a registry of gradient
// rules by op name (tfjs registerGradient), and track(), which op front-ends call on their output. track()
// records a node only when grad is enabled and an input requires grad; inference pays one flag check per input.

import type { GradNode, Tensor } from "./tensor.js";

/** A gradient rule: given dL/d(out), the gradients of the op's inputs (null where an input needs none). */
export type GradFn = (
  grad: Tensor,
  inputs: readonly (Tensor | null)[],
  out: Tensor,
  saved: unknown,
) => (Tensor | null)[];

let enabled = true;
const rules = new Map<string, GradFn>();

export function isGradEnabled(): boolean {
  return enabled;
}

/** Runs fn with recording off (inference, optimizer updates); restores the previous mode afterwards. */
export function noGrad<T>(fn: () => T): T {
  const prev = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}

/** Runs fn with recording on. */
export function enableGrad<T>(fn: () => T): T {
  const prev = enabled;
  enabled = true;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}

export function registerGradient(op: string, fn: GradFn): void {
  rules.set(op, fn);
}

export function hasGradient(op: string): boolean {
  return rules.has(op);
}

class OpNode implements GradNode {
  constructor(
    readonly op: string,
    readonly inputs: readonly (Tensor | null)[],
    private readonly out: Tensor,
    private readonly saved: unknown,
    private readonly fn: GradFn,
  ) {}

  backward(grad: Tensor): (Tensor | null)[] {
    return this.fn(grad, this.inputs, this.out, this.saved);
  }
}

/** Marks `out` as produced by `op` from `inputs` when recording applies; returns `out`. */
export function track(out: Tensor, op: string, inputs: readonly (Tensor | null)[], saved?: unknown): Tensor {
  if (!enabled) return out;
  let any = false;
  for (let i = 0; i < inputs.length; i++) {
    const t = inputs[i];
    if (t && t.requiresGrad) {
      any = true;
      break;
    }
  }
  if (!any) return out;
  const fn = rules.get(op);
  if (!fn) throw new Error(`autograd: no gradient registered for op "${op}" (import decoderkit's autograd)`);
  out.requiresGrad = true;
  out.gradNode = new OpNode(op, inputs, out, saved, fn);
  return out;
}
