// A trainable GPT-2 (Radford et al. 2019; nanoGPT's model): the same blocks as models/gpt2.ts (pre-LayerNorm,
// fused c_attn, GELU MLP, tied classifier) over a batch [B, T] in one teacher-forced pass under the causal mask,
// with dropout (embd_pdrop, attn_pdrop, resid_pdrop) and recorded gradients. Parameters carry Hugging Face names
// and layouts (weights (out, in)), so GPT2LMHeadModel runs the trained weights as they are.

import { causalSelfAttention, dense, dropout, reshape, narrow } from "../autograd/index.js";
import { Rng } from "../generation/rng.js";
import { gpt2ConfigFromHF, type GPT2Config } from "../models/config.js";
import { toF32 } from "../tensor/convert.js";
import * as ops from "../tensor/ops.js";
import { Tensor } from "../tensor/tensor.js";
import { checkBatch, normal, ownParams, type TrainableLM, type TrainForwardOptions } from "./model.js";

export interface GPT2TrainConfig {
  readonly vocab_size: number;
  readonly n_layer: number;
  readonly n_head: number;
  readonly n_embd: number;
  readonly n_positions: number;
  readonly activation_function?: "gelu_new" | "gelu";
  readonly dropout?: number;
  readonly layer_norm_epsilon?: number;
  /** Biases in the linear layers and LayerNorms (GPT-2's); false is nanoGPT's bias=False. Default true. */
  readonly bias?: boolean;
}

/** A Hugging Face GPT-2 config.json object for these sizes. */
export function gpt2HFConfig(c: GPT2TrainConfig): Record<string, unknown> {
  const p = c.dropout ?? 0;
  return {
    model_type: "gpt2",
    architectures: ["GPT2LMHeadModel"],
    vocab_size: c.vocab_size,
    n_layer: c.n_layer,
    n_head: c.n_head,
    n_embd: c.n_embd,
    n_positions: c.n_positions,
    n_inner: null,
    activation_function: c.activation_function ?? "gelu_new",
    layer_norm_epsilon: c.layer_norm_epsilon ?? 1e-5,
    embd_pdrop: p,
    attn_pdrop: p,
    resid_pdrop: p,
    tie_word_embeddings: true,
    bias: c.bias ?? true,
  };
}

/** Whether a config asks for biases (the "bias" key nanoGPT names; absent = GPT-2's biases). */
export function gpt2HasBias(config: Readonly<Record<string, unknown>>): boolean {
  const b = config["bias"] ?? true;
  if (typeof b !== "boolean") throw new Error('config: "bias" must be true or false');
  return b;
}

function prob(c: Readonly<Record<string, unknown>>, key: string): number {
  const v = c[key] ?? 0;
  if (typeof v !== "number" || !(v >= 0 && v < 1)) throw new Error(`config: "${key}" must be in [0, 1)`);
  return v;
}

export type { TrainForwardOptions };

export class TrainableGPT2 implements TrainableLM {
  readonly cfg: GPT2Config;
  readonly config: Readonly<Record<string, unknown>>;
  /** Every parameter by Hugging Face name (transformer.wte.weight, transformer.h.0.attn.c_attn.weight, ...). */
  readonly params: Map<string, Tensor>;
  readonly pdrop: { embd: number; attn: number; resid: number };
  readonly bias: boolean;
  /** Where dropout masks come from (seeded; part of a checkpoint's RNG state). */
  rng: Rng;

  constructor(config: Readonly<Record<string, unknown>>, params: ReadonlyMap<string, Tensor>, seed = 0) {
    this.config = config;
    this.cfg = gpt2ConfigFromHF(config);
    this.pdrop = {
      embd: prob(config, "embd_pdrop"),
      attn: prob(config, "attn_pdrop"),
      resid: prob(config, "resid_pdrop"),
    };
    this.bias = gpt2HasBias(config);
    this.rng = new Rng(seed);
    this.params = ownParams("TrainableGPT2", this.paramShapes(), params, (t, shape) =>
      Tensor.fromArray(toF32(t).f32(), shape),
    );
  }

  get vocabSize(): number {
    return this.cfg.vocabSize;
  }

  get contextLength(): number {
    return this.cfg.nPositions;
  }

  /** GPT-2's initialisation: N(0, 0.02) weights, residual projections N(0, 0.02/√(2·n_layer)), zero biases, unit norms. */
  static init(config: Readonly<Record<string, unknown>>, seed: number): TrainableGPT2 {
    const cfg = gpt2ConfigFromHF(config);
    const rng = new Rng(seed);
    const params = new Map<string, Tensor>();
    const shapes = TrainableGPT2.shapesOf(cfg, gpt2HasBias(config));
    for (const [name, shape] of shapes) {
      const n = shape.reduce((a, b) => a * b, 1);
      let v: Float32Array;
      if (/\.(ln_\d|ln_f)\.weight$/.test(name)) v = new Float32Array(n).fill(1);
      else if (name.endsWith(".bias")) v = new Float32Array(n);
      else v = normal(rng, n, name.endsWith("c_proj.weight") ? 0.02 / Math.sqrt(2 * cfg.nLayer) : 0.02);
      params.set(name, Tensor.fromArray(v, shape));
    }
    return new TrainableGPT2(config, params, seed);
  }

  private static shapesOf(c: GPT2Config, bias: boolean): [string, number[]][] {
    const D = c.nEmbd;
    const out: [string, number[]][] = [
      ["transformer.wte.weight", [c.vocabSize, D]],
      ["transformer.wpe.weight", [c.nPositions, D]],
    ];
    for (let l = 0; l < c.nLayer; l++) {
      const h = `transformer.h.${l}`;
      out.push(
        [`${h}.ln_1.weight`, [D]],
        [`${h}.ln_1.bias`, [D]],
        [`${h}.attn.c_attn.weight`, [3 * D, D]],
        [`${h}.attn.c_attn.bias`, [3 * D]],
        [`${h}.attn.c_proj.weight`, [D, D]],
        [`${h}.attn.c_proj.bias`, [D]],
        [`${h}.ln_2.weight`, [D]],
        [`${h}.ln_2.bias`, [D]],
        [`${h}.mlp.c_fc.weight`, [c.nInner, D]],
        [`${h}.mlp.c_fc.bias`, [c.nInner]],
        [`${h}.mlp.c_proj.weight`, [D, c.nInner]],
        [`${h}.mlp.c_proj.bias`, [D]],
      );
    }
    out.push(["transformer.ln_f.weight", [D]], ["transformer.ln_f.bias", [D]]);
    return bias ? out : out.filter(([name]) => !name.endsWith(".bias"));
  }

  private paramShapes(): [string, number[]][] {
    return TrainableGPT2.shapesOf(this.cfg, this.bias);
  }

  /** Parameters in a fixed order (the optimizer's and a checkpoint's). */
  parameters(): Tensor[] {
    return [...this.params.values()];
  }

  private p(name: string): Tensor {
    return this.params.get(name)!;
  }

  /** A bias, or null in a model without biases. */
  private b(name: string): Tensor | null {
    return this.bias ? this.params.get(name)! : null;
  }

  /** Logits [B, T, V] for token ids [B·T] (row-major batch of B sequences of T tokens). */
  forward(ids: ArrayLike<number>, B: number, T: number, opts: TrainForwardOptions = {}): Tensor {
    const { vocabSize: V, nEmbd: D, nHead: H, nPositions, layerNormEps: eps } = this.cfg;
    checkBatch(ids, B, T, V, nPositions);
    const training = opts.training ?? false;
    const random = () => this.rng.next();
    const drop = (x: Tensor, p: number) => dropout(x, p, training, random);
    const hd = D / H;
    const pos = Array.from({ length: B * T }, (_, i) => i % T);
    const tok = ops.embedding(this.p("transformer.wte.weight"), Int32Array.from(ids)); // (B·T, D); a copy for backward
    let x = drop(ops.add(tok, ops.embedding(this.p("transformer.wpe.weight"), pos)), this.pdrop.embd);
    for (let l = 0; l < this.cfg.nLayer; l++) {
      const n = (s: string) => this.p(`transformer.h.${l}.${s}`);
      const nb = (s: string) => this.b(`transformer.h.${l}.${s}`);
      const h = ops.layerNorm(x, n("ln_1.weight"), nb("ln_1.bias"), eps);
      // q, k, v each from its third of c_attn's rows (a small copy of weights, rather than slicing the [B·T, 3D]
      // product, whose slices would be copied and whose gradients zero-padded to its full size)
      const wqkv = n("attn.c_attn.weight");
      const bqkv = nb("attn.c_attn.bias");
      const [q, k, v] = [0, 1, 2].map((i) =>
        reshape(dense(h, narrow(wqkv, 0, i * D, D), bqkv ? narrow(bqkv, 0, i * D, D) : null), [B, T, H, hd]),
      ); // (B, T, nh, hs)
      const attnDrop = this.pdrop.attn > 0 && training ? { p: this.pdrop.attn, random } : undefined;
      const y = reshape(causalSelfAttention(q!, k!, v!, { dropout: attnDrop }), [B * T, D]);
      x = ops.add(x, drop(dense(y, n("attn.c_proj.weight"), nb("attn.c_proj.bias")), this.pdrop.resid));
      const h2 = ops.layerNorm(x, n("ln_2.weight"), nb("ln_2.bias"), eps);
      const f = dense(h2, n("mlp.c_fc.weight"), nb("mlp.c_fc.bias"));
      const a = this.cfg.activation === "gelu" ? ops.gelu(f) : ops.geluTanh(f);
      x = ops.add(x, drop(dense(a, n("mlp.c_proj.weight"), nb("mlp.c_proj.bias")), this.pdrop.resid));
    }
    x = ops.layerNorm(x, this.p("transformer.ln_f.weight"), this.b("transformer.ln_f.bias"), eps);
    return reshape(dense(x, this.p("transformer.wte.weight")), [B, T, V]); // (B, T, V)
  }
}
