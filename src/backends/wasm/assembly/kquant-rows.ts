// Block decoding for the k-quant kernels (kquant.ts) and the M > 1 paths that decode one weight row into rowbuf
// and reuse it for a chunk of x rows: as f32 (exact path) or as int16 with f32 factors per group of 32
// (quantized activations; Q4_K keeps q and factors d·sc, dmin·m; Q6_K folds sc into sc·(q − 32), factor d).
// Block layouts: see kquant.ts and src/tensor/quant.ts.

import { hsum, tabHalf } from "./half";

/**
 * A Q4_K block's 8 scales then 8 mins (6 bits each, ggml get_scale_min_k4) as 16 unsigned bytes, from its 12
 * scale bytes b0..b11: sc0..3 = b0..3 & 63, m0..3 = b4..7 & 63, sc4..7 = (b8..11 & 15) | (b0..3 >> 6) << 4,
 * m4..7 = (b8..11 >> 4) | (b4..7 >> 6) << 4. Byte moves by two swizzles, then masks and 16-bit shifts whose
 * bits crossing into the next byte the masks drop.
 */
@inline
export function q4kScaleBytes(w: usize): v128 {
  return q4kScaleBytesM(w, Q4K_LO, Q4K_HI, Q4K_A, Q4K_B, Q4K_C);
}

/** q4kScaleBytes's swizzles and masks. */
export const Q4K_LO: v128 = i8x16(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11);
export const Q4K_HI: v128 = i8x16(0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7);
export const Q4K_A: v128 = i8x16(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 0, 0, 0, 0);
export const Q4K_B: v128 = i8x16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 15);
export const Q4K_C: v128 = i8x16(0, 0, 0, 0, 48, 48, 48, 48, 0, 0, 0, 0, 48, 48, 48, 48);

/**
 * q4kScaleBytes with its swizzles and masks passed in (Q4K_LO, Q4K_HI, Q4K_A, Q4K_B, Q4K_C): a hot loop loads
 * them from memory, one instruction each, where V8 would materialise each constant vector at its use (up to five).
 */
@inline
export function q4kScaleBytesM(w: usize, sl: v128, sh: v128, ma: v128, mb: v128, mc: v128): v128 {
  const v = v128.load(w, 4); // b0..b11, then four bytes of nibbles (unused)
  let lo = v;
  let hi = v;
  if (ASC_FEATURE_RELAXED_SIMD) {
    // every index is below 16, where the relaxed swizzle is exact (one pshufb, no index fix-up)
    lo = i8x16.relaxed_swizzle(v, sl);
    hi = i8x16.relaxed_swizzle(v, sh);
  } else {
    lo = i8x16.swizzle(v, sl);
    hi = i8x16.swizzle(v, sh);
  }
  const a = v128.and(lo, ma);
  const b = v128.and(i16x8.shr_u(lo, 4), mb);
  const c = v128.and(i16x8.shr_u(hi, 2), mc);
  return v128.or(v128.or(a, b), c);
}

/** Unsigned bytes 4l..4l+3 of v (l = 0..3, a constant) as f32x4. */
@inline
export function u8Quarter(v: v128, l: i32): v128 {
  const h = l < 2 ? i16x8.extend_low_i8x16_u(v) : i16x8.extend_high_i8x16_u(v);
  return f32x4.convert_i32x4_s(l & 1 ? i32x4.extend_high_i16x8_u(h) : i32x4.extend_low_i16x8_u(h));
}

/**
 * A Q4_K block's f16 d (`min` false) or dmin in every lane, through the f16 table: quantized models' scales are
 * often subnormal halves, and converting those by arithmetic (a subnormal f32 pattern times 2^112) costs a
 * microcode assist here (a Q6_K matvec with subnormal d ran 1.8x slower).
 */
@inline
export function q4kScale(w: usize, min: bool): v128 {
  return f32x4.splat(tabHalf(load<u16>(min ? w + 2 : w)));
}

/** [a0+a2, b0+b2, a1+a3, b1+b3]: pairs two vectors of partial sums (of f32 or i32 lanes: `int`). */
@inline
export function pair(a: v128, b: v128, int: bool): v128 {
  const lo = v128.shuffle<i32>(a, b, 0, 4, 1, 5);
  const hi = v128.shuffle<i32>(a, b, 2, 6, 3, 7);
  return int ? i32x4.add(lo, hi) : f32x4.add(lo, hi);
}

/** Lane l (a constant) of v in every lane. */
@inline
export function lane(v: v128, l: i32): v128 {
  if (l == 0) return v128.shuffle<f32>(v, v, 0, 0, 0, 0);
  if (l == 1) return v128.shuffle<f32>(v, v, 1, 1, 1, 1);
  if (l == 2) return v128.shuffle<f32>(v, v, 2, 2, 2, 2);
  return v128.shuffle<f32>(v, v, 3, 3, 3, 3);
}

/**
 * Values q − 32 of group gi (0..7) of a Q6_K block, as 16 signed bytes: its first 16 values (scale sc[2·gi]) or,
 * with `second`, its last 16 (scale sc[2·gi + 1]). Group 4h + g takes the low (g < 2) or high nibbles of ql bytes
 * 64h + 32·(g & 1) + l, and bits 2g, 2g + 1 of qh bytes 128 + 32h + l. Shifts run on 16-bit lanes; the masks drop
 * the bits that cross bytes.
 */
@inline
export function q6kValues(w: usize, gi: i32, second: bool): v128 {
  const h = gi >> 2;
  const g = gi & 3;
  const o: usize = second ? 16 : 0;
  const l = v128.load(w + (<usize>h << 6) + (<usize>(g & 1) << 5) + o);
  const hb = v128.load(w + 128 + (<usize>h << 5) + o);
  const lo = v128.and(i16x8.shr_u(l, (g >> 1) << 2), i8x16.splat(0x0f));
  const hi = v128.and(i16x8.shl(i16x8.shr_u(hb, g << 1), 4), i8x16.splat(0x30));
  return i8x16.sub(v128.or(lo, hi), i8x16.splat(32));
}

/** Sixteen unsigned bytes → f · q − g at out[0..16). */
@inline
function storeU8x16(q: v128, f: v128, g: v128, out: usize): void {
  const lo = i16x8.extend_low_i8x16_u(q);
  const hi = i16x8.extend_high_i8x16_u(q);
  v128.store(out, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(lo)), f), g));
  v128.store(out, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(lo)), f), g), 16);
  v128.store(out, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(hi)), f), g), 32);
  v128.store(out, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(hi)), f), g), 48);
}

/** Sixteen signed bytes times the int16 scale s, times d → out[0..16). */
@inline
function storeI8x16Scaled(q: v128, s: v128, d: v128, out: usize): void {
  const lo = i16x8.mul(i16x8.extend_low_i8x16_s(q), s);
  const hi = i16x8.mul(i16x8.extend_high_i8x16_s(q), s);
  v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), d));
  v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), d), 16);
  v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), d), 32);
  v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), d), 48);
}

/** Sixteen signed bytes times the int16 scale s → out[0..16) as int16. */
@inline
function storeI8x16I16(q: v128, s: v128, out: usize): void {
  v128.store(out, i16x8.mul(i16x8.extend_low_i8x16_s(q), s));
  v128.store(out, i16x8.mul(i16x8.extend_high_i8x16_s(q), s), 16);
}

/** Sixteen unsigned bytes → out[0..16) as int16. */
@inline
function storeU8x16I16(q: v128, out: usize): void {
  v128.store(out, i16x8.extend_low_i8x16_u(q));
  v128.store(out, i16x8.extend_high_i8x16_u(q), 16);
}

/** Q4_K nibbles of 64 values at q → f·q − g at out[0..64) (sub-block 2j with f0, g0; 2j+1 with f1, g1). */
@inline
function expandQ4KPair(q: usize, out: usize, f0: v128, g0: v128, f1: v128, g1: v128): void {
  const q0 = v128.load(q);
  const q1 = v128.load(q, 16);
  const m = i8x16.splat(0x0f);
  storeU8x16(v128.and(q0, m), f0, g0, out);
  storeU8x16(v128.and(q1, m), f0, g0, out + 64);
  storeU8x16(v128.and(i16x8.shr_u(q0, 4), m), f1, g1, out + 128);
  storeU8x16(v128.and(i16x8.shr_u(q1, 4), m), f1, g1, out + 192);
}

/** One Q4_K or Q6_K row of K values → K f32 weights at `out`. */
export function expandRowF32(q4k: bool, w: usize, K: i32, out: usize): void {
  const nb = K >> 8;
  if (q4k) {
    for (let b = 0; b < nb; b++, w += 144, out += 1024) {
      const sm = q4kScaleBytes(w);
      const d = q4kScale(w, false);
      const dmin = q4kScale(w, true);
      const fa = f32x4.mul(u8Quarter(sm, 0), d);
      const fb = f32x4.mul(u8Quarter(sm, 1), d);
      const ga = f32x4.mul(u8Quarter(sm, 2), dmin);
      const gb = f32x4.mul(u8Quarter(sm, 3), dmin);
      expandQ4KPair(w + 16, out, lane(fa, 0), lane(ga, 0), lane(fa, 1), lane(ga, 1));
      expandQ4KPair(w + 48, out + 256, lane(fa, 2), lane(ga, 2), lane(fa, 3), lane(ga, 3));
      expandQ4KPair(w + 80, out + 512, lane(fb, 0), lane(gb, 0), lane(fb, 1), lane(gb, 1));
      expandQ4KPair(w + 112, out + 768, lane(fb, 2), lane(gb, 2), lane(fb, 3), lane(gb, 3));
    }
    return;
  }
  for (let b = 0; b < nb; b++, w += 210) {
    const d = f32x4.splat(tabHalf(load<u16>(w, 208)));
    for (let h = 0; h < 2; h++) {
      const sc = w + 192 + (<usize>h << 3);
      for (let g = 0; g < 4; g++, out += 128) {
        const sa = i16x8.splat(<i16>load<i8>(sc + (<usize>g << 1)));
        const sb = i16x8.splat(<i16>load<i8>(sc + (<usize>g << 1), 1));
        storeI8x16Scaled(q6kValues(w, (h << 2) + g, false), sa, d, out);
        storeI8x16Scaled(q6kValues(w, (h << 2) + g, true), sb, d, out + 64);
      }
    }
  }
}

/**
 * One Q4_K or Q6_K row → `out`: K int16 weights, then K / 32 f32 factors F, then K / 32 f32 offsets G, so that
 * group g's weights are F[g]·v − G[g] (Q4_K: v = q, F = d·sc, G = dmin·m; Q6_K: v = sc·(q − 32), F = d, G = 0).
 */
export function expandRowI16(q4k: bool, w: usize, K: i32, out: usize): void {
  const nb = K >> 8;
  let fp = out + (<usize>K << 1);
  let gp = fp + (<usize>(K >> 5) << 2);
  if (q4k) {
    for (let b = 0; b < nb; b++, w += 144, fp += 32, gp += 32) {
      const sm = q4kScaleBytes(w);
      const d = q4kScale(w, false);
      const dmin = q4kScale(w, true);
      v128.store(fp, f32x4.mul(u8Quarter(sm, 0), d));
      v128.store(fp, f32x4.mul(u8Quarter(sm, 1), d), 16);
      v128.store(gp, f32x4.mul(u8Quarter(sm, 2), dmin));
      v128.store(gp, f32x4.mul(u8Quarter(sm, 3), dmin), 16);
      const m = i8x16.splat(0x0f);
      for (let j = 0; j < 4; j++, out += 128) {
        const q0 = v128.load(w + 16 + (<usize>j << 5));
        const q1 = v128.load(w + 16 + (<usize>j << 5), 16);
        storeU8x16I16(v128.and(q0, m), out);
        storeU8x16I16(v128.and(q1, m), out + 32);
        storeU8x16I16(v128.and(i16x8.shr_u(q0, 4), m), out + 64);
        storeU8x16I16(v128.and(i16x8.shr_u(q1, 4), m), out + 96);
      }
    }
    return;
  }
  for (let b = 0; b < nb; b++, w += 210, fp += 32, gp += 32) {
    const d = f32x4.splat(tabHalf(load<u16>(w, 208)));
    v128.store(fp, d);
    v128.store(fp, d, 16);
    v128.store(gp, f32x4.splat(0));
    v128.store(gp, f32x4.splat(0), 16);
    for (let h = 0; h < 2; h++) {
      const sc = w + 192 + (<usize>h << 3);
      for (let g = 0; g < 4; g++, out += 64) {
        const sa = i16x8.splat(<i16>load<i8>(sc + (<usize>g << 1)));
        const sb = i16x8.splat(<i16>load<i8>(sc + (<usize>g << 1), 1));
        storeI8x16I16(q6kValues(w, (h << 2) + g, false), sa, out);
        storeI8x16I16(q6kValues(w, (h << 2) + g, true), sb, out + 32);
      }
    }
  }
}

/** Integer dot of 32 int16 weights at w with 32 int16 activations at x, as an i32x4 of partial sums. */
@inline
function idot32i(w: usize, x: usize): v128 {
  const p0 = i32x4.dot_i16x8_s(v128.load(w), v128.load(x));
  const p1 = i32x4.dot_i16x8_s(v128.load(w, 16), v128.load(x, 16));
  const p2 = i32x4.dot_i16x8_s(v128.load(w, 32), v128.load(x, 32));
  const p3 = i32x4.dot_i16x8_s(v128.load(w, 48), v128.load(x, 48));
  return i32x4.add(i32x4.add(p0, p1), i32x4.add(p2, p3));
}

/** Σ a[i]·b[i] over n floats (n a multiple of 8). */
function fdot(a: usize, b: usize, n: i32): f32 {
  let s0 = f32x4.splat(0);
  let s1 = f32x4.splat(0);
  for (let i = 0; i < n; i += 8) {
    const o = <usize>i << 2;
    s0 = f32x4.add(s0, f32x4.mul(v128.load(a + o), v128.load(b + o)));
    s1 = f32x4.add(s1, f32x4.mul(v128.load(a + o, 16), v128.load(b + o, 16)));
  }
  return hsum(f32x4.add(s0, s1));
}

/** Group g of a decoded row (r) · one quantized activation row (xq, scales at ds) added to acc. */
@inline
function groupQ(acc: v128, r: usize, fp: usize, xq: usize, ds: usize, g: i32): v128 {
  const go = <usize>g << 6;
  const f = load<f32>(fp + (<usize>g << 2)) * load<f32>(ds + (<usize>g << 2));
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(idot32i(r + go, xq + go)), f32x4.splat(f)));
}

/** A decoded row (expandRowI16) · one row of quantizeRowsK output, summed exactly as each row of the 2-row form. */
export function dotDecodedQ(r: usize, xq: usize, K: i32): f32 {
  const ng = K >> 5;
  const fp = r + (<usize>K << 1);
  const ds = xq + (<usize>K << 1);
  let acc = f32x4.splat(0);
  for (let g = 0; g < ng; g++) acc = groupQ(acc, r, fp, xq, ds, g);
  return hsum(acc) - fdot(fp + (<usize>ng << 2), ds + (<usize>ng << 2), ng);
}

/**
 * A decoded row · two quantized activation rows (stride xs) → out[0], out[N] (+ b). Two, not four: V8 issues every
 * load of a loop body up front, and four rows' loads would not fit the registers.
 */
export function dotDecodedQ2Store(r: usize, xq: usize, xs: usize, K: i32, b: f32, out: usize, N: i32): void {
  const ng = K >> 5;
  const fp = r + (<usize>K << 1);
  const ds = <usize>K << 1;
  const x1 = xq + xs;
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  for (let g = 0; g < ng; g++) {
    a0 = groupQ(a0, r, fp, xq, xq + ds, g);
    a1 = groupQ(a1, r, fp, x1, x1 + ds, g);
  }
  const gp = fp + (<usize>ng << 2);
  const so = ds + (<usize>ng << 2);
  store<f32>(out, hsum(a0) - fdot(gp, xq + so, ng) + b);
  store<f32>(out + (<usize>N << 2), hsum(a1) - fdot(gp, x1 + so, ng) + b);
}

/** Four x rows (stride K floats) · one f32 row (K a multiple of 4) → out[0], out[N], out[2N], out[3N] (+ b). */
export function dot4Store(x: usize, K: i32, w: usize, b: f32, out: usize, N: i32): void {
  const xs = <usize>K << 2;
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  for (let i = 0; i < K; i += 4) {
    const o = <usize>i << 2;
    const wv = v128.load(w + o);
    a0 = f32x4.add(a0, f32x4.mul(v128.load(x + o), wv));
    a1 = f32x4.add(a1, f32x4.mul(v128.load(x + xs + o), wv));
    a2 = f32x4.add(a2, f32x4.mul(v128.load(x + 2 * xs + o), wv));
    a3 = f32x4.add(a3, f32x4.mul(v128.load(x + 3 * xs + o), wv));
  }
  const os = <usize>N << 2;
  store<f32>(out, hsum(a0) + b);
  store<f32>(out + os, hsum(a1) + b);
  store<f32>(out + 2 * os, hsum(a2) + b);
  store<f32>(out + 3 * os, hsum(a3) + b);
}

/** One x row · one f32 row + b, summed in exactly the order of one lane of dot4Store. */
export function dot1(x: usize, K: i32, w: usize, b: f32): f32 {
  let a0 = f32x4.splat(0);
  for (let i = 0; i < K; i += 4) {
    const o = <usize>i << 2;
    a0 = f32x4.add(a0, f32x4.mul(v128.load(x + o), v128.load(w + o)));
  }
  return hsum(a0) + b;
}
