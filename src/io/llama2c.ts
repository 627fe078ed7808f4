// Reader for llama2.c v0 checkpoints (karpathy/llama2.c run.c `memory_map_weights`: a 7 x int32 header,
// then float32 weights), emitted under Hugging Face Llama names with q/k rows in the rotate-half layout.

import { getAllocator, heapAllocator, type Allocator } from "../tensor/storage.js";
import { Tensor } from "../tensor/tensor.js";
import { readAt, withOpenFile } from "./fileio.js";
import { interleavedToHalf } from "./rope-layout.js";

export interface Llama2cConfig {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  /** The classifier reuses the token embedding (a positive vocab_size in the header). */
  sharedClassifier: boolean;
}

export interface Llama2cFile {
  config: Llama2cConfig;
  tensors: Map<string, Tensor>;
}

const HEADER_BYTES = 7 * 4;
/** Upper bounds far above any real model, so that size arithmetic stays exact and hostile headers fail fast. */
const LIMITS = { dim: 1 << 16, hiddenDim: 1 << 20, nLayers: 1 << 10, vocabSize: 1 << 22, seqLen: 1 << 22 };

function fail(msg: string): never {
  throw new Error(`llama2c: ${msg}`);
}

/** Validates the 7 header ints (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len). */
function llama2cConfig(header: Int32Array): Llama2cConfig {
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocab, seqLen] = header as unknown as number[];
  const c: Llama2cConfig = {
    dim: dim!,
    hiddenDim: hiddenDim!,
    nLayers: nLayers!,
    nHeads: nHeads!,
    nKvHeads: nKvHeads!,
    vocabSize: Math.abs(vocab!),
    seqLen: seqLen!,
    sharedClassifier: vocab! > 0,
  };
  for (const k of ["dim", "hiddenDim", "nLayers", "nHeads", "nKvHeads", "vocabSize", "seqLen"] as const) {
    if (!(c[k] > 0)) fail(`header ${k} must be positive, got ${c[k]}`);
  }
  for (const [k, max] of Object.entries(LIMITS) as [keyof typeof LIMITS, number][]) {
    if (c[k] > max) fail(`header ${k} = ${c[k]} is larger than the supported ${max}`);
  }
  if (c.dim % c.nHeads !== 0) fail(`dim ${c.dim} is not divisible by n_heads ${c.nHeads}`);
  if (c.nHeads % c.nKvHeads !== 0) fail(`n_heads ${c.nHeads} is not divisible by n_kv_heads ${c.nKvHeads}`);
  if ((c.dim / c.nHeads) % 2 !== 0) fail(`head size ${c.dim / c.nHeads} must be even for rotary embeddings`);
  return c;
}

export function readLlama2c(path: string, opts: { allocator?: Allocator } = {}): Llama2cFile {
  const allocator = opts.allocator ?? getAllocator();
  return withOpenFile(path, "llama2c", (fd, fileSize) => {
    const head = new Uint8Array(HEADER_BYTES);
    if (readAt(fd, head, 0) !== HEADER_BYTES)
      fail(`file is ${fileSize} bytes, too short for the 28-byte header`);
    const config = llama2cConfig(new Int32Array(head.buffer));
    const { dim, hiddenDim: hidden, nLayers: L, nHeads, nKvHeads, vocabSize: vocab, seqLen } = config;
    const headSize = dim / nHeads;
    const kvDim = nKvHeads * headSize;

    // Byte offsets of each block, in file order (float counts × 4).
    let at = HEADER_BYTES;
    const block = (floats: number): number => {
      const start = at;
      at += floats * 4;
      return start;
    };
    const emb = block(vocab * dim);
    const rmsAtt = block(L * dim);
    const wq = block(L * dim * dim);
    const wk = block(L * kvDim * dim);
    const wv = block(L * kvDim * dim);
    const wo = block(L * dim * dim);
    const rmsFfn = block(L * dim);
    const w1 = block(L * hidden * dim);
    const w2 = block(L * dim * hidden);
    const w3 = block(L * hidden * dim);
    const rmsFinal = block(dim);
    block(seqLen * headSize); // freq_cis_real and freq_cis_imag, (seq_len, head_size/2) each: unused
    const wcls = config.sharedClassifier ? -1 : block(vocab * dim);
    if (fileSize !== at) {
      fail(
        `file is ${fileSize} bytes but the header (dim ${dim}, ${L} layers, vocab ${vocab}, ` +
          `${config.sharedClassifier ? "shared" : "separate"} classifier) implies ${at}`,
      );
    }

    const read = (pos: number, shape: number[], to: Allocator = allocator): Tensor => {
      const len = shape.reduce((a, d) => a * d, 4);
      const bytes = to.alloc(len).subarray(0, len);
      if (readAt(fd, bytes, pos) !== len) fail(`unexpected end of file at byte ${pos}`);
      return Tensor.fromBytes("f32", shape, bytes);
    };
    // q/k rows are permuted into allocator memory from a temporary heap copy.
    const readRope = (pos: number, shape: number[], heads: number): Tensor =>
      interleavedToHalf(read(pos, shape, heapAllocator), heads, allocator);
    const tensors = new Map<string, Tensor>();
    tensors.set("model.embed_tokens.weight", read(emb, [vocab, dim]));
    for (let l = 0; l < L; l++) {
      const p = `model.layers.${l}`;
      tensors.set(`${p}.input_layernorm.weight`, read(rmsAtt + l * dim * 4, [dim]));
      tensors.set(`${p}.self_attn.q_proj.weight`, readRope(wq + l * dim * dim * 4, [dim, dim], nHeads));
      tensors.set(`${p}.self_attn.k_proj.weight`, readRope(wk + l * kvDim * dim * 4, [kvDim, dim], nKvHeads));
      tensors.set(`${p}.self_attn.v_proj.weight`, read(wv + l * kvDim * dim * 4, [kvDim, dim]));
      tensors.set(`${p}.self_attn.o_proj.weight`, read(wo + l * dim * dim * 4, [dim, dim]));
      tensors.set(`${p}.post_attention_layernorm.weight`, read(rmsFfn + l * dim * 4, [dim]));
      tensors.set(`${p}.mlp.gate_proj.weight`, read(w1 + l * hidden * dim * 4, [hidden, dim]));
      tensors.set(`${p}.mlp.up_proj.weight`, read(w3 + l * hidden * dim * 4, [hidden, dim]));
      tensors.set(`${p}.mlp.down_proj.weight`, read(w2 + l * dim * hidden * 4, [dim, hidden]));
    }
    tensors.set("model.norm.weight", read(rmsFinal, [dim]));
    if (!config.sharedClassifier) tensors.set("lm_head.weight", read(wcls, [vocab, dim]));
    return { config, tensors };
  });
}
