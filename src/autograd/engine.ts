// Reverse-mode differentiation over the graph that tracked ops record (tensor/grad.ts): a topological order from
// the output, gradients pushed back node by node, and accumulated (+=) into the .grad of leaves that require grad,
// so that calling backward on several micro-batches accumulates their gradients.

import { kernels } from "../tensor/backend.js";
import { noGrad } from "../tensor/grad.js";
import { gradBuffer, gradCopy } from "./buffers.js";
import { Tensor } from "../tensor/tensor.js";

/** Inputs before outputs, over every tensor reachable from root through grad nodes. */
function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    const inputs = t.gradNode ? t.gradNode.inputs : [];
    if (i < inputs.length) {
      top[1]++;
      const c = inputs[i];
      if (c && c.requiresGrad && !seen.has(c)) {
        seen.add(c);
        stack.push([c, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}

/** dst += src on the active backend (in place: the add kernels allow out = a). */
function addInto(dst: Float32Array, src: Float32Array): void {
  kernels().add(dst, src, dst);
}

export interface BackwardOptions {
  /** Keep the graph so that backward can run through it again (default: intermediate nodes are released). */
  readonly retainGraph?: boolean;
}

/**
 * Computes d(root)/d(leaf) for every leaf that requires grad and adds it to leaf.grad. root must hold one
 * value unless `grad` (same shape as root) is given.
 */
export function backward(root: Tensor, grad: Tensor | null = null, opts: BackwardOptions = {}): void {
  if (!root.requiresGrad)
    throw new Error("backward: the tensor does not require grad (no graph was recorded)");
  if (grad === null && root.size !== 1)
    throw new Error(`backward: a gradient is needed for a non-scalar output [${root.shape}]`);
  if (grad !== null && grad.size !== root.size)
    throw new Error(`backward: gradient [${grad.shape}] does not match output [${root.shape}]`);
  const seed = grad ? gradCopy(grad.f32()) : gradCopy(new Float32Array([1]));
  const grads = new Map<Tensor, Float32Array>([[root, seed]]);
  // Gradients are kept as the ops return them (no copy); a second one for the same tensor goes into a new buffer
  // this pass owns, and only owned buffers are added into later: a returned array may be shared (add passes one
  // array to both inputs) and must not change. Handing an array on to another tensor revokes its ownership.
  const owned = new Set<Float32Array>();
  const order = topoOrder(root);
  noGrad(() => {
    for (let n = order.length - 1; n >= 0; n--) {
      const t = order[n]!;
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      const node = t.gradNode;
      if (!node) {
        // a copy from the current allocator: g may lie in a frame that leaf gradients outlive
        if (t.grad === null) t.grad = Tensor.fromArray(g, t.shape);
        else addInto(t.grad.f32(), g);
        continue;
      }
      const inGrads = node.backward(new Tensor("f32", t.shape, g));
      node.inputs.forEach((x, i) => {
        const gi = inGrads[i];
        if (!x || !x.requiresGrad || !gi) return;
        if (gi.size !== x.size)
          throw new Error(
            `autograd: ${node.op} gave a gradient of [${gi.shape}] for an input of [${x.shape}]`,
          );
        const ga = gi.f32();
        const prev = grads.get(x);
        if (!prev) {
          owned.delete(ga);
          grads.set(x, ga);
        } else if (owned.has(prev)) addInto(prev, ga);
        else {
          const sum = gradBuffer(prev.length);
          kernels().add(prev, ga, sum);
          owned.add(sum);
          grads.set(x, sum);
        }
      });
      if (!opts.retainGraph) t.gradNode = null;
    }
  });
}

/** Sets .grad of every tensor to null (PyTorch's zero_grad(set_to_none=True)). */
export function zeroGrad(params: Iterable<Tensor>): void {
  for (const p of params) p.grad = null;
}

/** A leaf parameter: marks t as requiring grad and returns it. */
export function param(t: Tensor): Tensor {
  if (t.dtype !== "f32") throw new Error(`param: trainable tensors must be f32, got ${t.dtype}`);
  t.requiresGrad = true;
  return t;
}
