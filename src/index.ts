// decoderkit's library entry point: load checkpoints, tokenize, run decoders, generate.

import "./backends/reference/index.js";

export { Tensor } from "./tensor/tensor.js";
export type { DType } from "./tensor/dtype.js";
export * as ops from "./tensor/ops.js";
export { registerBackend, setBackend, backendName, type Kernels } from "./tensor/backend.js";
export {
  setAllocator,
  getAllocator,
  setCacheAllocator,
  getCacheAllocator,
  type Allocator,
} from "./tensor/storage.js";
export {
  createWasmBackend,
  initWasmBackend,
  tryInitWasmBackend,
  WasmArena,
  type SimdVariant,
  type WasmBackend,
  type WasmBackendOptions,
} from "./backends/wasm/index.js";
export { F32KVCache, storedBytes, type KVCache, type KVRows } from "./cache/kv-cache.js";
export { makeKVCache, type KVCacheOptions } from "./cache/factory.js";
export { RowKVCache } from "./cache/row-cache.js";
export type { KVCacheKind } from "./cache/row-store.js";
export { PrefixCache } from "./cache/prefix.js";
export { reorderCaches } from "./cache/reorder.js";
export type { CausalLM, ForwardOptions } from "./models/model.js";
export { LlamaForCausalLM } from "./models/llama.js";
export { GPT2LMHeadModel } from "./models/gpt2.js";
export { buildModel, ARCHITECTURES } from "./models/registry.js";
export { loadModel, type LoadedModel, type LoadOptions } from "./models/load.js";
export { readCheckpoint, type Checkpoint } from "./io/checkpoint.js";
export { readGGUF, writeGGUF } from "./io/gguf.js";
export { readSafetensors, writeSafetensors } from "./io/safetensors.js";
export { readPytorchBin } from "./io/pytorch.js";
export { readLlama2c } from "./io/llama2c.js";
export { loadTokenizer } from "./tokenizers/load.js";
export { StreamDecoder, type Tokenizer } from "./tokenizers/tokenizer.js";
export { generateTokens, type GenerateOptions, type GenerationStats } from "./generation/generate.js";
export { generateText, type TextGenerateOptions, type TextChunk } from "./generation/text.js";
export {
  generateSpeculative,
  emptySpeculativeStats,
  acceptanceRate,
  type SpeculativeOptions,
  type SpeculativeStats,
} from "./generation/speculative.js";
export { ModelDrafter, type Drafter, type DraftProposal } from "./generation/speculative-draft.js";
export { PromptLookupDrafter, lookupContinuation } from "./generation/prompt-lookup.js";
export { quantizedCopy, type CopyQuant } from "./models/quantized-copy.js";
export { Rng } from "./generation/rng.js";
export { beamSearch, type BeamSearchOptions, type BeamSearchResult } from "./generation/beam.js";
export { logSoftmax, sequenceScore } from "./generation/logprobs.js";
export type { Hypothesis, EarlyStopping } from "./generation/beam-hyps.js";
export { Session, type SessionStats } from "./generation/session.js";
export * as sampling from "./generation/sampling.js";
export { streamText } from "./generation/text.js";
export * as processors from "./generation/processors/index.js";
export { contrastiveSearch, type ContrastiveSearchOptions } from "./generation/contrastive-search.js";
export { contrastiveDecoding, type ContrastiveDecodingOptions } from "./generation/contrastive-decoding.js";
export { mbrDecode, mbrSelect, type MbrOptions } from "./generation/mbr.js";
export { perplexity } from "./eval/perplexity.js";
export { sentenceBleu, corpusBleu } from "./eval/bleu.js";
export { sentenceChrf, corpusChrf } from "./eval/chrf.js";
export { sinusoidalPositions } from "./nn/positions.js";
export * as autograd from "./autograd/index.js";
export { backward, noGrad, zeroGrad, param } from "./autograd/index.js";
export * as losses from "./train/losses/index.js";
export { SGD, Adam, AdamW, Optimizer, clipGradNorm, scaleGrads, decayGroups } from "./train/optim/index.js";
export { constantLr, warmupCosine, inverseSqrt, type Schedule } from "./train/schedules.js";
export { TrainableGPT2, gpt2HFConfig, type GPT2TrainConfig } from "./train/gpt2.js";
export { saveHFModel } from "./train/save.js";
export { CharTokenizer } from "./train/data/char-tokenizer.js";
export { splitTrainVal, sampleBatch, type Batch, type Split } from "./train/data/batches.js";
export {
  Trainer,
  lrSchedule,
  type TrainLoopOptions,
  type TrainerState,
  type EvalResult,
} from "./train/loop.js";
export {
  saveTrainingCheckpoint,
  loadTrainingCheckpoint,
  restoreTrainer,
  type TrainingCheckpoint,
} from "./train/checkpoint.js";
export { lossCurveSvg, type LossCurves } from "./train/plot.js";
