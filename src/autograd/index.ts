// Reverse-mode autograd: importing this registers every op's gradient rule; exports the engine, grad mode and
// the differentiable ops that are not inference front-ends (views, reductions, dropout, batched attention).

import "./grads/linear.js";
import "./grads/norms.js";
import "./grads/activations.js";
import "./grads/rope.js";
import "./grads/attention.js";

export { backward, zeroGrad, param, type BackwardOptions } from "./engine.js";
export { noGrad, enableGrad, isGradEnabled, registerGradient, type GradFn } from "../tensor/grad.js";
export { setMatmulKernels, matmulKernels, loopMatmul, backendMatmul, type MatmulKernels } from "./matmul.js";
export { reshape, narrow, transpose } from "./ops/views.js";
export { sum, mean, scale } from "./ops/reduce.js";
export { dropout } from "./ops/dropout.js";
export { causalSelfAttention } from "./ops/attention.js";
export { dense } from "./ops/dense.js";
