// Tests for the GGUF v2/v3 reader and v3 writer (src/io/gguf*.ts): the shared tiny Llama and vocab
// files, write→read round trips, truncated files and hostile headers built here byte by byte.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readGGUF, writeGGUF, type GGUFValue } from "../src/io/gguf.js";
import { dequantizeRow, floatToHalf, halfToFloat } from "../src/tensor/quant.js";
import { Tensor } from "../src/tensor/tensor.js";

const TINY = "../shared/models/tiny-random-llama-gguf/llama-2-tiny-random.gguf";
const VOCABS = ["../shared/vocab/ggml-vocab-gpt-2.gguf", "../shared/vocab/ggml-vocab-llama-spm.gguf"];

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "gguf-test-"));
}

function asF32(t: Tensor): Float32Array {
  if (t.dtype === "f32") return t.f32();
  const out = new Float32Array(t.size);
  dequantizeRow(t.dtype, t.data as Uint8Array, 0, out, 0, t.size);
  return out;
}

test("reads the tiny Llama GGUF", () => {
  const f = readGGUF(TINY);
  assert.equal(f.version, 3);
  assert.equal(f.alignment, 32);
  assert.equal(f.metadata.get("general.architecture"), "llama");
  assert.equal(f.metadata.get("llama.embedding_length"), 8);
  assert.equal(f.metadata.get("llama.block_count"), 1);
  assert.equal(f.metadataTypes.get("llama.attention.layer_norm_rms_epsilon"), "f32");
  assert.ok(Math.abs((f.metadata.get("llama.attention.layer_norm_rms_epsilon") as number) - 1e-5) < 1e-9);
  const tokens = f.metadata.get("tokenizer.ggml.tokens") as string[];
  assert.equal(tokens.length, 32000);
  assert.deepEqual(tokens.slice(0, 4), ["<unk>", "<s>", "</s>", "<0x00>"]);
  assert.ok(f.metadata.get("tokenizer.ggml.scores") instanceof Float32Array);
  assert.ok(f.metadata.get("tokenizer.ggml.token_type") instanceof Int32Array);
  const shapes = Object.fromEntries(f.tensorInfos.map((t) => [t.name, `${t.dtype}[${t.shape.join(",")}]`]));
  assert.deepEqual(shapes, {
    "token_embd.weight": "f16[32000,8]",
    "blk.0.attn_q.weight": "f16[8,8]",
    "blk.0.attn_k.weight": "f16[8,8]",
    "blk.0.attn_v.weight": "f16[8,8]",
    "blk.0.attn_output.weight": "f16[8,8]",
    "blk.0.ffn_gate.weight": "f16[32,8]",
    "blk.0.ffn_up.weight": "f16[32,8]",
    "blk.0.ffn_down.weight": "f16[8,32]",
    "blk.0.attn_norm.weight": "f32[8]",
    "blk.0.ffn_norm.weight": "f32[8]",
    "output_norm.weight": "f32[8]",
    "output.weight": "f16[32000,8]",
  });
  assert.equal(f.tensors.size, 12);
  for (const info of f.tensorInfos) {
    const t = f.tensors.get(info.name)!;
    assert.deepEqual([...t.shape], info.shape);
    assert.equal(t.dtype, info.dtype);
    assert.equal(info.offset % 32, 0);
    assert.ok(asF32(t).every(Number.isFinite), info.name);
  }
  // tensor bytes are exactly the file bytes at the stated offset
  const raw = fs.readFileSync(TINY);
  const q = f.tensorInfos.find((t) => t.name === "blk.0.attn_q.weight")!;
  assert.deepEqual(
    f.tensors.get(q.name)!.bytes(),
    new Uint8Array(raw.subarray(q.offset, q.offset + q.byteLength)),
  );
});

test("reads the vocab-only GGUFs with metadataOnly", () => {
  const gpt2 = readGGUF(VOCABS[0]!, { metadataOnly: true });
  assert.equal(gpt2.metadata.get("tokenizer.ggml.model"), "gpt2");
  assert.equal((gpt2.metadata.get("tokenizer.ggml.tokens") as string[]).length, 50257);
  assert.equal((gpt2.metadata.get("tokenizer.ggml.merges") as string[]).length, 50000);
  assert.equal((gpt2.metadata.get("tokenizer.ggml.merges") as string[])[0], "Ġ t");
  assert.equal(gpt2.metadata.get("tokenizer.ggml.bos_token_id"), 50256);
  assert.equal(gpt2.tensors.size, 0);
  const spm = readGGUF(VOCABS[1]!, { metadataOnly: true });
  assert.equal(spm.metadata.get("tokenizer.ggml.model"), "llama");
  assert.equal((spm.metadata.get("tokenizer.ggml.tokens") as string[]).length, 32000);
  assert.equal(spm.metadata.get("tokenizer.ggml.add_bos_token"), true);
  assert.equal(spm.tensorInfos.length, 0);
  const meta = readGGUF(TINY, { metadataOnly: true });
  assert.equal(meta.tensors.size, 0);
  assert.equal(meta.tensorInfos.length, 12);
});

test("read → write reproduces llama.cpp's files byte for byte (BOM token, padding, types)", () => {
  const dir = tmpDir();
  try {
    for (const src of [TINY, ...VOCABS]) {
      const f = readGGUF(src);
      const out = path.join(dir, path.basename(src));
      const tensors = f.tensorInfos.map((i) => ({ name: i.name, tensor: f.tensors.get(i.name)! }));
      writeGGUF(out, { metadata: f.metadata, tensors }, { valueTypes: f.metadataTypes });
      assert.ok(fs.readFileSync(out).equals(fs.readFileSync(src)), src);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function sampleContent(): { metadata: Map<string, GGUFValue>; tensors: { name: string; tensor: Tensor }[] } {
  const metadata = new Map<string, GGUFValue>([
    ["general.architecture", "llama"],
    ["general.name", "round trip ✓"],
    ["llama.block_count", 2],
    ["llama.rope.freq_base", 10000],
    ["test.negative", -5],
    ["test.float", 0.25],
    ["test.flag", false],
    ["test.big", 2n ** 60n],
    ["tokenizer.ggml.tokens", ["<unk>", "a", "bé"]],
    ["tokenizer.ggml.scores", [0, -1, -2]],
    ["tokenizer.ggml.token_type", [2, 1, 1]],
    ["test.nested", [["x", "y"], new Int32Array([1, -2])]],
  ]);
  const mk = (shape: number[], seed: number) =>
    Tensor.fromArray(
      Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37 + seed) * 2),
      shape,
    );
  const tensors = [
    { name: "w.big", tensor: mk([5, 64], 1) },
    { name: "w.odd", tensor: mk([3, 10], 2) },
    { name: "norm", tensor: mk([64], 3) },
    { name: "ids", tensor: Tensor.fromInts([1, -2, 3]) },
    { name: "w.3d", tensor: mk([2, 3, 32], 4) },
    { name: "w.tall", tensor: mk([4000, 256], 5) }, // converted in several ~1 MiB chunks
  ];
  return { metadata, tensors };
}

test("write → read round trip (f32, f16, q8_0)", () => {
  const dir = tmpDir();
  try {
    const content = sampleContent();
    const expected: Record<string, Record<string, string>> = {
      f32: { "w.big": "f32", "w.odd": "f32", norm: "f32", ids: "i32", "w.3d": "f32", "w.tall": "f32" },
      f16: { "w.big": "f16", "w.odd": "f16", norm: "f32", ids: "i32", "w.3d": "f16", "w.tall": "f16" },
      q8_0: { "w.big": "q8_0", "w.odd": "f16", norm: "f32", ids: "i32", "w.3d": "q8_0", "w.tall": "q8_0" },
    };
    for (const dtype of ["f32", "f16", "q8_0"] as const) {
      const p = path.join(dir, `m-${dtype}.gguf`);
      writeGGUF(p, content, { dtype });
      const f = readGGUF(p);
      assert.equal(f.version, 3);
      assert.equal(f.metadata.get("general.name"), "round trip ✓");
      assert.equal(f.metadataTypes.get("llama.block_count"), "u32");
      assert.equal(f.metadataTypes.get("llama.rope.freq_base"), "f32");
      assert.equal(f.metadataTypes.get("test.negative"), "i32");
      assert.equal(f.metadata.get("test.negative"), -5);
      assert.equal(f.metadataTypes.get("test.float"), "f32");
      assert.equal(f.metadata.get("test.flag"), false);
      assert.equal(f.metadataTypes.get("test.big"), "u64");
      assert.equal(f.metadata.get("test.big"), 2n ** 60n);
      assert.deepEqual(f.metadata.get("tokenizer.ggml.tokens"), ["<unk>", "a", "bé"]);
      assert.deepEqual(f.metadata.get("tokenizer.ggml.scores"), new Float32Array([0, -1, -2]));
      assert.deepEqual(f.metadata.get("tokenizer.ggml.token_type"), new Int32Array([2, 1, 1]));
      assert.equal(f.metadataTypes.get("test.nested"), "array");
      assert.deepEqual(f.metadata.get("test.nested"), [["x", "y"], new Int32Array([1, -2])]);
      for (const { name, tensor } of content.tensors) {
        const t = f.tensors.get(name)!;
        assert.equal(t.dtype, expected[dtype]![name], `${dtype} ${name}`);
        assert.deepEqual([...t.shape], [...tensor.shape]);
        if (tensor.dtype === "i32") {
          assert.deepEqual(t.toArray(), tensor.toArray());
          continue;
        }
        const want = tensor.f32();
        const got = asF32(t);
        for (let i = 0; i < want.length; i++) {
          if (t.dtype === "f32") assert.equal(got[i], want[i]);
          else if (t.dtype === "f16") assert.equal(got[i], halfToFloat(floatToHalf(want[i]!)));
          else assert.ok(Math.abs(got[i]! - want[i]!) <= (2 / 127) * 0.5 + 2e-3, `${name}[${i}]`);
        }
      }
      // a copy keeps the stored types: read → write (valueTypes from the reader) → read
      const p2 = path.join(dir, `copy-${dtype}.gguf`);
      writeGGUF(
        p2,
        {
          metadata: f.metadata,
          tensors: f.tensorInfos.map((i) => ({ name: i.name, tensor: f.tensors.get(i.name)! })),
        },
        { valueTypes: f.metadataTypes },
      );
      assert.deepEqual(fs.readFileSync(p2), fs.readFileSync(p));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("writer: alignment, overwrite refusal, explicit types, bad input", () => {
  const dir = tmpDir();
  try {
    const p = path.join(dir, "a.gguf");
    const t = Tensor.fromArray([1, 2, 3], [3]);
    writeGGUF(p, {
      metadata: { "general.alignment": 64, x: 1 },
      tensors: [
        { name: "a", tensor: t },
        { name: "b", tensor: t },
      ],
    });
    const f = readGGUF(p);
    assert.equal(f.alignment, 64);
    assert.ok(f.tensorInfos.every((i) => i.offset % 64 === 0));
    assert.deepEqual(f.tensors.get("b")!.toArray(), [1, 2, 3]);
    assert.throws(() => writeGGUF(p, { metadata: {}, tensors: [] }), /^Error: GGUF: .*already exists/);
    writeGGUF(p, { metadata: { y: 1.5 }, tensors: [] }, { overwrite: true, valueTypes: { y: "f64" } });
    const g = readGGUF(p);
    assert.equal(g.metadataTypes.get("y"), "f64");
    assert.equal(g.metadata.get("x"), undefined);
    assert.deepEqual(
      fs.readdirSync(dir).filter((n) => n.endsWith(".tmp")),
      [],
    );
    const q = path.join(dir, "b.gguf");
    assert.throws(
      () => writeGGUF(q, { metadata: { y: -1 }, tensors: [] }, { valueTypes: { y: "u32" } }),
      /GGUF:.*u32/,
    );
    assert.throws(
      () => writeGGUF(q, { metadata: { "general.alignment": 48 }, tensors: [] }),
      /GGUF:.*power of two/,
    );
    assert.throws(
      () =>
        writeGGUF(q, {
          metadata: {},
          tensors: [
            { name: "a", tensor: t },
            { name: "a", tensor: t },
          ],
        }),
      /GGUF: duplicate tensor/,
    );
    assert.equal(fs.existsSync(q), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a truncated copy of the real file gives a GGUF: error at every cut", () => {
  const dir = tmpDir();
  try {
    const raw = fs.readFileSync(TINY);
    const f = readGGUF(TINY, { metadataOnly: true });
    const cuts = new Set<number>([
      0,
      1,
      3,
      4,
      7,
      8,
      12,
      16,
      20,
      23,
      24,
      30,
      100,
      1000,
      f.dataOffset - 1,
      f.dataOffset,
    ]);
    for (let i = 1; i <= 14; i++) cuts.add(Math.floor((raw.length * i) / 15));
    cuts.add(raw.length - 1);
    const p = path.join(dir, "cut.gguf");
    for (const cut of cuts) {
      fs.writeFileSync(p, raw.subarray(0, cut));
      for (const metadataOnly of [false, true]) {
        assert.throws(
          () => readGGUF(p, { metadataOnly }),
          (e: unknown) => e instanceof Error && !(e instanceof RangeError) && e.message.startsWith("GGUF:"),
          `cut at ${cut}`,
        );
      }
    }
    assert.ok(cuts.size >= 30);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** A little-endian GGUF header builder for hostile inputs. */
class Hdr {
  parts: number[] = [];
  u8(v: number) {
    this.parts.push(v & 0xff);
    return this;
  }
  u32(v: number) {
    for (let i = 0; i < 4; i++) this.parts.push((v >>> (8 * i)) & 0xff);
    return this;
  }
  u64(v: number | bigint) {
    let b = BigInt(v);
    for (let i = 0; i < 8; i++, b >>= 8n) this.parts.push(Number(b & 0xffn));
    return this;
  }
  str(s: string) {
    const b = Buffer.from(s);
    this.u64(b.length);
    for (const x of b) this.parts.push(x);
    return this;
  }
  start(nTensors: number | bigint, nKV: number | bigint, version = 3) {
    return this.u32(0x46554747).u32(version).u64(nTensors).u64(nKV);
  }
  pad(n: number) {
    for (let i = 0; i < n; i++) this.parts.push(0);
    return this;
  }
  bytes() {
    return new Uint8Array(this.parts);
  }
}

test("hostile headers give one clear GGUF: error each", () => {
  const dir = tmpDir();
  try {
    const p = path.join(dir, "bad.gguf");
    const tensorInfo = (h: Hdr, dims: (number | bigint)[], type = 0, offset: number | bigint = 0) => {
      h.str("t").u32(dims.length);
      for (const d of dims) h.u64(d);
      return h.u32(type).u64(offset);
    };
    const cases: [string, Uint8Array, RegExp][] = [
      ["empty", new Uint8Array(0), /too short/],
      ["bad magic", new Hdr().u32(0x46554748).u32(3).u64(0).u64(0).bytes(), /bad magic/],
      ["version 1", new Hdr().start(0, 0, 1).bytes(), /unsupported version 1/],
      ["version 4", new Hdr().start(0, 0, 4).bytes(), /unsupported version 4/],
      ["big-endian", new Hdr().start(0, 0, 0x03000000).bytes(), /big-endian/],
      ["n_tensors 2^60", new Hdr().start(2n ** 60n, 0).bytes(), /tensor count/],
      ["n_tensors 2^64-1", new Hdr().start(2n ** 64n - 1n, 0).bytes(), /tensor count/],
      ["n_kv huge", new Hdr().start(0, 2n ** 40n).bytes(), /metadata count/],
      [
        "key length 2^60",
        new Hdr()
          .start(0, 1)
          .u64(2n ** 60n)
          .pad(16)
          .bytes(),
        /key #0 length/,
      ],
      [
        "string length 2^60",
        new Hdr()
          .start(0, 1)
          .str("k")
          .u32(8)
          .u64(2n ** 60n)
          .pad(16)
          .bytes(),
        /'k' length/,
      ],
      [
        "array count 2^40",
        new Hdr()
          .start(0, 1)
          .str("k")
          .u32(9)
          .u32(4)
          .u64(2n ** 40n)
          .pad(64)
          .bytes(),
        /count/,
      ],
      ["string array count", new Hdr().start(0, 1).str("k").u32(9).u32(8).u64(1000).pad(64).bytes(), /count/],
      ["unknown value type", new Hdr().start(0, 1).str("k").u32(13).pad(16).bytes(), /unknown value type 13/],
      [
        "unknown element type",
        new Hdr().start(0, 1).str("k").u32(9).u32(99).u64(1).pad(16).bytes(),
        /unknown/,
      ],
      [
        "duplicate key",
        new Hdr().start(0, 2).str("k").u32(4).u32(1).str("k").u32(4).u32(2).bytes(),
        /duplicate/,
      ],
      ["alignment 3", new Hdr().start(0, 1).str("general.alignment").u32(4).u32(3).bytes(), /alignment/],
      ["alignment 0", new Hdr().start(0, 1).str("general.alignment").u32(4).u32(0).bytes(), /alignment/],
      [
        "alignment as string",
        new Hdr().start(0, 1).str("general.alignment").u32(8).str("32").bytes(),
        /alignment/,
      ],
      ["n_dims 5", tensorInfo(new Hdr().start(1, 0), [1, 1, 1, 1, 1]).pad(64).bytes(), /5 dimensions/],
      [
        "dims overflow",
        tensorInfo(new Hdr().start(1, 0), [2n ** 32n, 2n ** 32n])
          .pad(64)
          .bytes(),
        /needs|too large/,
      ],
      [
        "dim 2^63",
        tensorInfo(new Hdr().start(1, 0), [2n ** 63n, 0])
          .pad(64)
          .bytes(),
        /too large/,
      ],
      [
        "offset beyond EOF",
        tensorInfo(new Hdr().start(1, 0), [4], 0, 2n ** 40n)
          .pad(64)
          .bytes(),
        /beyond/,
      ],
      ["data beyond EOF", tensorInfo(new Hdr().start(1, 0), [4], 0, 32).pad(40).bytes(), /beyond the end/],
      [
        "misaligned offset",
        tensorInfo(new Hdr().start(1, 0), [4], 0, 4).pad(80).bytes(),
        /not a multiple of the alignment/,
      ],
      [
        "Q5_K tensor",
        tensorInfo(new Hdr().start(1, 0), [256], 13).pad(256).bytes(),
        /'t' has ggml type Q5_K \(13\)/,
      ],
      [
        "unknown ggml type",
        tensorInfo(new Hdr().start(1, 0), [4], 999).pad(64).bytes(),
        /ggml type unknown \(999\)/,
      ],
      ["partial q8_0 row", tensorInfo(new Hdr().start(1, 0), [16], 8).pad(64).bytes(), /block size/],
      [
        "duplicate tensor",
        tensorInfo(tensorInfo(new Hdr().start(2, 0), [4]), [4])
          .pad(64)
          .bytes(),
        /duplicate tensor/,
      ],
    ];
    // arrays nested 10,000 deep: must be refused, not overflow the stack
    const deep = new Hdr().start(0, 1).str("k").u32(9);
    for (let i = 0; i < 10000; i++) deep.u32(9).u64(1);
    cases.push(["nested arrays", deep.u32(4).u64(0).bytes(), /nests arrays deeper/]);
    for (const [label, bytes, re] of cases) {
      fs.writeFileSync(p, bytes);
      const t0 = performance.now();
      assert.throws(
        () => readGGUF(p),
        (e: unknown) => {
          assert.ok(e instanceof Error && !(e instanceof RangeError), `${label}: ${String(e)}`);
          assert.match(e.message, /^GGUF: /, label);
          assert.match(e.message, re, label);
          return true;
        },
        label,
      );
      assert.ok(performance.now() - t0 < 1000, `${label} took too long`);
    }
    assert.throws(() => readGGUF(path.join(dir, "missing.gguf")), /^Error: GGUF: cannot open/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
