// Row permutations between Meta's interleaved rotary layout (pairs (2i, 2i+1) per head) and Hugging Face's
// rotate-half layout (pairs (i, i + hd/2)), as in transformers' convert_llama_weights_to_hf `permute`.

import { byteSize } from "../tensor/dtype.js";
import { getAllocator, type Allocator } from "../tensor/storage.js";
import { Tensor } from "../tensor/tensor.js";

/** Interleaved (Meta, GGUF, llama2.c) q/k rows → rotate-half (Hugging Face) rows. `w` is (nHeads*hd, ...). */
export function interleavedToHalf(w: Tensor, nHeads: number, allocator: Allocator = getAllocator()): Tensor {
  return permuteHeadRows(w, nHeads, true, allocator);
}

/** Rotate-half (Hugging Face) q/k rows → interleaved (Meta, GGUF, llama2.c) rows. */
export function halfToInterleaved(w: Tensor, nHeads: number, allocator: Allocator = getAllocator()): Tensor {
  return permuteHeadRows(w, nHeads, false, allocator);
}

/**
 * Moves whole rows of bytes, so any dtype works (quantized rows included). With head h, pair member
 * p ∈ {0, 1} and pair r < hd/2: rotate-half row h*hd + p*hd/2 + r  ↔  interleaved row h*hd + 2r + p.
 */
function permuteHeadRows(w: Tensor, nHeads: number, toHalf: boolean, allocator: Allocator): Tensor {
  const rows = w.shape[0];
  if (rows === undefined) throw new Error("rope layout: needs a tensor with at least one dimension");
  if (!Number.isSafeInteger(nHeads) || nHeads <= 0 || rows % nHeads !== 0 || (rows / nHeads) % 2 !== 0) {
    throw new Error(`rope layout: ${rows} rows do not split into ${nHeads} heads of even size`);
  }
  const hd = rows / nHeads;
  const half = hd / 2;
  const src = w.contiguous().bytes();
  const total = byteSize(w.dtype, w.shape);
  const rowBytes = rows === 0 ? 0 : total / rows;
  const out = allocator.alloc(total).subarray(0, total);
  for (let h = 0; h < nHeads; h++) {
    for (let r = 0; r < half; r++) {
      for (let p = 0; p < 2; p++) {
        const halfRow = h * hd + p * half + r;
        const interRow = h * hd + 2 * r + p;
        const [to, from] = toHalf ? [halfRow, interRow] : [interRow, halfRow];
        out.set(src.subarray(from * rowBytes, (from + 1) * rowBytes), to * rowBytes);
      }
    }
  }
  return Tensor.fromBytes(w.dtype, w.shape, out);
}
