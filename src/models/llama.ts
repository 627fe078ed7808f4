// The Llama decoder (Touvron et al. 2023): RMSNorm, rotary positions, grouped-query attention and a SwiGLU MLP.
// Also serves Mistral (sliding window), Qwen2 (q/k/v bias), SmolLM and TinyLlama. Weights use Hugging Face names.

import { makeKVCache, type KVCacheOptions } from "../cache/factory.js";
import type { KVCache } from "../cache/kv-cache.js";
import { Embedding, Linear, RMSNorm } from "../nn/layers.js";
import { ropeInvFreq } from "../nn/rope.js";
import { Weights } from "../nn/weights.js";
import * as ops from "../tensor/ops.js";
import { runPlan } from "../tensor/plan.js";
import type { Tensor } from "../tensor/tensor.js";
import { decodePlan } from "./llama-plan.js";
import { llamaConfigFromHF, type LlamaConfig } from "./config.js";
import {
  attendSegments,
  decodesByPlan,
  framed,
  lastRow,
  lastRows,
  outOfFrame,
  residualStep,
  segmentPositions,
  segmentsOf,
  type BatchItem,
  type CausalLM,
  type ForwardOptions,
  type Segment,
} from "./model.js";

export class LlamaAttention {
  readonly q_proj: Linear;
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly o_proj: Linear;

  constructor(
    vb: Weights,
    private readonly cfg: LlamaConfig,
    readonly invFreq: Float32Array,
  ) {
    const { hiddenSize: D, numHeads: H, numKvHeads: KV, headDim: hd } = cfg;
    this.q_proj = new Linear(vb.pp("q_proj"), D, H * hd, "optional");
    this.k_proj = new Linear(vb.pp("k_proj"), D, KV * hd, "optional");
    this.v_proj = new Linear(vb.pp("v_proj"), D, KV * hd, "optional");
    this.o_proj = new Linear(vb.pp("o_proj"), H * hd, D, "optional");
  }

  /** x holds the rows of every segment (one sequence, or a batch of them, each with its own cache). */
  forward(x: Tensor, layer: number, segs: readonly Segment[], positions: number[]): Tensor {
    const { numHeads: H, numKvHeads: KV, headDim: hd } = this.cfg;
    const T = x.shape[0]!;
    const q = ops.rope(this.q_proj.forward(x).reshape([T, H, hd]), positions, this.invFreq); // (T, nh, hs)
    const k = ops.rope(this.k_proj.forward(x).reshape([T, KV, hd]), positions, this.invFreq); // (T, nkv, hs)
    const v = this.v_proj.forward(x).reshape([T, KV, hd]); // (T, nkv, hs)
    const y = attendSegments(segs, q, k, v, (qs, ks, vs, seg) => {
      const kv = seg.cache.update(layer, ks, vs); // (S, nkv, hs), the last T rows the new ones
      return ops.attention(qs, kv.k, kv.v, {
        queryPos: kv.k.shape[0]! - seg.T,
        window: kv.window ?? this.cfg.slidingWindow,
        scale: 1 / Math.sqrt(hd),
      }); // (T, nh, hs)
    });
    return this.o_proj.forward(y.reshape([T, H * hd]));
  }
}

export class LlamaMLP {
  readonly gate_proj: Linear;
  readonly up_proj: Linear;
  readonly down_proj: Linear;

  constructor(vb: Weights, cfg: LlamaConfig) {
    const { hiddenSize: D, intermediateSize: F } = cfg;
    this.gate_proj = new Linear(vb.pp("gate_proj"), D, F);
    this.up_proj = new Linear(vb.pp("up_proj"), D, F);
    this.down_proj = new Linear(vb.pp("down_proj"), F, D);
  }

  forward(x: Tensor): Tensor {
    return this.down_proj.forward(ops.mul(ops.silu(this.gate_proj.forward(x)), this.up_proj.forward(x)));
  }
}

export class LlamaBlock {
  readonly input_layernorm: RMSNorm;
  readonly self_attn: LlamaAttention;
  readonly post_attention_layernorm: RMSNorm;
  readonly mlp: LlamaMLP;

  constructor(vb: Weights, cfg: LlamaConfig, invFreq: Float32Array) {
    this.input_layernorm = new RMSNorm(vb.pp("input_layernorm"), cfg.hiddenSize, cfg.rmsNormEps);
    this.self_attn = new LlamaAttention(vb.pp("self_attn"), cfg, invFreq);
    this.post_attention_layernorm = new RMSNorm(
      vb.pp("post_attention_layernorm"),
      cfg.hiddenSize,
      cfg.rmsNormEps,
    );
    this.mlp = new LlamaMLP(vb.pp("mlp"), cfg);
  }

  forward(x: Tensor, layer: number, segs: readonly Segment[], positions: number[]): Tensor {
    const h = ops.add(x, this.self_attn.forward(this.input_layernorm.forward(x), layer, segs, positions));
    return ops.add(h, this.mlp.forward(this.post_attention_layernorm.forward(h)));
  }
}

export class LlamaForCausalLM implements CausalLM {
  readonly architecture: string;
  readonly cfg: LlamaConfig;
  readonly embed_tokens: Embedding;
  readonly layers: LlamaBlock[];
  readonly norm: RMSNorm;
  /** The classifier: lm_head.weight, or the embedding table when tied. */
  readonly lm_head: Tensor;

  constructor(
    readonly config: Readonly<Record<string, unknown>>,
    readonly weights: ReadonlyMap<string, Tensor>,
    architecture = "LlamaForCausalLM",
  ) {
    this.architecture = architecture;
    const cfg = llamaConfigFromHF(config);
    this.cfg = cfg;
    const vb = new Weights(weights);
    const m = vb.pp("model");
    this.embed_tokens = new Embedding(m.pp("embed_tokens"), cfg.vocabSize, cfg.hiddenSize);
    const invFreq = ropeInvFreq(cfg.headDim, cfg.ropeTheta, cfg.ropeScaling);
    this.layers = [];
    for (let i = 0; i < cfg.numLayers; i++)
      this.layers.push(new LlamaBlock(m.pp("layers").pp(i), cfg, invFreq));
    this.norm = new RMSNorm(m.pp("norm"), cfg.hiddenSize, cfg.rmsNormEps);
    this.lm_head = vb.maybe("lm_head.weight", [cfg.vocabSize, cfg.hiddenSize]) ?? this.embed_tokens.weight;
  }

  get vocabSize(): number {
    return this.cfg.vocabSize;
  }

  get contextLength(): number {
    return this.cfg.contextLength;
  }

  newCache(opts?: KVCacheOptions): KVCache {
    const c = this.cfg;
    const shape = {
      nLayers: c.numLayers,
      nKvHeads: c.numKvHeads,
      headDim: c.headDim,
      maxLength: c.contextLength,
    };
    return makeKVCache(shape, opts, c.slidingWindow);
  }

  forward(ids: readonly number[], cache: KVCache, opts: ForwardOptions = {}): Tensor {
    const T = ids.length;
    if (T === 0) throw new Error("forward: no tokens");
    if (decodesByPlan(ids, cache, opts, this.weights)) return framed(() => this.step(ids[0]!, cache));
    const segs = [{ cache, start: 0, T }];
    return framed(() => {
      const x = this.blocks(ids, segs);
      const h = this.norm.forward(opts.allLogits || opts.onHidden ? x : lastRow(x)); // (T or 1, D)
      if (opts.onHidden) opts.onHidden(outOfFrame(h));
      return ops.linear(opts.onHidden && !opts.allLogits ? lastRow(h) : h, this.lm_head); // (T or 1, V)
    });
  }

  forwardBatch(items: readonly BatchItem[]): Tensor {
    const { segs, ids } = segmentsOf(items);
    return framed(() => ops.linear(this.norm.forward(lastRows(this.blocks(ids, segs), segs)), this.lm_head)); // (B, V)
  }

  /**
   * One token through the whole model as one plan (llama-plan.ts; the same kernels as the op-by-op path, which a
   * backend may run in one go): the logits (1, V). The cache takes the token's keys and values.
   */
  private step(id: number, cache: KVCache): Tensor {
    const x = this.embed_tokens.forward([id]); // (1, D)
    const logits = ops.output([1, this.cfg.vocabSize]); // (1, V)
    runPlan(decodePlan(this, x.f32(), cache, logits.f32()));
    cache.commit(1);
    return logits;
  }

  /** Embeddings through every block, storing each segment's keys and values; the final hidden rows (N, D). */
  private blocks(ids: readonly number[], segs: readonly Segment[]): Tensor {
    const positions = segmentPositions(segs);
    let x = this.embed_tokens.forward(ids); // (N, D)
    for (let l = 0; l < this.layers.length; l++) {
      const layer = this.layers[l]!;
      x = residualStep(x, () => layer.forward(x, l, segs, positions));
    }
    for (const s of segs) s.cache.commit(s.T);
    return x;
  }
}
