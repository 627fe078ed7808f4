// Writes a trained model as a Hugging Face folder (config.json + model.safetensors, through io/export.ts, which
// turns GPT-2's (out, in) weights back into Conv1D's (in, out)), so `decoderkit generate` and other tools load it.

import { writeHFFolder } from "../io/export.js";
import type { Tensor } from "../tensor/tensor.js";

export interface SaveableModel {
  readonly config: Readonly<Record<string, unknown>>;
  readonly params: ReadonlyMap<string, Tensor>;
}

export function saveHFModel(
  dir: string,
  model: SaveableModel,
  opts: { tokenizerFile?: string; overwrite?: boolean } = {},
): void {
  writeHFFolder(
    dir,
    { format: "safetensors", path: dir, config: { ...model.config }, tensors: new Map(model.params) },
    { dtype: "f32", ...opts },
  );
}
