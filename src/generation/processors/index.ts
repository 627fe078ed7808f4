// Every logits processor, for the library entry point (temperature, top-k and top-p live in ../sampling.ts).

export type { ContextProcessor, DecodeContext } from "./context.js";
export { contextProcessorsFor, type ProcessorOptions } from "./chain.js";
export { repetitionPenalty, presenceFrequencyPenalty } from "./penalties.js";
export { badWords, forcedBos, forcedEos, logitBias, minNewTokens, noRepeatNgram } from "./constraints.js";
export { minP, typicalP } from "./filters.js";
