// A trainable Llama (Touvron et al. 2023): the blocks of models/llama.ts (RMSNorm, rotary q/k in rotate-half
// layout, grouped-query attention, SwiGLU MLP, no biases, optionally tied classifier) over a batch [B, T] in one
// teacher-forced pass under the causal mask, with attention dropout and recorded gradients. Parameters carry
// Hugging Face names (model.layers.0.self_attn.q_proj.weight, ...), so LlamaForCausalLM runs them as they are.

import { causalSelfAttention, dense, reshape } from "../autograd/index.js";
import { Rng } from "../generation/rng.js";
import { llamaConfigFromHF, type LlamaConfig } from "../models/config.js";
import { ropeInvFreq } from "../nn/rope.js";
import { toF32 } from "../tensor/convert.js";
import * as ops from "../tensor/ops.js";
import { Tensor } from "../tensor/tensor.js";
import { checkBatch, normal, ownParams, type TrainableLM, type TrainForwardOptions } from "./model.js";

export interface LlamaTrainConfig {
  readonly vocab_size: number;
  readonly hidden_size: number;
  /** SwiGLU width. */
  readonly intermediate_size: number;
  readonly num_hidden_layers: number;
  readonly num_attention_heads: number;
  /** Key/value heads (grouped-query attention); default num_attention_heads. */
  readonly num_key_value_heads?: number;
  readonly max_position_embeddings: number;
  readonly rope_theta?: number;
  readonly rms_norm_eps?: number;
  readonly tie_word_embeddings?: boolean;
  /** Dropout on the attention probabilities. */
  readonly attention_dropout?: number;
  readonly bos_token_id?: number | null;
  readonly eos_token_id?: number | null;
}

/** A Hugging Face Llama config.json object for these sizes. */
export function llamaHFConfig(c: LlamaTrainConfig): Record<string, unknown> {
  return {
    model_type: "llama",
    architectures: ["LlamaForCausalLM"],
    vocab_size: c.vocab_size,
    hidden_size: c.hidden_size,
    intermediate_size: c.intermediate_size,
    num_hidden_layers: c.num_hidden_layers,
    num_attention_heads: c.num_attention_heads,
    num_key_value_heads: c.num_key_value_heads ?? c.num_attention_heads,
    max_position_embeddings: c.max_position_embeddings,
    rope_theta: c.rope_theta ?? 10000,
    rms_norm_eps: c.rms_norm_eps ?? 1e-5,
    tie_word_embeddings: c.tie_word_embeddings ?? false,
    attention_dropout: c.attention_dropout ?? 0,
    attention_bias: false,
    mlp_bias: false,
    hidden_act: "silu",
    bos_token_id: c.bos_token_id ?? null,
    eos_token_id: c.eos_token_id ?? null,
  };
}

/** The SwiGLU width Llama uses for a model width: 8/3 of it rounded up to a multiple of `multiple`. */
export function llamaFfnWidth(dim: number, multiple = 32): number {
  return Math.ceil((8 * dim) / 3 / multiple) * multiple;
}

export class TrainableLlama implements TrainableLM {
  readonly cfg: LlamaConfig;
  readonly config: Readonly<Record<string, unknown>>;
  /** Every parameter by Hugging Face name (model.embed_tokens.weight, model.layers.0.mlp.gate_proj.weight, ...). */
  readonly params: Map<string, Tensor>;
  readonly attnDropout: number;
  rng: Rng;
  private readonly invFreq: Float32Array;

  constructor(config: Readonly<Record<string, unknown>>, params: ReadonlyMap<string, Tensor>, seed = 0) {
    this.config = config;
    this.cfg = llamaConfigFromHF(config);
    const c = this.cfg;
    if (c.ropeScaling || c.slidingWindow > 0)
      throw new Error("TrainableLlama: rope scaling and sliding windows are not trained");
    if (c.headDim * c.numHeads !== c.hiddenSize)
      throw new Error("TrainableLlama: head_dim × num_attention_heads must equal hidden_size");
    const p = config["attention_dropout"] ?? 0;
    if (typeof p !== "number" || !(p >= 0 && p < 1))
      throw new Error('config: "attention_dropout" must be in [0, 1)');
    this.attnDropout = p;
    this.rng = new Rng(seed);
    this.invFreq = ropeInvFreq(c.headDim, c.ropeTheta);
    this.params = ownParams("TrainableLlama", TrainableLlama.shapesOf(c), params, (t, shape) =>
      Tensor.fromArray(toF32(t).f32(), shape),
    );
  }

  /** N(0, 0.02) matrices, residual projections (o_proj, down_proj) N(0, 0.02/√(2·layers)), unit norms. */
  static init(config: Readonly<Record<string, unknown>>, seed: number): TrainableLlama {
    const cfg = llamaConfigFromHF(config);
    const rng = new Rng(seed);
    const params = new Map<string, Tensor>();
    for (const [name, shape] of TrainableLlama.shapesOf(cfg)) {
      const n = shape.reduce((a, b) => a * b, 1);
      let v: Float32Array;
      if (shape.length === 1) v = new Float32Array(n).fill(1);
      else if (/(o_proj|down_proj)\.weight$/.test(name))
        v = normal(rng, n, 0.02 / Math.sqrt(2 * cfg.numLayers));
      else v = normal(rng, n, 0.02);
      params.set(name, Tensor.fromArray(v, shape));
    }
    return new TrainableLlama(config, params, seed);
  }

  private static shapesOf(c: LlamaConfig): [string, number[]][] {
    const D = c.hiddenSize;
    const kv = c.numKvHeads * c.headDim;
    const F = c.intermediateSize;
    const out: [string, number[]][] = [["model.embed_tokens.weight", [c.vocabSize, D]]];
    for (let l = 0; l < c.numLayers; l++) {
      const h = `model.layers.${l}`;
      out.push(
        [`${h}.input_layernorm.weight`, [D]],
        [`${h}.self_attn.q_proj.weight`, [D, D]],
        [`${h}.self_attn.k_proj.weight`, [kv, D]],
        [`${h}.self_attn.v_proj.weight`, [kv, D]],
        [`${h}.self_attn.o_proj.weight`, [D, D]],
        [`${h}.post_attention_layernorm.weight`, [D]],
        [`${h}.mlp.gate_proj.weight`, [F, D]],
        [`${h}.mlp.up_proj.weight`, [F, D]],
        [`${h}.mlp.down_proj.weight`, [D, F]],
      );
    }
    out.push(["model.norm.weight", [D]]);
    if (!c.tieWordEmbeddings) out.push(["lm_head.weight", [c.vocabSize, D]]);
    return out;
  }

  get vocabSize(): number {
    return this.cfg.vocabSize;
  }

  get contextLength(): number {
    return this.cfg.contextLength;
  }

  parameters(): Tensor[] {
    return [...this.params.values()];
  }

  private p(name: string): Tensor {
    return this.params.get(name)!;
  }

  forward(ids: ArrayLike<number>, B: number, T: number, opts: TrainForwardOptions = {}): Tensor {
    const {
      vocabSize: V,
      hiddenSize: D,
      numHeads: H,
      numKvHeads: KV,
      headDim: hd,
      rmsNormEps: eps,
    } = this.cfg;
    checkBatch(ids, B, T, V, this.cfg.contextLength);
    const training = opts.training ?? false;
    const random = () => this.rng.next();
    const pos = Array.from({ length: B * T }, (_, i) => i % T);
    let x = ops.embedding(this.p("model.embed_tokens.weight"), Int32Array.from(ids)); // (B·T, D)
    for (let l = 0; l < this.cfg.numLayers; l++) {
      const n = (s: string) => this.p(`model.layers.${l}.${s}`);
      const h = ops.rmsNorm(x, n("input_layernorm.weight"), eps);
      const heads = (w: string, nh: number, rotate: boolean): Tensor => {
        const t = reshape(dense(h, n(w)), [B * T, nh, hd]); // (B·T, nh, hs)
        return reshape(rotate ? ops.rope(t, pos, this.invFreq) : t, [B, T, nh, hd]); // (B, T, nh, hs)
      };
      const q = heads("self_attn.q_proj.weight", H, true);
      const k = heads("self_attn.k_proj.weight", KV, true);
      const v = heads("self_attn.v_proj.weight", KV, false);
      const dropout = this.attnDropout > 0 && training ? { p: this.attnDropout, random } : undefined;
      const y = reshape(causalSelfAttention(q, k, v, { dropout }), [B * T, D]);
      x = ops.add(x, dense(y, n("self_attn.o_proj.weight")));
      const h2 = ops.rmsNorm(x, n("post_attention_layernorm.weight"), eps);
      const g = ops.mul(ops.silu(dense(h2, n("mlp.gate_proj.weight"))), dense(h2, n("mlp.up_proj.weight")));
      x = ops.add(x, dense(g, n("mlp.down_proj.weight")));
    }
    x = ops.rmsNorm(x, this.p("model.norm.weight"), eps);
    const head = this.cfg.tieWordEmbeddings ? this.p("model.embed_tokens.weight") : this.p("lm_head.weight");
    return reshape(dense(x, head), [B, T, V]); // (B, T, V)
  }
}
