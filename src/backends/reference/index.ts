// The reference backend: plain TypeScript loops, kept forever as the oracle that fast kernels are tested against.

import { registerBackend, type Kernels } from "../../tensor/backend.js";
import { attention, rope } from "./attention.js";
import { add, gelu, geluTanh, layernorm, mul, rmsnorm, silu, softmax } from "./elementwise.js";
import { embedding, linear } from "./linear.js";
import { matmul } from "./matmul.js";

export const referenceKernels: Kernels = {
  linear,
  embedding,
  rmsnorm,
  layernorm,
  rope,
  softmax,
  silu,
  gelu,
  geluTanh,
  add,
  mul,
  attention,
  matmul,
};

registerBackend("reference", referenceKernels);
