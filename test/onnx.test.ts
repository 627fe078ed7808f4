// Tests for the ONNX initializer reader: the shared tiny GPT-2 export (names, shapes, tied lm_head), every
// TensorProto data encoding on hand-built protobufs, and truncated or hostile input (→ errors starting "onnx:").

import assert from "node:assert/strict";
import { test } from "node:test";
import { parseOnnx, readOnnxInitializers, readOnnxModel } from "../src/io/onnx.js";

const GPT2_ONNX = "../shared/models/tiny-random-gpt2-onnx/past.onnx";

// A tiny protobuf writer for building test models.
function varint(v: number | bigint): number[] {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  do {
    const b = Number(x & 0x7fn);
    x >>= 7n;
    out.push(x ? b | 0x80 : b);
  } while (x);
  return out;
}
const vfield = (f: number, v: number | bigint): number[] => [...varint(f * 8), ...varint(v)];
const lfield = (f: number, body: ArrayLike<number>): number[] => [
  ...varint(f * 8 + 2),
  ...varint(body.length),
  ...Array.from(body),
];
const sfield = (f: number, s: string): number[] => lfield(f, new TextEncoder().encode(s));
const f32bytes = (xs: number[]): number[] => Array.from(new Uint8Array(new Float32Array(xs).buffer));

/** TensorProto with name, dims and data type, plus extra encoded fields. */
function tensor(name: string, dims: (number | bigint)[], dataType: number, ...extra: number[][]): number[] {
  return [...dims.flatMap((d) => vfield(1, d)), ...vfield(2, dataType), ...sfield(8, name), ...extra.flat()];
}
/** ModelProto { ir_version, graph { initializer... } }. */
function model(...initializers: number[][]): Uint8Array {
  const graph = initializers.flatMap((t) => lfield(5, t));
  return new Uint8Array([...vfield(1, 8), ...lfield(7, graph)]);
}

function assertOnnxError(fn: () => unknown, re?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof Error, "not an Error");
    assert.match(e.message, /^onnx: /);
    if (re) assert.match(e.message, re);
    return true;
  });
}

test("tiny GPT-2 export: Hugging Face names, Conv1D weights stored [in, out]", () => {
  const w = readOnnxInitializers(GPT2_ONNX);
  assert.equal(w.size, 27);
  const shapes = Object.fromEntries([...w].map(([k, t]) => [k, t.shape]));
  assert.deepEqual(shapes["transformer.wte.weight"], [1000, 32]);
  assert.deepEqual(shapes["transformer.wpe.weight"], [512, 32]);
  for (let i = 0; i < 5; i++) {
    assert.deepEqual(shapes[`transformer.h.${i}.attn.c_attn.weight`], [32, 96]);
    assert.deepEqual(shapes[`transformer.h.${i}.attn.c_proj.weight`], [32, 32]);
    assert.deepEqual(shapes[`transformer.h.${i}.mlp.c_fc.weight`], [32, 128]);
    assert.deepEqual(shapes[`transformer.h.${i}.mlp.c_proj.weight`], [128, 32]);
  }
  for (const t of w.values()) assert.equal(t.dtype, "f32");
  // Identical tensors were merged by the exporter: LayerNorm gammas are all ones, biases all zeros.
  assert.ok(
    w
      .get("transformer.h.0.ln_1.weight")!
      .f32()
      .every((x) => x === 1),
  );
  assert.ok(
    w
      .get("transformer.h.0.attn.c_attn.bias")!
      .f32()
      .every((x) => x === 0),
  );
  assert.equal(w.has("transformer.h.0.ln_2.weight"), false);
  // The tied lm_head is kept as wte transposed under an exporter name.
  const wte = w.get("transformer.wte.weight")!.f32();
  const head = w.get("onnx::MatMul_1400")!;
  assert.deepEqual(head.shape, [32, 1000]);
  const h = head.f32();
  for (const [v, c] of [
    [0, 0],
    [7, 31],
    [999, 5],
    [123, 17],
  ] as const)
    assert.equal(h[c * 1000 + v], wte[v * 32 + c]);
});

test("tiny GPT-2 export: nodes and attributes", () => {
  const { nodes } = readOnnxModel(GPT2_ONNX);
  assert.equal(nodes.length, 39);
  const att = nodes.find((n) => n.name === "GptAttention_0")!;
  assert.equal(att.opType, "Attention");
  assert.equal(att.domain, "com.microsoft");
  assert.deepEqual(att.inputs.slice(0, 3), [
    "EmbedLayerNormalization_0_output",
    "transformer.h.0.attn.c_attn.weight",
    "transformer.h.0.attn.c_attn.bias",
  ]);
  assert.equal(att.attributes.get("num_heads"), 4);
  assert.equal(att.attributes.get("unidirectional"), 1);
  const eps = nodes.find((n) => n.opType === "EmbedLayerNormalization")!.attributes.get("epsilon");
  assert.ok(typeof eps === "number" && Math.abs(eps - 1e-5) < 1e-10);
});

test("data encodings: raw_data, float_data, int64_data, int32_data, f16", () => {
  const m = parseOnnx(
    model(
      tensor("raw", [2, 2], 1, lfield(9, f32bytes([1, -2, 3.5, 0.25]))),
      tensor("packed", [3], 1, lfield(4, f32bytes([4, 5, 6]))),
      tensor("unpacked", [2], 1, ...[7, 8].map((x) => [...varint(4 * 8 + 5), ...f32bytes([x])])),
      tensor("i64", [3], 7, lfield(7, [...varint(-1), ...varint(2147483647), ...varint(-2147483648)])),
      tensor("i64raw", [2], 7, lfield(9, Array.from(new Uint8Array(new BigInt64Array([-5n, 6n]).buffer)))),
      tensor("i32", [2], 6, vfield(5, 9), vfield(5, -3)),
      tensor("f16raw", [2], 10, lfield(9, [0x00, 0x3c, 0x00, 0xc0])),
      tensor("f16ints", [2], 10, lfield(5, [...varint(0x3c00), ...varint(0xc000)])),
      tensor("scalar", [], 1, lfield(9, f32bytes([42]))),
      tensor("empty", [0, 4], 1),
    ),
  );
  const get = (k: string) => m.initializers.get(k)!;
  assert.deepEqual(get("raw").shape, [2, 2]);
  assert.deepEqual(get("raw").toArray(), [1, -2, 3.5, 0.25]);
  assert.deepEqual(get("packed").toArray(), [4, 5, 6]);
  assert.deepEqual(get("unpacked").toArray(), [7, 8]);
  assert.equal(get("i64").dtype, "i32");
  assert.deepEqual(get("i64").toArray(), [-1, 2147483647, -2147483648]);
  assert.deepEqual(get("i64raw").toArray(), [-5, 6]);
  assert.deepEqual(get("i32").toArray(), [9, -3]);
  assert.equal(get("f16raw").dtype, "f16");
  assert.deepEqual(Array.from(get("f16raw").bytes()), [0x00, 0x3c, 0x00, 0xc0]);
  assert.deepEqual(Array.from(get("f16ints").bytes()), [0x00, 0x3c, 0x00, 0xc0]);
  assert.deepEqual(get("scalar").shape, []);
  assert.deepEqual(get("scalar").toArray(), [42]);
  assert.equal(get("empty").size, 0);
});

test("every truncation of a model is an onnx: error", () => {
  const full = model(
    tensor("a", [2, 3], 1, lfield(9, f32bytes([1, 2, 3, 4, 5, 6]))),
    tensor("b", [2], 7, lfield(7, [...varint(1), ...varint(2)])),
  );
  assert.equal(parseOnnx(full).initializers.size, 2);
  for (let n = 0; n < full.length; n++) assertOnnxError(() => parseOnnx(full.subarray(0, n)));
});

test("truncations of the GPT-2 export are onnx: errors", async () => {
  const { readFileSync } = await import("node:fs");
  const bytes = readFileSync(GPT2_ONNX);
  // The graph ends just before the trailing opset imports, so every cut inside 90% of the file lands in it.
  for (let i = 0; i < 200; i++) {
    const n = Math.floor((i / 200) * bytes.length * 0.9);
    assertOnnxError(() => parseOnnx(bytes.subarray(0, n)));
  }
});

test("hostile and unsupported tensors are refused", () => {
  const bad =
    (...t: number[][]) =>
    () =>
      parseOnnx(model(...t));
  assertOnnxError(
    bad(tensor("huge", [2n ** 40n, 2n ** 40n], 1, lfield(9, f32bytes([1])))),
    /too large|more bytes/,
  );
  assertOnnxError(bad(tensor("neg", [-1], 1)), /bad dimension/);
  assertOnnxError(bad(tensor("short", [4], 1, lfield(9, f32bytes([1, 2, 3])))), /raw_data has 12 bytes/);
  assertOnnxError(bad(tensor("count", [4], 1, lfield(4, f32bytes([1, 2, 3])))), /float_data has 3 values/);
  assertOnnxError(
    bad(tensor("dbl", [1], 11, lfield(9, [0, 0, 0, 0, 0, 0, 0, 0]))),
    /double is not supported/,
  );
  assertOnnxError(bad(tensor("big", [1], 7, lfield(7, varint(2n ** 40n)))), /does not fit int32/);
  assertOnnxError(bad(tensor("ext", [1], 1, vfield(14, 1), lfield(13, sfield(1, "location")))), /external/);
  assertOnnxError(
    bad(tensor("dup", [1], 1, lfield(9, f32bytes([1]))), tensor("dup", [1], 1, lfield(9, f32bytes([1])))),
    /duplicate/,
  );
  assertOnnxError(bad(tensor("", [1], 1, lfield(9, f32bytes([1])))), /no name/);
  assertOnnxError(
    bad(tensor("two", [1], 1, lfield(9, f32bytes([1])), lfield(4, f32bytes([1])))),
    /more than one field/,
  );
  assertOnnxError(bad([...tensor("group", [1], 1), ...varint(20 * 8 + 3)]), /wire type 3/);
  assertOnnxError(() => parseOnnx(new Uint8Array([0x08, ...new Array(11).fill(0xff)])), /varint/);
  assertOnnxError(() => parseOnnx(new Uint8Array([...vfield(1, 8)])), /no graph/);
  assertOnnxError(
    () => parseOnnx(new Uint8Array([...lfield(7, []), ...lfield(7, [])])),
    /more than one graph/,
  );
  assertOnnxError(() => readOnnxInitializers("../shared/does-not-exist.onnx"), /cannot read/);
});
