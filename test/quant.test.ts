// Tests for the GGML scalar and block formats in src/tensor/quant.ts: half/bf16 rounding edge cases,
// quantizer error bounds, hand-built Q4_K/Q6_K blocks, and dotRow against dequantize-then-dot.

import { test } from "node:test";
import assert from "node:assert/strict";
import { DTYPES, type DType } from "../src/tensor/dtype.js";
import {
  bf16ToFloat,
  dequantizeRow,
  dotRow,
  floatToBf16,
  floatToHalf,
  halfToFloat,
  HALF_TO_FLOAT,
  quantizeRow,
} from "../src/tensor/quant.js";
import { rng } from "./helpers/fixtures.js";

test("halfToFloat golden values", () => {
  assert.equal(halfToFloat(0x0000), 0);
  assert.ok(Object.is(halfToFloat(0x8000), -0));
  assert.equal(halfToFloat(0x3c00), 1);
  assert.equal(halfToFloat(0xc000), -2);
  assert.equal(halfToFloat(0x7bff), 65504);
  assert.equal(halfToFloat(0x0400), 2 ** -14);
  assert.equal(halfToFloat(0x0001), 2 ** -24);
  assert.equal(halfToFloat(0x03ff), 1023 * 2 ** -24);
  assert.equal(halfToFloat(0x7c00), Infinity);
  assert.equal(halfToFloat(0xfc00), -Infinity);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
  assert.ok(Number.isNaN(halfToFloat(0xfc01)));
  assert.equal(halfToFloat(0x3555), 0.333251953125);
});

test("floatToHalf rounds to nearest even, with overflow, subnormals, inf and nan", () => {
  assert.equal(floatToHalf(0), 0);
  assert.equal(floatToHalf(-0), 0x8000);
  assert.equal(floatToHalf(1), 0x3c00);
  assert.equal(floatToHalf(65504), 0x7bff);
  assert.equal(floatToHalf(65519), 0x7bff);
  assert.equal(floatToHalf(65520), 0x7c00); // tie between 65504 and 65536 → even → inf
  assert.equal(floatToHalf(1e6), 0x7c00);
  assert.equal(floatToHalf(-1e6), 0xfc00);
  assert.equal(floatToHalf(Infinity), 0x7c00);
  assert.equal(floatToHalf(-Infinity), 0xfc00);
  const nan = floatToHalf(NaN);
  assert.equal(nan & 0x7c00, 0x7c00);
  assert.notEqual(nan & 0x3ff, 0);
  assert.equal(floatToHalf(2 ** -24), 0x0001);
  assert.equal(floatToHalf(2 ** -25), 0x0000); // tie → even (0)
  assert.equal(floatToHalf(2 ** -25 * 1.01), 0x0001);
  assert.equal(floatToHalf(3 * 2 ** -25), 0x0002); // tie between 1 and 2 units → 2
  assert.equal(floatToHalf(-(2 ** -26)), 0x8000);
  assert.equal(floatToHalf(1e-10), 0);
  assert.equal(floatToHalf(1 + 2 ** -11), 0x3c00); // tie → even
  assert.equal(floatToHalf(1 + 3 * 2 ** -11), 0x3c02); // tie → even (up)
  assert.equal(floatToHalf(1 + 2 ** -11 + 2 ** -20), 0x3c01);
  assert.equal(floatToHalf(2 ** -14 - 2 ** -25), 0x0400); // largest subnormal + half unit carries into normal
});

test("f16: every finite half round-trips and every midpoint rounds to even", () => {
  for (let h = 0; h < 0x10000; h++) {
    const f = halfToFloat(h);
    if (Number.isNaN(f)) {
      assert.ok(Number.isNaN(HALF_TO_FLOAT[h]!));
      continue;
    }
    assert.equal(HALF_TO_FLOAT[h], f);
    if (floatToHalf(f) !== h)
      assert.fail(`half 0x${h.toString(16)} → ${f} → 0x${floatToHalf(f).toString(16)}`);
  }
  for (let h = 0; h < 0x7bff; h++) {
    const a = halfToFloat(h);
    const b = halfToFloat(h + 1);
    const mid = (a + b) / 2; // exactly representable in f32
    const even = h % 2 === 0 ? h : h + 1;
    if (floatToHalf(mid) !== even) assert.fail(`midpoint after 0x${h.toString(16)}`);
    const above = mid + (b - a) / 1024;
    if (floatToHalf(above) !== h + 1) assert.fail(`above midpoint after 0x${h.toString(16)}`);
    if (floatToHalf(-mid) !== (even | 0x8000)) assert.fail(`negative midpoint after 0x${h.toString(16)}`);
  }
});

test("bf16 conversions", () => {
  assert.equal(floatToBf16(1), 0x3f80);
  assert.equal(bf16ToFloat(0x3f80), 1);
  assert.equal(floatToBf16(-2), 0xc000);
  assert.equal(floatToBf16(1 + 2 ** -8), 0x3f80); // tie → even
  assert.equal(floatToBf16(1 + 3 * 2 ** -8), 0x3f82); // tie → even (up)
  assert.equal(floatToBf16(1 + 2 ** -8 + 2 ** -12), 0x3f81);
  assert.equal(floatToBf16(3.4028234663852886e38), 0x7f80); // f32 max rounds to inf
  assert.equal(floatToBf16(Infinity), 0x7f80);
  assert.equal(floatToBf16(-Infinity), 0xff80);
  assert.ok(Number.isNaN(bf16ToFloat(floatToBf16(NaN))));
  assert.equal(floatToBf16(2 ** -133), 0x0001); // subnormal kept, not flushed
  assert.equal(bf16ToFloat(0x0001), 2 ** -133);
  assert.ok(Object.is(bf16ToFloat(0x8000), -0));
  for (let h = 0; h < 0x10000; h++) {
    const f = bf16ToFloat(h);
    if (!Number.isNaN(f) && floatToBf16(f) !== h) assert.fail(`bf16 0x${h.toString(16)} does not round-trip`);
  }
});

test("quantizeRow f16/bf16 store each value's bits", () => {
  const x = new Float32Array([0, 1, -2.5, 65520, 1e-7, 3.14159]);
  const h = new Uint8Array(12);
  const b = new Uint8Array(12);
  quantizeRow("f16", x, 0, 6, h, 0);
  quantizeRow("bf16", x, 0, 6, b, 0);
  for (let i = 0; i < 6; i++) {
    assert.equal(h[2 * i]! | (h[2 * i + 1]! << 8), floatToHalf(x[i]!));
    assert.equal(b[2 * i]! | (b[2 * i + 1]! << 8), floatToBf16(x[i]!));
  }
});

test("q8_0: known block and error bound", () => {
  const x = new Float32Array(64);
  for (let i = 0; i < 32; i++) x[i] = (i - 16) * 0.5; // amax 8 → d = 8/127
  const q = new Uint8Array(68);
  quantizeRow("q8_0", x, 0, 64, q, 0);
  assert.equal(q[0]! | (q[1]! << 8), floatToHalf(8 / 127));
  assert.equal((q[2]! << 24) >> 24, -127);
  assert.equal((q[2 + 16]! << 24) >> 24, 0);
  assert.equal((q[2 + 31]! << 24) >> 24, Math.round((15 * 0.5 * 127) / 8));
  for (let i = 0; i < 34; i++) assert.equal(q[34 + i], 0); // an all-zero block: d = 0, qs = 0

  const r = rng(1);
  const n = 32 * 9;
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (r() - 0.5) * (i < 32 ? 1e-3 : 20);
  const blocks = new Uint8Array((n / 32) * 34);
  quantizeRow("q8_0", v, 0, n, blocks, 0);
  const y = new Float32Array(n);
  dequantizeRow("q8_0", blocks, 0, y, 0, n);
  for (let b = 0; b < n / 32; b++) {
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(v[32 * b + i]!));
    const d = amax / 127;
    const dh = halfToFloat(blocks[34 * b]! | (blocks[34 * b + 1]! << 8)); // d as stored (f16)
    const bound = d * 0.5 + 127 * Math.abs(d - dh) + 1e-12;
    for (let i = 0; i < 32; i++) {
      const err = Math.abs(v[32 * b + i]! - y[32 * b + i]!);
      assert.ok(err <= bound, `block ${b} elem ${i}: error ${err} > ${bound}`);
    }
  }
});

test("q4_0: exact integers and error bound", () => {
  const x = new Float32Array(32);
  for (let i = 0; i < 32; i++) x[i] = (i % 16) - 8; // max by magnitude is -8 → d = 1
  const q = new Uint8Array(18);
  quantizeRow("q4_0", x, 0, 32, q, 0);
  assert.equal(q[0]! | (q[1]! << 8), 0x3c00);
  assert.equal(q[2], 0x00); // elements 0 and 16 are both -8 → nibble 0
  assert.equal(q[3], 0x11);
  const y = new Float32Array(32);
  dequantizeRow("q4_0", q, 0, y, 0, 32);
  assert.deepEqual(Array.from(y), Array.from(x));

  const r = rng(2);
  const n = 32 * 7;
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (r() - 0.5) * 4;
  const blocks = new Uint8Array((n / 32) * 18);
  quantizeRow("q4_0", v, 0, n, blocks, 0);
  const out = new Float32Array(n);
  dequantizeRow("q4_0", blocks, 0, out, 0, n);
  for (let b = 0; b < n / 32; b++) {
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(v[32 * b + i]!));
    const d = amax / 8;
    const dh = Math.abs(halfToFloat(blocks[18 * b]! | (blocks[18 * b + 1]! << 8)));
    const bound = d + 8 * Math.abs(d - dh) + 1e-12; // one step at the clamped top end, plus f16 rounding of d
    for (let i = 0; i < 32; i++) {
      const err = Math.abs(v[32 * b + i]! - out[32 * b + i]!);
      assert.ok(err <= bound, `block ${b} elem ${i}: error ${err} > ${bound}`);
    }
  }
});

// Q4_K: d, dmin (f16), 12 bytes holding eight 6-bit scales and mins, 128 bytes of nibbles.
function buildQ4K(d: number, dmin: number, sc: number[], m: number[], q: (e: number) => number): Uint8Array {
  const b = new Uint8Array(144);
  const put16 = (o: number, h: number) => ((b[o] = h & 0xff), (b[o + 1] = h >> 8));
  put16(0, floatToHalf(d));
  put16(2, floatToHalf(dmin));
  const s = b.subarray(4, 16);
  for (let j = 0; j < 4; j++) {
    s[j] = sc[j]! | ((sc[j + 4]! >> 4) << 6); // low 6 bits: scale j; top 2 bits: high bits of scale j+4
    s[j + 4] = m[j]! | ((m[j + 4]! >> 4) << 6); // low 6 bits: min j; top 2 bits: high bits of min j+4
    s[j + 8] = (sc[j + 4]! & 15) | ((m[j + 4]! & 15) << 4);
  }
  // each 32-byte group c holds elements 64c..64c+31 (low nibbles) and 64c+32..64c+63 (high nibbles)
  for (let c = 0; c < 4; c++) {
    for (let l = 0; l < 32; l++) b[16 + 32 * c + l] = q(64 * c + l) | (q(64 * c + 32 + l) << 4);
  }
  return b;
}

test("q4_k: a hand-built block dequantizes to y = d*scale*q - dmin*min per 32-element sub-block", () => {
  const sc = [1, 2, 3, 4, 33, 40, 50, 63];
  const m = [0, 1, 2, 3, 17, 20, 31, 63];
  const q = (e: number) => (e * 7) % 16;
  const block = buildQ4K(1, 0.5, sc, m, q);
  const y = new Float32Array(256);
  dequantizeRow("q4_k", block, 0, y, 0, 256);
  assert.equal(y[0], 0);
  assert.equal(y[40], 1 * 2 * 8 - 0.5 * 1); // sub-block 1, q = 280 % 16 = 8
  assert.equal(y[200], 1 * 50 * 8 - 0.5 * 31); // sub-block 6, q = 1400 % 16 = 8
  assert.equal(y[255], 63 * ((255 * 7) % 16) - 0.5 * 63);
  for (let e = 0; e < 256; e++) {
    const s = e >> 5;
    assert.equal(y[e], sc[s]! * q(e) - 0.5 * m[s]!, `element ${e}`);
  }
});

// Q6_K: ql (128 bytes, low 4 bits), qh (64 bytes, high 2 bits), 16 int8 scales, f16 d.
function buildQ6K(d: number, scales: number[], q: (e: number) => number): Uint8Array {
  const b = new Uint8Array(210);
  for (let e = 0; e < 256; e++) {
    const h = e >> 7; // which 128-element half
    const r = e & 127;
    const g = r >> 5; // which of the four 32-element groups in the half
    const l = r & 31;
    const v = q(e);
    const qlAt = 64 * h + l + (g & 1) * 32;
    b[qlAt] = b[qlAt]! | ((v & 15) << (g >= 2 ? 4 : 0));
    const qhAt = 128 + 32 * h + l;
    b[qhAt] = b[qhAt]! | ((v >> 4) << (2 * g));
  }
  for (let k = 0; k < 16; k++) b[192 + k] = scales[k]! & 0xff;
  const hd = floatToHalf(d);
  b[208] = hd & 0xff;
  b[209] = hd >> 8;
  return b;
}

function q6kExpected(d: number, scales: number[], q: (e: number) => number, e: number): number {
  const h = e >> 7;
  const r = e & 127;
  const scale = scales[8 * h + ((r & 31) >> 4) + 2 * (r >> 5)]!; // 16-element groups
  return d * scale * (q(e) - 32);
}

test("q6_k: a hand-built block dequantizes to y = d*scale*(q-32) per 16-element group", () => {
  const scales = Array.from({ length: 16 }, (_, k) => k - 8);
  const q = (e: number) => (e * 5 + 3) % 64;
  const block = buildQ6K(0.5, scales, q);
  const y = new Float32Array(256);
  dequantizeRow("q6_k", block, 0, y, 0, 256);
  assert.equal(y[0], 0.5 * -8 * (3 - 32));
  assert.equal(y[255], 0.5 * 7 * (62 - 32));
  assert.equal(y[16], 0.5 * -7 * ((83 % 64) - 32)); // second 16-group of the first 32 → scale index 1
  assert.equal(y[32], 0.5 * -6 * ((163 % 64) - 32)); // second group of 32 → scale index 2
  for (let e = 0; e < 256; e++) assert.equal(y[e], q6kExpected(0.5, scales, q, e), `element ${e}`);
});

/** Random stored bytes for `nb` blocks of `dtype`, with sane scale fields. */
function randomRow(dtype: DType, nb: number, r: () => number): Uint8Array {
  const info = DTYPES[dtype];
  const bytes = new Uint8Array(nb * info.blockBytes);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(r() * 256);
  const half = (o: number, v: number) => {
    const h = floatToHalf(v);
    bytes[o] = h & 0xff;
    bytes[o + 1] = h >> 8;
  };
  const n = nb * info.blockSize;
  if (dtype === "f32") {
    const f = new Float32Array(bytes.buffer);
    for (let i = 0; i < n; i++) f[i] = (r() - 0.5) * 4;
  } else if (dtype === "f16" || dtype === "bf16") {
    const src = new Float32Array(n).map(() => (r() - 0.5) * 4);
    quantizeRow(dtype, src, 0, n, bytes, 0);
  }
  for (let b = 0; b < nb; b++) {
    const o = b * info.blockBytes;
    if (dtype === "q8_0" || dtype === "q4_0") half(o, (r() - 0.5) * 0.1);
    if (dtype === "q4_1" || dtype === "q4_k") {
      half(o, r() * 0.1);
      half(o + 2, (r() - 0.5) * 0.1);
    }
    if (dtype === "q6_k") half(o + 208, (r() - 0.5) * 0.01);
  }
  return bytes;
}

test("dotRow equals dequantizeRow + dot for every dtype (odd block counts, offsets)", () => {
  const r = rng(3);
  const all: DType[] = ["f32", "i32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q4_k", "q6_k"];
  for (const dtype of all) {
    const info = DTYPES[dtype];
    const nb = info.blockSize === 1 ? 97 : info.blockSize === 32 ? 7 : 3;
    const n = nb * info.blockSize;
    const row = randomRow(dtype, nb, r);
    for (const pad of [0, 1, 4]) {
      // the same row stored at byte `pad` of a larger buffer (pad 1 exercises unaligned f32 reads)
      const buf = new Uint8Array(row.length + pad + 8);
      buf.set(row, pad);
      const x = new Float32Array(n + 5).map(() => r() * 2 - 1);
      const y = new Float32Array(n + 3);
      dequantizeRow(dtype, buf, pad, y, 3, n);
      let ref = 0;
      let mag = 0;
      for (let i = 0; i < n; i++) {
        ref += y[3 + i]! * x[5 + i]!;
        mag += Math.abs(y[3 + i]! * x[5 + i]!);
      }
      const got = dotRow(dtype, buf, pad, x, 5, n);
      assert.ok(Number.isFinite(got), `${dtype}: not finite`);
      assert.ok(Math.abs(got - ref) <= 1e-5 * mag + 1e-12, `${dtype} pad ${pad}: ${got} vs ${ref}`);
    }
  }
});

test("dotRow on the hand-built K blocks", () => {
  const sc = [5, 9, 13, 17, 21, 25, 29, 33];
  const m = [1, 3, 5, 7, 9, 11, 13, 15];
  const q4 = buildQ4K(0.25, 0.125, sc, m, (e) => e % 16);
  const q6 = buildQ6K(
    0.125,
    Array.from({ length: 16 }, (_, k) => 3 * k - 20),
    (e) => (e * 11) % 64,
  );
  const x = new Float32Array(256).map((_, i) => Math.sin(i));
  for (const [dtype, block] of [
    ["q4_k", q4],
    ["q6_k", q6],
  ] as const) {
    const y = new Float32Array(256);
    dequantizeRow(dtype, block, 0, y, 0, 256);
    let ref = 0;
    for (let i = 0; i < 256; i++) ref += y[i]! * x[i]!;
    assert.ok(Math.abs(dotRow(dtype, block, 0, x, 0, 256) - ref) < 1e-9 * (1 + Math.abs(ref)));
  }
});

test("row functions reject partial blocks and short buffers", () => {
  assert.throws(() => dequantizeRow("q8_0", new Uint8Array(34), 0, new Float32Array(32), 0, 16), /multiple/);
  assert.throws(() => dequantizeRow("q8_0", new Uint8Array(33), 0, new Float32Array(32), 0, 32), RangeError);
  assert.throws(() => dotRow("f16", new Uint8Array(8), 0, new Float32Array(2), 0, 4), RangeError);
});
