// Row permutations between Meta's interleaved rotary layout (pairs (2i, 2i+1) per head) and Hugging Face's
// rotate-half layout (pairs (i, i + hd/2)), as in transformers' convert_llama_weights_to_hf `permute`.

import { byteSize } from "../tensor/dtype.js";
import { getAllocator, type Allocator } from "../tensor/storage.js";
import { Tensor } from "../tensor/tensor.js";

/** Interleaved (Meta, GGUF, llama2.c) q/k rows → rotate-half (Hugging Face) rows. `w` is (nHeads*hd, ...). */
export function interleavedToHalf(w: Tensor, nHeads: number, allocator: Allocator = getAllocator()): Tensor {
  return permuteHeadRows(w, nHeads, true, allocator);
}

/**
 * interleavedToHalf inside w's own bytes (no second copy: a loaded weight keeps its place, e.g. in wasm memory).
 * Only for a contiguous tensor that owns its storage: every view of those bytes sees the new order. Returns w.
 */
export function interleavedToHalfInPlace(w: Tensor, nHeads: number): Tensor {
  const { hd, rowBytes } = headRows(w, nHeads);
  if (!w.isContiguous()) throw new Error("rope layout: in-place permutation needs a contiguous tensor");
  const bytes = w.bytes();
  const half = hd / 2;
  // Rotate-half row q (within a head) takes interleaved row from(q): q = p*half + r ← 2r + p.
  const from = (q: number): number => (q < half ? 2 * q : 2 * (q - half) + 1);
  const tmp = new Uint8Array(rowBytes);
  const done = new Uint8Array(hd);
  for (let h = 0; h < nHeads; h++) {
    const base = h * hd;
    done.fill(0);
    for (let start = 0; start < hd; start++) {
      if (done[start] || from(start) === start) continue;
      // Follow the cycle start ← from(start) ← from(from(start)) ..., holding the first row aside.
      const row = (q: number): Uint8Array => bytes.subarray((base + q) * rowBytes, (base + q + 1) * rowBytes);
      tmp.set(row(start));
      let q = start;
      for (;;) {
        done[q] = 1;
        const f = from(q);
        if (f === start) {
          row(q).set(tmp);
          break;
        }
        row(q).set(row(f));
        q = f;
      }
    }
  }
  return w;
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
  const { hd, rowBytes, total } = headRows(w, nHeads);
  const half = hd / 2;
  const src = w.contiguous().bytes();
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

/** Head size and row bytes of a (nHeads*hd, ...) tensor, checked. */
function headRows(w: Tensor, nHeads: number): { hd: number; rowBytes: number; total: number } {
  const rows = w.shape[0];
  if (rows === undefined) throw new Error("rope layout: needs a tensor with at least one dimension");
  if (!Number.isSafeInteger(nHeads) || nHeads <= 0 || rows % nHeads !== 0 || (rows / nHeads) % 2 !== 0) {
    throw new Error(`rope layout: ${rows} rows do not split into ${nHeads} heads of even size`);
  }
  const total = byteSize(w.dtype, w.shape);
  return { hd: rows / nHeads, rowBytes: rows === 0 ? 0 : total / rows, total };
}
