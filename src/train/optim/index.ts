// Optimizers, parameter groups and gradient clipping.

export { Optimizer, decayGroups, type ParamGroup, type Params } from "./optimizer.js";
export { SGD, type SGDOptions } from "./sgd.js";
export { Adam, AdamW, type AdamOptions } from "./adam.js";
export { clipGradNorm, scaleGrads } from "./clip.js";
