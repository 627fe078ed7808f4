// Architectures by their Hugging Face names; anything else is refused by name.

import { GPT2LMHeadModel } from "./gpt2.js";
import { LlamaForCausalLM } from "./llama.js";
import type { CausalLM } from "./model.js";
import type { Tensor } from "../tensor/tensor.js";

type Builder = (config: Readonly<Record<string, unknown>>, weights: ReadonlyMap<string, Tensor>) => CausalLM;

const llamaLike =
  (name: string): Builder =>
  (c, w) =>
    new LlamaForCausalLM(c, w, name);

export const ARCHITECTURES: Readonly<Record<string, Builder>> = {
  LlamaForCausalLM: llamaLike("LlamaForCausalLM"),
  MistralForCausalLM: llamaLike("MistralForCausalLM"),
  Qwen2ForCausalLM: llamaLike("Qwen2ForCausalLM"),
  GPT2LMHeadModel: (c, w) => new GPT2LMHeadModel(c, w),
};

/** The architecture named in a Hugging Face config (`architectures[0]`, else `model_type`). */
export function architectureOf(config: Readonly<Record<string, unknown>>): string {
  const a = config["architectures"];
  if (Array.isArray(a) && typeof a[0] === "string") return a[0];
  const byType: Record<string, string> = {
    llama: "LlamaForCausalLM",
    mistral: "MistralForCausalLM",
    qwen2: "Qwen2ForCausalLM",
    gpt2: "GPT2LMHeadModel",
  };
  const t = config["model_type"];
  if (typeof t === "string" && byType[t]) return byType[t]!;
  throw new Error(
    `config names no architecture (architectures: ${JSON.stringify(a)}, model_type: ${JSON.stringify(t)})`,
  );
}

export function buildModel(
  config: Readonly<Record<string, unknown>>,
  weights: ReadonlyMap<string, Tensor>,
): CausalLM {
  const arch = architectureOf(config);
  const b = ARCHITECTURES[arch];
  if (!b)
    throw new Error(
      `unsupported architecture "${arch}" (supported: ${Object.keys(ARCHITECTURES).join(", ")})`,
    );
  return b(config, weights);
}
