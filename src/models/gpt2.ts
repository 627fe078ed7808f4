// GPT-2 (Radford et al. 2019): learned positions, pre-LayerNorm blocks, fused qkv projection, GELU (tanh) MLP,
// classifier tied to the token embedding. Weights use Hugging Face names; io/ turns Conv1D (in, out) into (out, in).

import { makeKVCache, type KVCacheOptions } from "../cache/factory.js";
import type { KVCache } from "../cache/kv-cache.js";
import { Embedding, LayerNorm, Linear } from "../nn/layers.js";
import { Weights } from "../nn/weights.js";
import * as ops from "../tensor/ops.js";
import { runPlan } from "../tensor/plan.js";
import type { Tensor } from "../tensor/tensor.js";
import { gpt2DecodePlan, rowRange, type RowRange } from "./gpt2-plan.js";
import { gpt2ConfigFromHF, type GPT2Config } from "./config.js";
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

export class GPT2Attention {
  readonly c_attn: Linear;
  readonly c_proj: Linear;

  constructor(
    vb: Weights,
    private readonly cfg: GPT2Config,
  ) {
    const D = cfg.nEmbd;
    this.c_attn = new Linear(vb.pp("c_attn"), D, 3 * D, "optional");
    this.c_proj = new Linear(vb.pp("c_proj"), D, D, "optional");
  }

  /** x holds the rows of every segment (one sequence, or a batch of them, each with its own cache). */
  forward(x: Tensor, layer: number, segs: readonly Segment[]): Tensor {
    const { nEmbd: D, nHead: H } = this.cfg;
    const hd = D / H;
    const T = x.shape[0]!;
    const qkv = this.c_attn.forward(x); // (T, 3D)
    const q = qkv.narrow(1, 0, D).contiguous().reshape([T, H, hd]); // (T, nh, hs)
    const k = qkv.narrow(1, D, D).contiguous().reshape([T, H, hd]);
    const v = qkv
      .narrow(1, 2 * D, D)
      .contiguous()
      .reshape([T, H, hd]);
    const y = attendSegments(segs, q, k, v, (qs, ks, vs, seg) => {
      const start = seg.cache.length;
      const kv = seg.cache.update(layer, ks, vs);
      return ops.attention(qs, kv.k, kv.v, { queryPos: start, window: 0, scale: 1 / Math.sqrt(hd) });
    });
    return this.c_proj.forward(y.reshape([T, D]));
  }
}

export class GPT2MLP {
  readonly c_fc: Linear;
  readonly c_proj: Linear;

  constructor(
    vb: Weights,
    private readonly cfg: GPT2Config,
  ) {
    this.c_fc = new Linear(vb.pp("c_fc"), cfg.nEmbd, cfg.nInner, "optional");
    this.c_proj = new Linear(vb.pp("c_proj"), cfg.nInner, cfg.nEmbd, "optional");
  }

  forward(x: Tensor): Tensor {
    const h = this.c_fc.forward(x);
    return this.c_proj.forward(this.cfg.activation === "gelu" ? ops.gelu(h) : ops.geluTanh(h));
  }
}

export class GPT2Block {
  readonly ln_1: LayerNorm;
  readonly attn: GPT2Attention;
  readonly ln_2: LayerNorm;
  readonly mlp: GPT2MLP;

  constructor(vb: Weights, cfg: GPT2Config) {
    this.ln_1 = new LayerNorm(vb.pp("ln_1"), cfg.nEmbd, cfg.layerNormEps);
    this.attn = new GPT2Attention(vb.pp("attn"), cfg);
    this.ln_2 = new LayerNorm(vb.pp("ln_2"), cfg.nEmbd, cfg.layerNormEps);
    this.mlp = new GPT2MLP(vb.pp("mlp"), cfg);
  }

  forward(x: Tensor, layer: number, segs: readonly Segment[]): Tensor {
    const h = ops.add(x, this.attn.forward(this.ln_1.forward(x), layer, segs));
    return ops.add(h, this.mlp.forward(this.ln_2.forward(h)));
  }
}

export class GPT2LMHeadModel implements CausalLM {
  readonly architecture = "GPT2LMHeadModel";
  readonly cfg: GPT2Config;
  readonly wte: Embedding;
  readonly wpe: Embedding;
  readonly h: GPT2Block[];
  readonly ln_f: LayerNorm;
  readonly lm_head: Tensor;

  constructor(
    readonly config: Readonly<Record<string, unknown>>,
    readonly weights: ReadonlyMap<string, Tensor>,
  ) {
    const cfg = gpt2ConfigFromHF(config);
    this.cfg = cfg;
    const t = new Weights(weights).pp("transformer");
    this.wte = new Embedding(t.pp("wte"), cfg.vocabSize, cfg.nEmbd);
    this.wpe = new Embedding(t.pp("wpe"), cfg.nPositions, cfg.nEmbd);
    this.h = [];
    for (let i = 0; i < cfg.nLayer; i++) this.h.push(new GPT2Block(t.pp("h").pp(i), cfg));
    this.ln_f = new LayerNorm(t.pp("ln_f"), cfg.nEmbd, cfg.layerNormEps);
    this.lm_head =
      new Weights(weights).maybe("lm_head.weight", [cfg.vocabSize, cfg.nEmbd]) ?? this.wte.weight;
  }

  get vocabSize(): number {
    return this.cfg.vocabSize;
  }

  get contextLength(): number {
    return this.cfg.nPositions;
  }

  newCache(opts?: KVCacheOptions): KVCache {
    const c = this.cfg;
    if (opts?.slidingWindow || opts?.attentionSinks)
      throw new Error("GPT-2's learned positions end at n_positions: no sliding window or attention sinks");
    const shape = {
      nLayers: c.nLayer,
      nKvHeads: c.nHead,
      headDim: c.nEmbd / c.nHead,
      maxLength: c.nPositions,
    };
    return makeKVCache(shape, opts);
  }

  forward(ids: readonly number[], cache: KVCache, opts: ForwardOptions = {}): Tensor {
    const T = ids.length;
    if (T === 0) throw new Error("forward: no tokens");
    if (decodesByPlan(ids, cache, opts, this.weights)) return framed(() => this.step(ids[0]!, cache));
    const segs = [{ cache, start: 0, T }];
    return framed(() => {
      const x = this.blocks(ids, segs);
      const h = this.ln_f.forward(opts.allLogits || opts.onHidden ? x : lastRow(x)); // (T or 1, D)
      if (opts.onHidden) opts.onHidden(outOfFrame(h));
      return ops.linear(opts.onHidden && !opts.allLogits ? lastRow(h) : h, this.lm_head); // (T or 1, V)
    });
  }

  forwardBatch(items: readonly BatchItem[]): Tensor {
    const { segs, ids } = segmentsOf(items);
    return framed(() => ops.linear(this.ln_f.forward(lastRows(this.blocks(ids, segs), segs)), this.lm_head)); // (B, V)
  }

  /** Each block's c_attn as its q, k and v row ranges (made on the first decode step). */
  private qkv: (readonly [RowRange, RowRange, RowRange])[] | null = null;

  /**
   * One token through the whole model as one plan (gpt2-plan.ts; the same kernels as the op-by-op path, which a
   * backend may run in one go): the logits (1, V). The cache takes the token's keys and values.
   */
  private step(id: number, cache: KVCache): Tensor {
    const pos = cache.length;
    if (pos + 1 > this.cfg.nPositions)
      throw new Error(`context full: ${pos + 1} positions exceed ${this.cfg.nPositions}`);
    const D = this.cfg.nEmbd;
    this.qkv ??= this.h.map((b) => {
      const c = b.attn.c_attn;
      return [rowRange(c, 0, D), rowRange(c, D, D), rowRange(c, 2 * D, D)] as const;
    });
    const x = ops.add(this.wte.forward([id]), this.wpe.forward([pos])); // (1, D)
    const logits = ops.output([1, this.cfg.vocabSize]); // (1, V)
    runPlan(gpt2DecodePlan(this, this.qkv, x.f32(), cache, logits.f32()));
    cache.commit(1);
    return logits;
  }

  /** Token and position embeddings through every block, storing each segment's keys and values → (N, D). */
  private blocks(ids: readonly number[], segs: readonly Segment[]): Tensor {
    for (const s of segs) {
      if (s.cache.length + s.T > this.cfg.nPositions)
        throw new Error(`context full: ${s.cache.length + s.T} positions exceed ${this.cfg.nPositions}`);
    }
    let x = ops.add(this.wte.forward(ids), this.wpe.forward(segmentPositions(segs))); // (N, D)
    for (let l = 0; l < this.h.length; l++) {
      const block = this.h[l]!;
      x = residualStep(x, () => block.forward(x, l, segs));
    }
    for (const s of segs) s.cache.commit(s.T);
    return x;
  }
}
