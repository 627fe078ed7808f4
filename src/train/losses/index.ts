// The training losses, each an op with its gradient (imported for their registration side effect).

export {
  crossEntropy,
  nllLoss,
  logSoftmax,
  type CrossEntropyOptions,
  type ClassLossOptions,
  type Reduction,
} from "./cross-entropy.js";
export { mseLoss, bceWithLogits, gaussianKL, type KLReduction } from "./regression.js";
