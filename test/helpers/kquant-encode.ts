// Test-only encoders for GGML Q4_K and Q6_K blocks (llama.cpp block_q4_K / block_q6_K layouts, as decoded by
// src/tensor/quant.ts): plain min/max and absmax rounding, not llama.cpp's iterative make_qkx2_quants search.

import { floatToHalf, halfToFloat } from "../../src/tensor/quant.js";

function putHalf(out: Uint8Array, o: number, v: number): number {
  const h = floatToHalf(v);
  out[o] = h & 0xff;
  out[o + 1] = h >> 8;
  return halfToFloat(h);
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/** x[xo .. xo + 256·nb) → nb Q4_K blocks (144 bytes each) at out[o ..). */
export function encodeQ4K(x: Float32Array, xo: number, n: number, out: Uint8Array, o: number): void {
  if (n % 256 !== 0) throw new Error(`q4_k: ${n} is not a multiple of 256`);
  for (let b = 0; b < n / 256; b++, xo += 256, o += 144) {
    const scale: number[] = [];
    const min: number[] = [];
    for (let s = 0; s < 8; s++) {
      let lo = 0;
      let hi = 0;
      for (let i = 0; i < 32; i++) {
        lo = Math.min(lo, x[xo + 32 * s + i]!);
        hi = Math.max(hi, x[xo + 32 * s + i]!);
      }
      scale.push((hi - lo) / 15);
      min.push(-lo);
    }
    const d = putHalf(out, o, Math.max(...scale) / 63);
    const dmin = putHalf(out, o + 2, Math.max(...min) / 63);
    const ls = scale.map((v) => (d > 0 ? clamp(Math.round(v / d), 0, 63) : 0));
    const lm = min.map((v) => (dmin > 0 ? clamp(Math.ceil(v / dmin), 0, 63) : 0));
    for (let j = 0; j < 4; j++) {
      out[o + 4 + j] = (ls[j]! & 63) | ((ls[j + 4]! >> 4) << 6);
      out[o + 8 + j] = (lm[j]! & 63) | ((lm[j + 4]! >> 4) << 6);
      out[o + 12 + j] = (ls[j + 4]! & 0xf) | ((lm[j + 4]! & 0xf) << 4);
    }
    const q = (i: number): number => {
      const s = i >> 5;
      const step = d * ls[s]!;
      return step > 0 ? clamp(Math.round((x[xo + i]! + dmin * lm[s]!) / step), 0, 15) : 0;
    };
    for (let j = 0; j < 4; j++) {
      for (let l = 0; l < 32; l++) out[o + 16 + 32 * j + l] = q(64 * j + l) | (q(64 * j + 32 + l) << 4);
    }
  }
}

/** x[xo .. xo + 256·nb) → nb Q6_K blocks (210 bytes each) at out[o ..). */
export function encodeQ6K(x: Float32Array, xo: number, n: number, out: Uint8Array, o: number): void {
  if (n % 256 !== 0) throw new Error(`q6_k: ${n} is not a multiple of 256`);
  for (let b = 0; b < n / 256; b++, xo += 256, o += 210) {
    const scale: number[] = [];
    for (let s = 0; s < 16; s++) {
      let amax = 0;
      for (let i = 0; i < 16; i++) amax = Math.max(amax, Math.abs(x[xo + 16 * s + i]!));
      scale.push(amax / 31);
    }
    const d = putHalf(out, o + 208, Math.max(...scale) / 127);
    const sc = scale.map((v) => (d > 0 ? clamp(Math.round(v / d), -128, 127) : 0));
    for (let s = 0; s < 16; s++) out[o + 192 + s] = sc[s]! & 0xff;
    const q = (i: number): number => {
      const step = d * sc[i >> 4]!;
      return (step !== 0 ? clamp(Math.round(x[xo + i]! / step), -32, 31) : 0) + 32;
    };
    for (let h = 0; h < 2; h++) {
      for (let l = 0; l < 32; l++) {
        const e = 128 * h + l;
        out[o + 64 * h + l] = (q(e) & 0xf) | ((q(e + 64) & 0xf) << 4);
        out[o + 64 * h + l + 32] = (q(e + 32) & 0xf) | ((q(e + 96) & 0xf) << 4);
        out[o + 128 + 32 * h + l] =
          (q(e) >> 4) | ((q(e + 32) >> 4) << 2) | ((q(e + 64) >> 4) << 4) | ((q(e + 96) >> 4) << 6);
      }
    }
  }
}
