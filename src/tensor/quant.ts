// Scalar and block formats of GGML: IEEE half, bfloat16, and the Q8_0/Q4_0/Q4_1/Q4_K/Q6_K blocks
// (layouts and reference quantizers as in ggml's ggml-quants.c), as pure row-at-a-time functions.

import { DTYPES, type DType } from "./dtype.js";

// Scratch for reinterpreting f32 bits; module-level so no call allocates.
const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);
const u8Scratch = new Uint8Array(f32Scratch.buffer);

/** IEEE 754 binary16 bits → number (exact). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/**
 * number → IEEE 754 binary16 bits, round-to-nearest-even (as F16C / ggml). The value is first rounded
 * to f32, which is what ggml stores before converting. Overflow gives ±inf; NaN stays a quiet NaN.
 */
export function floatToHalf(f: number): number {
  f32Scratch[0] = f;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // rebias 127 → 15
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e; // result counts units of 2^-24
    let hm = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && hm & 1)) hm++;
    return sign | hm;
  }
  let r = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) r++; // a carry may ripple into the exponent (→ inf)
  return r;
}

/** bfloat16 bits → number (exact). */
export function bf16ToFloat(h: number): number {
  u32Scratch[0] = (h & 0xffff) << 16;
  return f32Scratch[0]!;
}

/** number → bfloat16 bits, round-to-nearest-even (ggml's fp32_to_bf16, without flushing subnormals). */
export function floatToBf16(f: number): number {
  f32Scratch[0] = f;
  const u = u32Scratch[0]!;
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;
  return Math.floor((u + 0x7fff + ((u >>> 16) & 1)) / 65536) & 0xffff;
}

/** Half bits → f32 value for all 65536 patterns; kernels index it with the two stored bytes. */
export const HALF_TO_FLOAT: Float32Array = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = halfToFloat(h);
  return t;
})();
const LUT = HALF_TO_FLOAT;

function checkRow(dtype: DType, src: Uint8Array, off: number, n: number): number {
  const info = DTYPES[dtype];
  if (!Number.isInteger(n) || n < 0 || n % info.blockSize !== 0) {
    throw new Error(`${dtype}: row length ${n} is not a multiple of the block size ${info.blockSize}`);
  }
  const nb = n / info.blockSize;
  if (off < 0 || off + nb * info.blockBytes > src.length) {
    throw new RangeError(`${dtype}: row of ${n} at byte ${off} runs past the ${src.length}-byte buffer`);
  }
  return nb;
}

// f32 rows stored as bytes: a cached Float32Array over the whole buffer when 4-byte aligned.
let viewBuf: ArrayBufferLike | null = null;
let viewF32: Float32Array<ArrayBufferLike> = new Float32Array(0);
function f32View(src: Uint8Array, byteOff: number, n: number): Float32Array<ArrayBufferLike> | null {
  const start = src.byteOffset + byteOff;
  if (start % 4 !== 0) return null;
  if (src.buffer !== viewBuf || viewF32.length < start / 4 + n) {
    viewBuf = src.buffer;
    viewF32 = new Float32Array(src.buffer, 0, Math.floor(src.buffer.byteLength / 4));
  }
  return viewF32;
}
let viewBuf16: ArrayBufferLike | null = null;
let viewU16: Uint16Array<ArrayBufferLike> = new Uint16Array(0);
function u16View(src: Uint8Array, byteOff: number, n: number): Uint16Array<ArrayBufferLike> | null {
  const start = src.byteOffset + byteOff;
  if (start % 2 !== 0) return null;
  if (src.buffer !== viewBuf16 || viewU16.length < start / 2 + n) {
    viewBuf16 = src.buffer;
    viewU16 = new Uint16Array(src.buffer, 0, Math.floor(src.buffer.byteLength / 2));
  }
  return viewU16;
}
function readF32(src: Uint8Array, o: number): number {
  u8Scratch[0] = src[o]!;
  u8Scratch[1] = src[o + 1]!;
  u8Scratch[2] = src[o + 2]!;
  u8Scratch[3] = src[o + 3]!;
  return f32Scratch[0]!;
}

// Q4_K: 8 sub-block scales and mins, 6 bits each, packed into 12 bytes at s (ggml get_scale_min_k4).

/** The 6-bit scale of Q4_K sub-block j (0..7) from the 12 scale bytes at src[s]. */
export function q4kScale6(src: Uint8Array, s: number, j: number): number {
  return j < 4 ? src[s + j]! & 63 : (src[s + j + 4]! & 0xf) | ((src[s + j - 4]! >> 6) << 4);
}

/** The 6-bit min of Q4_K sub-block j (0..7) from the 12 scale bytes at src[s]. */
export function q4kMin6(src: Uint8Array, s: number, j: number): number {
  return j < 4 ? src[s + j + 4]! & 63 : (src[s + j + 4]! >> 4) | ((src[s + j]! >> 6) << 4);
}

const kScales = new Float64Array(8);
const kMins = new Float64Array(8);
function unpackQ4KScales(src: Uint8Array, s: number, d: number, dmin: number): void {
  for (let j = 0; j < 8; j++) {
    kScales[j] = d * q4kScale6(src, s, j);
    kMins[j] = dmin * q4kMin6(src, s, j);
  }
}

/**
 * Expands `n` elements of one stored row (starting at byte `srcByteOffset` of `src`) into `out`.
 * `n` must be a whole number of blocks. Works for every DType (i32 is converted to float).
 */
export function dequantizeRow(
  dtype: DType,
  src: Uint8Array,
  srcByteOffset: number,
  out: Float32Array,
  outOffset: number,
  n: number,
): void {
  const nb = checkRow(dtype, src, srcByteOffset, n);
  let o = srcByteOffset;
  let y = outOffset;
  switch (dtype) {
    case "f32": {
      const v = f32View(src, o, n);
      if (v) out.set(v.subarray((src.byteOffset + o) / 4, (src.byteOffset + o) / 4 + n), y);
      else for (let i = 0; i < n; i++) out[y + i] = readF32(src, o + 4 * i);
      return;
    }
    case "i32":
      for (let i = 0; i < n; i++, o += 4) {
        out[y + i] = src[o]! | (src[o + 1]! << 8) | (src[o + 2]! << 16) | (src[o + 3]! << 24);
      }
      return;
    case "f16":
      for (let i = 0; i < n; i++, o += 2) out[y + i] = LUT[src[o]! | (src[o + 1]! << 8)]!;
      return;
    case "bf16":
      for (let i = 0; i < n; i++, o += 2) out[y + i] = bf16ToFloat(src[o]! | (src[o + 1]! << 8));
      return;
    case "q8_0":
      for (let b = 0; b < nb; b++, o += 34, y += 32) {
        const d = LUT[src[o]! | (src[o + 1]! << 8)]!;
        for (let i = 0; i < 32; i++) out[y + i] = d * ((src[o + 2 + i]! << 24) >> 24);
      }
      return;
    case "q4_0":
      for (let b = 0; b < nb; b++, o += 18, y += 32) {
        const d = LUT[src[o]! | (src[o + 1]! << 8)]!;
        for (let i = 0; i < 16; i++) {
          const q = src[o + 2 + i]!;
          out[y + i] = d * ((q & 0xf) - 8);
          out[y + 16 + i] = d * ((q >> 4) - 8);
        }
      }
      return;
    case "q4_1":
      for (let b = 0; b < nb; b++, o += 20, y += 32) {
        const d = LUT[src[o]! | (src[o + 1]! << 8)]!;
        const m = LUT[src[o + 2]! | (src[o + 3]! << 8)]!;
        for (let i = 0; i < 16; i++) {
          const q = src[o + 4 + i]!;
          out[y + i] = d * (q & 0xf) + m;
          out[y + 16 + i] = d * (q >> 4) + m;
        }
      }
      return;
    case "q4_k":
      for (let b = 0; b < nb; b++, o += 144, y += 256) {
        unpackQ4KScales(
          src,
          o + 4,
          LUT[src[o]! | (src[o + 1]! << 8)]!,
          LUT[src[o + 2]! | (src[o + 3]! << 8)]!,
        );
        // four 64-element chunks; each uses 32 bytes: low nibbles → sub-block 2j, high → 2j+1
        for (let j = 0; j < 4; j++) {
          const q = o + 16 + 32 * j;
          const d1 = kScales[2 * j]!,
            m1 = kMins[2 * j]!;
          const d2 = kScales[2 * j + 1]!,
            m2 = kMins[2 * j + 1]!;
          const yj = y + 64 * j;
          for (let l = 0; l < 32; l++) {
            out[yj + l] = d1 * (src[q + l]! & 0xf) - m1;
            out[yj + 32 + l] = d2 * (src[q + l]! >> 4) - m2;
          }
        }
      }
      return;
    case "q6_k":
      for (let b = 0; b < nb; b++, o += 210, y += 256) {
        const d = LUT[src[o + 208]! | (src[o + 209]! << 8)]!;
        // two 128-element halves; each uses 64 bytes of ql, 32 of qh and 8 scales
        for (let h = 0; h < 2; h++) {
          const ql = o + 64 * h;
          const qh = o + 128 + 32 * h;
          const sc = o + 192 + 8 * h;
          const yh = y + 128 * h;
          for (let l = 0; l < 32; l++) {
            const is = l >> 4;
            const hb = src[qh + l]!;
            const lo = src[ql + l]!;
            const hi = src[ql + l + 32]!;
            out[yh + l] = d * ((src[sc + is]! << 24) >> 24) * (((lo & 0xf) | ((hb & 3) << 4)) - 32);
            out[yh + l + 32] =
              d * ((src[sc + is + 2]! << 24) >> 24) * (((hi & 0xf) | (((hb >> 2) & 3) << 4)) - 32);
            out[yh + l + 64] =
              d * ((src[sc + is + 4]! << 24) >> 24) * (((lo >> 4) | (((hb >> 4) & 3) << 4)) - 32);
            out[yh + l + 96] =
              d * ((src[sc + is + 6]! << 24) >> 24) * (((hi >> 4) | (((hb >> 6) & 3) << 4)) - 32);
          }
        }
      }
      return;
  }
}

/**
 * Dot product of `n` elements of one stored row with `x[xOffset .. xOffset+n)`, computed on the
 * blocks directly (the inner loop of the reference linear kernel). Allocates nothing.
 */
export function dotRow(
  dtype: DType,
  src: Uint8Array,
  srcByteOffset: number,
  x: Float32Array,
  xOffset: number,
  n: number,
): number {
  const nb = checkRow(dtype, src, srcByteOffset, n);
  if (xOffset < 0 || xOffset + n > x.length) throw new RangeError(`dotRow: x too short for ${n} elements`);
  let o = srcByteOffset;
  let xi = xOffset;
  let acc = 0;
  switch (dtype) {
    case "f32": {
      const v = f32View(src, o, n);
      if (v) {
        const w = (src.byteOffset + o) / 4;
        let a1 = 0;
        let a2 = 0;
        let a3 = 0;
        let i = 0;
        for (; i + 4 <= n; i += 4) {
          acc += v[w + i]! * x[xi + i]!;
          a1 += v[w + i + 1]! * x[xi + i + 1]!;
          a2 += v[w + i + 2]! * x[xi + i + 2]!;
          a3 += v[w + i + 3]! * x[xi + i + 3]!;
        }
        for (; i < n; i++) acc += v[w + i]! * x[xi + i]!;
        acc += a1 + a2 + a3;
      } else for (let i = 0; i < n; i++) acc += readF32(src, o + 4 * i) * x[xi + i]!;
      return acc;
    }
    case "i32":
      for (let i = 0; i < n; i++, o += 4) {
        acc += (src[o]! | (src[o + 1]! << 8) | (src[o + 2]! << 16) | (src[o + 3]! << 24)) * x[xi + i]!;
      }
      return acc;
    case "f16": {
      const h = u16View(src, o, n);
      if (h) {
        const w = (src.byteOffset + o) / 2;
        let a1 = 0;
        let i = 0;
        for (; i + 2 <= n; i += 2) {
          acc += LUT[h[w + i]!]! * x[xi + i]!;
          a1 += LUT[h[w + i + 1]!]! * x[xi + i + 1]!;
        }
        if (i < n) acc += LUT[h[w + i]!]! * x[xi + i]!;
        return acc + a1;
      }
      let a1 = 0;
      let i = 0;
      for (; i + 2 <= n; i += 2, o += 4) {
        acc += LUT[src[o]! | (src[o + 1]! << 8)]! * x[xi + i]!;
        a1 += LUT[src[o + 2]! | (src[o + 3]! << 8)]! * x[xi + i + 1]!;
      }
      if (i < n) acc += LUT[src[o]! | (src[o + 1]! << 8)]! * x[xi + i]!;
      return acc + a1;
    }
    case "bf16":
      for (let i = 0; i < n; i++, o += 2) {
        u32Scratch[0] = (src[o]! << 16) | (src[o + 1]! << 24);
        acc += f32Scratch[0]! * x[xi + i]!;
      }
      return acc;
    case "q8_0":
      for (let b = 0; b < nb; b++, o += 34, xi += 32) {
        let s = 0;
        const q = o + 2;
        for (let i = 0; i < 32; i++) s += ((src[q + i]! << 24) >> 24) * x[xi + i]!;
        acc += LUT[src[o]! | (src[o + 1]! << 8)]! * s;
      }
      return acc;
    case "q4_0":
      for (let b = 0; b < nb; b++, o += 18, xi += 32) {
        let s = 0;
        const q = o + 2;
        for (let i = 0; i < 16; i++) {
          const v = src[q + i]!;
          s += ((v & 0xf) - 8) * x[xi + i]! + ((v >> 4) - 8) * x[xi + 16 + i]!;
        }
        acc += LUT[src[o]! | (src[o + 1]! << 8)]! * s;
      }
      return acc;
    case "q4_1":
      for (let b = 0; b < nb; b++, o += 20, xi += 32) {
        let sq = 0;
        let sx = 0;
        const q = o + 4;
        for (let i = 0; i < 16; i++) {
          const v = src[q + i]!;
          const x0 = x[xi + i]!;
          const x1 = x[xi + 16 + i]!;
          sq += (v & 0xf) * x0 + (v >> 4) * x1;
          sx += x0 + x1;
        }
        acc += LUT[src[o]! | (src[o + 1]! << 8)]! * sq + LUT[src[o + 2]! | (src[o + 3]! << 8)]! * sx;
      }
      return acc;
    case "q4_k":
      for (let b = 0; b < nb; b++, o += 144, xi += 256) {
        unpackQ4KScales(
          src,
          o + 4,
          LUT[src[o]! | (src[o + 1]! << 8)]!,
          LUT[src[o + 2]! | (src[o + 3]! << 8)]!,
        );
        for (let j = 0; j < 4; j++) {
          const q = o + 16 + 32 * j;
          const xj = xi + 64 * j;
          let sq1 = 0;
          let sx1 = 0;
          let sq2 = 0;
          let sx2 = 0;
          for (let l = 0; l < 32; l++) {
            const v = src[q + l]!;
            const x1 = x[xj + l]!;
            const x2 = x[xj + 32 + l]!;
            sq1 += (v & 0xf) * x1;
            sx1 += x1;
            sq2 += (v >> 4) * x2;
            sx2 += x2;
          }
          acc +=
            kScales[2 * j]! * sq1 - kMins[2 * j]! * sx1 + kScales[2 * j + 1]! * sq2 - kMins[2 * j + 1]! * sx2;
        }
      }
      return acc;
    case "q6_k":
      for (let b = 0; b < nb; b++, o += 210, xi += 256) {
        const d = LUT[src[o + 208]! | (src[o + 209]! << 8)]!;
        let sb = 0;
        for (let h = 0; h < 2; h++) {
          const ql = o + 64 * h;
          const qh = o + 128 + 32 * h;
          const sc = o + 192 + 8 * h;
          const xh = xi + 128 * h;
          for (let is = 0; is < 2; is++) {
            let s1 = 0;
            let s2 = 0;
            let s3 = 0;
            let s4 = 0;
            for (let l = 16 * is; l < 16 * is + 16; l++) {
              const hb = src[qh + l]!;
              const lo = src[ql + l]!;
              const hi = src[ql + l + 32]!;
              s1 += (((lo & 0xf) | ((hb & 3) << 4)) - 32) * x[xh + l]!;
              s2 += (((hi & 0xf) | (((hb >> 2) & 3) << 4)) - 32) * x[xh + l + 32]!;
              s3 += (((lo >> 4) | (((hb >> 4) & 3) << 4)) - 32) * x[xh + l + 64]!;
              s4 += (((hi >> 4) | (((hb >> 6) & 3) << 4)) - 32) * x[xh + l + 96]!;
            }
            sb +=
              ((src[sc + is]! << 24) >> 24) * s1 +
              ((src[sc + is + 2]! << 24) >> 24) * s2 +
              ((src[sc + is + 4]! << 24) >> 24) * s3 +
              ((src[sc + is + 6]! << 24) >> 24) * s4;
          }
        }
        acc += d * sb;
      }
      return acc;
  }
}

export type QuantizeDType = "f16" | "bf16" | "q8_0" | "q4_0";

/**
 * Encodes `n` f32 values into `out` at `outByteOffset` with ggml's reference quantizers
 * (quantize_row_q8_0_ref / quantize_row_q4_0_ref, computed in f32 arithmetic like the C code).
 */
export function quantizeRow(
  dtype: QuantizeDType,
  src: Float32Array,
  srcOffset: number,
  n: number,
  out: Uint8Array,
  outByteOffset: number,
): void {
  const nb = checkRow(dtype, out, outByteOffset, n);
  if (srcOffset < 0 || srcOffset + n > src.length)
    throw new RangeError(`quantizeRow: source too short for ${n}`);
  const fr = Math.fround;
  let o = outByteOffset;
  let xi = srcOffset;
  switch (dtype) {
    case "f16":
    case "bf16": {
      const enc = dtype === "f16" ? floatToHalf : floatToBf16;
      for (let i = 0; i < n; i++, o += 2) {
        const h = enc(src[xi + i]!);
        out[o] = h & 0xff;
        out[o + 1] = h >> 8;
      }
      return;
    }
    case "q8_0":
      for (let b = 0; b < nb; b++, o += 34, xi += 32) {
        let amax = 0;
        for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(src[xi + i]!));
        const d = fr(amax / 127);
        const id = d ? fr(1 / d) : 0;
        const h = floatToHalf(d);
        out[o] = h & 0xff;
        out[o + 1] = h >> 8;
        for (let i = 0; i < 32; i++) {
          const v = fr(src[xi + i]! * id);
          out[o + 2 + i] = (Math.sign(v) * Math.round(Math.abs(v))) & 0xff; // roundf: half away from zero
        }
      }
      return;
    case "q4_0":
      for (let b = 0; b < nb; b++, o += 18, xi += 32) {
        let amax = 0;
        let max = 0;
        for (let i = 0; i < 32; i++) {
          const v = src[xi + i]!;
          if (amax < Math.abs(v)) {
            amax = Math.abs(v);
            max = v;
          }
        }
        const d = fr(max / -8);
        const id = d ? fr(1 / d) : 0;
        const h = floatToHalf(d);
        out[o] = h & 0xff;
        out[o + 1] = h >> 8;
        for (let i = 0; i < 16; i++) {
          const q0 = Math.min(15, Math.trunc(fr(fr(src[xi + i]! * id) + 8.5)));
          const q1 = Math.min(15, Math.trunc(fr(fr(src[xi + 16 + i]! * id) + 8.5)));
          out[o + 2 + i] = q0 | (q1 << 4);
        }
      }
      return;
  }
}
