// The f32 side of the Q8_0 and Q4_0 decode products (M = 1), shared by both kernel modules so that they give the
// same bits. Blocks are taken two at a time, k and k + 1, with their exact integer dots in lanes [Sa_k, Sa_k+1,
// Sb_k, Sb_k+1] for two weight rows a and b (the baseline module passes one row as both). Each lane is converted
// once, scaled by d_w · d_x of its block and added to a lane of its own; a row's result is its two lanes' sum.
// Blocks sum in the order k = 0, 2, 4, .. (lane 0) and 1, 3, 5, .. (lane 1), whatever the module or thread.

import { f16Table } from "./half";

@inline
function scaleAt(w: usize): usize {
  return f16Table() + (<usize>load<u16>(w) << 2);
}

/**
 * [d(a), d(a + bb), d(b), d(b + bb)] · [d_x(k), d_x(k + 1), d_x(k), d_x(k + 1)]: the f16 scales of blocks k, k + 1
 * (bb bytes a block, 34 for Q8_0, 18 for Q4_0) of rows a and b; dx = [d_x(k), d_x(k + 1)] twice.
 */
@inline
export function pairScales(a: usize, b: usize, bb: usize, dx: v128): v128 {
  let s = v128.load32_zero(scaleAt(a));
  s = v128.load32_lane(scaleAt(a + bb), s, 1);
  s = v128.load32_lane(scaleAt(b), s, 2);
  s = v128.load32_lane(scaleAt(b + bb), s, 3);
  return f32x4.mul(s, dx);
}

/** The last block of an odd count: [d(a), 0, d(b), 0] · d_x. */
@inline
export function tailScales(a: usize, b: usize, dx: usize): v128 {
  const s = v128.load32_lane(scaleAt(b), v128.load32_zero(scaleAt(a)), 2);
  return f32x4.mul(s, f32x4.splat(load<f32>(dx)));
}

/** Blocks k, k + 1 of one row, four partial integer sums each → two partial sums of block k, then two of k + 1. */
@inline
export function twoBlocks32(s0: v128, s1: v128): v128 {
  return i32x4.add(i32x4.shuffle(s0, s1, 0, 1, 4, 5), i32x4.shuffle(s0, s1, 2, 3, 6, 7));
}

/** Rows a and b, blocks k and k + 1, as two partial sums each (twoBlocks32) → [Sa_k, Sa_k+1, Sb_k, Sb_k+1]. */
@inline
export function fourSums(pa: v128, pb: v128): v128 {
  return i32x4.add(i32x4.shuffle(pa, pb, 0, 2, 4, 6), i32x4.shuffle(pa, pb, 1, 3, 5, 7));
}

/** [8·Σq(k), 0, 8·Σq(k), 0] for the last Q4_0 block of an odd count. */
@inline
export function tailSums(ss: usize): v128 {
  const z = v128.load32_zero(ss);
  return i32x4.shuffle(z, z, 0, 1, 0, 1);
}

/** acc + f32(s) · scales, lane by lane. */
@inline
export function pairAcc(acc: v128, s: v128, scales: v128): v128 {
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(s), scales));
}
