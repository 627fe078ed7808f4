// Tests for the llama2.c v0 reader and the rotary row layouts (rope-layout.ts).

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { readLlama2c } from "../src/io/llama2c.js";
import { halfToInterleaved, interleavedToHalf, interleavedToHalfInPlace } from "../src/io/rope-layout.js";
import { Tensor } from "../src/tensor/tensor.js";
import { countingAllocator } from "./helpers/fixtures.js";

const STORIES = "../shared/models/stories260K/stories260K.bin";
const dir = mkdtempSync(join(tmpdir(), "decoderkit-llama2c-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A llama2.c file whose float at index i (after the header) is i, so every tensor shows where it was read. */
function writeModel(name: string, h: number[], floats: number): string {
  const buf = new ArrayBuffer(28 + floats * 4);
  new Int32Array(buf, 0, 7).set(h);
  const f = new Float32Array(buf, 28);
  for (let i = 0; i < floats; i++) f[i] = i;
  const p = join(dir, name);
  writeFileSync(p, new Uint8Array(buf));
  return p;
}

test("stories260K loads with the published configuration and Hugging Face names", () => {
  const { config, tensors } = readLlama2c(STORIES);
  assert.deepEqual(config, {
    dim: 64,
    hiddenDim: 172,
    nLayers: 5,
    nHeads: 8,
    nKvHeads: 4,
    vocabSize: 512,
    seqLen: 512,
    sharedClassifier: true,
  });
  assert.equal(tensors.size, 1 + 5 * 9 + 1);
  assert.deepEqual(tensors.get("model.embed_tokens.weight")!.shape, [512, 64]);
  assert.deepEqual(tensors.get("model.norm.weight")!.shape, [64]);
  assert.equal(tensors.has("lm_head.weight"), false);
  for (let l = 0; l < 5; l++) {
    const p = `model.layers.${l}`;
    const shapes: Record<string, number[]> = {
      "input_layernorm.weight": [64],
      "self_attn.q_proj.weight": [64, 64],
      "self_attn.k_proj.weight": [32, 64],
      "self_attn.v_proj.weight": [32, 64],
      "self_attn.o_proj.weight": [64, 64],
      "post_attention_layernorm.weight": [64],
      "mlp.gate_proj.weight": [172, 64],
      "mlp.up_proj.weight": [172, 64],
      "mlp.down_proj.weight": [64, 172],
    };
    for (const [k, s] of Object.entries(shapes)) {
      const t = tensors.get(`${p}.${k}`);
      assert.ok(t, `${p}.${k}`);
      assert.equal(t.dtype, "f32");
      assert.deepEqual(t.shape, s, `${p}.${k}`);
    }
  }
});

test("stories260K values come from the right file offsets, q/k permuted to rotate-half", () => {
  const { tensors } = readLlama2c(STORIES);
  const file = readFileSync(STORIES);
  const raw = new Float32Array(file.buffer.slice(file.byteOffset + 28, file.byteOffset + file.byteLength));
  const [dim, L, vocab, hd] = [64, 5, 512, 8];
  assert.deepEqual(
    tensors.get("model.embed_tokens.weight")!.toArray(),
    Array.from(raw.subarray(0, vocab * dim)),
  );
  const wq = vocab * dim + L * dim;
  const wk = wq + L * dim * dim;
  for (const [name, base, heads, rows] of [
    ["self_attn.q_proj.weight", wq, 8, 64],
    ["self_attn.k_proj.weight", wk, 4, 32],
  ] as const) {
    const layer = 3;
    const got = tensors.get(`model.layers.${layer}.${name}`)!.f32();
    const src = raw.subarray(base + layer * rows * dim, base + (layer + 1) * rows * dim);
    for (let h = 0; h < heads; h++) {
      for (let r = 0; r < hd / 2; r++) {
        for (let p = 0; p < 2; p++) {
          const to = h * hd + p * (hd / 2) + r;
          const from = h * hd + 2 * r + p;
          assert.deepEqual(
            got.subarray(to * dim, (to + 1) * dim),
            src.subarray(from * dim, (from + 1) * dim),
          );
        }
      }
    }
  }
  // Final norm sits right before the freq_cis tables: (seq_len, head_size/2) × 2 floats from the end.
  const norm = raw.length - 512 * 4 * 2 - dim;
  assert.deepEqual(tensors.get("model.norm.weight")!.toArray(), Array.from(raw.subarray(norm, norm + dim)));
});

test("a separate classifier (negative vocab_size) and the w1/w3/w2 block order", () => {
  const [dim, hidden, L, H, KV, vocab, seq] = [8, 12, 2, 2, 1, 10, 4];
  const kv = (dim / H) * KV;
  const counts = [vocab * dim, L * dim, L * dim * dim, L * kv * dim, L * kv * dim, L * dim * dim, L * dim];
  counts.push(L * hidden * dim, L * dim * hidden, L * hidden * dim, dim, seq * (dim / H), vocab * dim);
  const starts: number[] = [];
  let total = 0;
  for (const c of counts) {
    starts.push(total);
    total += c;
  }
  const p = writeModel("separate.bin", [dim, hidden, L, H, KV, -vocab, seq], total);
  const { config, tensors } = readLlama2c(p);
  assert.equal(config.sharedClassifier, false);
  assert.equal(config.vocabSize, vocab);
  const first = (n: string): number => tensors.get(n)!.f32()[0]!;
  assert.equal(first("lm_head.weight"), starts[12]);
  assert.equal(first("model.layers.1.input_layernorm.weight"), starts[1]! + dim);
  assert.equal(first("model.layers.1.self_attn.v_proj.weight"), starts[4]! + kv * dim);
  assert.equal(first("model.layers.1.self_attn.o_proj.weight"), starts[5]! + dim * dim);
  assert.equal(first("model.layers.1.post_attention_layernorm.weight"), starts[6]! + dim);
  assert.equal(first("model.layers.1.mlp.gate_proj.weight"), starts[7]! + hidden * dim);
  assert.equal(first("model.layers.1.mlp.down_proj.weight"), starts[8]! + dim * hidden);
  assert.equal(first("model.layers.1.mlp.up_proj.weight"), starts[9]! + hidden * dim);
  assert.equal(first("model.norm.weight"), starts[10]);
  assert.deepEqual(tensors.get("lm_head.weight")!.shape, [vocab, dim]);

  // The same weights with a positive vocab_size imply a shared classifier and a shorter file.
  const shared = writeModel("shared-but-long.bin", [dim, hidden, L, H, KV, vocab, seq], total);
  assert.throws(
    () => readLlama2c(shared),
    /^Error: llama2c: file is \d+ bytes but the header .* implies \d+/,
  );
});

test("truncated copies of stories260K fail with a llama2c error", () => {
  const file = readFileSync(STORIES);
  const cuts = [0, 1, 7, 27, 28, 29, 100, 4096, file.length >> 1, file.length - 4, file.length - 1];
  for (let i = 0; i < 20; i++) cuts.push(Math.floor(((i + 0.5) / 20) * file.length));
  const p = join(dir, "cut.bin");
  for (const cut of cuts) {
    writeFileSync(p, file.subarray(0, cut));
    assert.throws(() => readLlama2c(p), /^Error: llama2c: /, `cut at ${cut}`);
  }
  writeFileSync(p, Buffer.concat([file, Buffer.alloc(4)]));
  assert.throws(() => readLlama2c(p), /^Error: llama2c: file is \d+ bytes/);
});

test("hostile headers are rejected before any allocation", () => {
  const cases: [number[], RegExp][] = [
    [[1 << 30, 172, 5, 8, 4, 512, 512], /dim = 1073741824 is larger/],
    [[64, 172, 5, 8, 4, -(2 ** 31), 512], /vocabSize = 2147483648 is larger/],
    [[64, 0, 5, 8, 4, 512, 512], /hiddenDim must be positive/],
    [[64, 172, -5, 8, 4, 512, 512], /nLayers must be positive/],
    [[64, 172, 5, 7, 7, 512, 512], /not divisible by n_heads/],
    [[64, 172, 5, 8, 3, 512, 512], /not divisible by n_kv_heads/],
    [[64, 172, 5, 64, 64, 512, 512], /head size 1 must be even/],
    [[65536, 1 << 20, 1024, 8, 8, 1 << 22, 1 << 22], /file is \d+ bytes but the header/],
  ];
  for (const [h, re] of cases) {
    const p = writeModel("hostile.bin", h, 64);
    const alloc = countingAllocator();
    const t0 = performance.now();
    assert.throws(
      () => readLlama2c(p, { allocator: alloc }),
      (e: Error) => /^llama2c: /.test(e.message) && re.test(e.message),
    );
    assert.ok(performance.now() - t0 < 200);
    assert.deepEqual(alloc.requests, []);
  }
  assert.throws(() => readLlama2c(join(dir, "missing.bin")), /^Error: llama2c: cannot open/);
});

test("rope layouts: the Hugging Face permutation on a small example, and the two are inverses", () => {
  // 2 heads of head size 4, one column: row value = interleaved row index.
  const w = Tensor.fromArray([0, 1, 2, 3, 4, 5, 6, 7], [8, 1]);
  const half = interleavedToHalf(w, 2);
  // new row h*hd + p*hd/2 + r ← old row h*hd + 2r + p: per head [0,2,1,3].
  assert.deepEqual(half.toArray(), [0, 2, 1, 3, 4, 6, 5, 7]);
  assert.deepEqual(halfToInterleaved(half, 2).toArray(), w.toArray());

  const big = Tensor.fromArray(
    Array.from({ length: 48 * 5 }, (_, i) => i * 0.5 - 3),
    [48, 5],
  );
  for (const heads of [1, 2, 3, 6, 12, 24]) {
    assert.deepEqual(halfToInterleaved(interleavedToHalf(big, heads), heads).toArray(), big.toArray());
    assert.deepEqual(interleavedToHalf(halfToInterleaved(big, heads), heads).toArray(), big.toArray());
  }
  // A 1-D bias permutes element-wise.
  assert.deepEqual(interleavedToHalf(Tensor.fromArray([0, 1, 2, 3, 4, 5]), 1).toArray(), [0, 2, 4, 1, 3, 5]);
  assert.throws(() => interleavedToHalf(w, 3), /do not split into 3 heads/);
  assert.throws(() => interleavedToHalf(Tensor.fromArray([0, 1, 2, 3, 4, 5]), 2), /heads of even size/);
});

test("rope layouts: the in-place permutation equals the copy (every head count, bias, q8_0 rows)", () => {
  for (const [rows, cols] of [
    [48, 5],
    [6, 1],
    [128, 3],
  ] as const) {
    const src = Array.from({ length: rows * cols }, (_, i) => i * 0.25 - 7);
    for (let heads = 1; heads <= rows; heads++) {
      if (rows % heads !== 0 || (rows / heads) % 2 !== 0) continue;
      const want = interleavedToHalf(Tensor.fromArray(src, [rows, cols]), heads).toArray();
      const w = Tensor.fromArray(src, [rows, cols]);
      const data = w.data;
      assert.equal(interleavedToHalfInPlace(w, heads), w);
      assert.equal(w.data, data);
      assert.deepEqual(w.toArray(), want);
    }
  }
  const rowBytes = 34;
  const bytes = new Uint8Array(16 * rowBytes);
  for (let r = 0; r < 16; r++) bytes.fill(r + 1, r * rowBytes, (r + 1) * rowBytes);
  const q = Tensor.fromBytes("q8_0", [16, 32], bytes.slice());
  interleavedToHalfInPlace(q, 2);
  assert.deepEqual(q.bytes(), interleavedToHalf(Tensor.fromBytes("q8_0", [16, 32], bytes), 2).bytes());
  assert.throws(
    () => interleavedToHalfInPlace(Tensor.fromArray([0, 1, 2, 3, 4, 5]), 2),
    /heads of even size/,
  );
});

test("rope layouts move whole rows of any dtype (f16 and q8_0 bytes)", () => {
  const rows = 8;
  for (const [dtype, cols, rowBytes] of [
    ["f16", 3, 6],
    ["q8_0", 64, 68],
  ] as const) {
    const bytes = new Uint8Array(rows * rowBytes);
    for (let r = 0; r < rows; r++) bytes.fill(r + 1, r * rowBytes, (r + 1) * rowBytes);
    const w = Tensor.fromBytes(dtype, [rows, cols], bytes);
    const half = interleavedToHalf(w, 2);
    assert.equal(half.dtype, dtype);
    const order = Array.from({ length: rows }, (_, r) => half.bytes()[r * rowBytes]! - 1);
    assert.deepEqual(order, [0, 2, 1, 3, 4, 6, 5, 7]);
    assert.deepEqual(halfToInterleaved(half, 2).bytes(), bytes);
  }
});
