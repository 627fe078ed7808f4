// Tests for the safetensors reader and writer: round trips, I64 narrowing, hostile and truncated files.

import assert from "node:assert/strict";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { readSafetensors, writeSafetensors } from "../src/io/safetensors.js";
import { Tensor } from "../src/tensor/tensor.js";
import { countingAllocator } from "./helpers/fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "decoderkit-safetensors-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A safetensors file from a header (object or raw JSON text) and data bytes; `len` overrides the length field. */
function rawFile(name: string, header: unknown, data: Uint8Array = new Uint8Array(0), len?: bigint): string {
  const json = Buffer.from(typeof header === "string" ? header : JSON.stringify(header));
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(len ?? BigInt(json.length));
  const p = join(dir, name);
  writeFileSync(p, Buffer.concat([head, json, data]));
  return p;
}

function sample(): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  m.set("a.weight", Tensor.fromArray([1, -2.5, 3, 4e-8, -0, Infinity], [2, 3]));
  // A transposed view and a narrowed view (offset into storage) are written as their logical values.
  m.set("a.transposed", Tensor.fromArray([1, 2, 3, 4, 5, 6], [2, 3]).transpose(0, 1));
  m.set("a.narrowed", Tensor.fromArray([1, 2, 3, 4, 5, 6], [3, 2]).narrow(0, 1, 2));
  m.set("half", Tensor.fromBytes("f16", [2, 2], new Uint8Array([0, 0x3c, 0, 0xc0, 0xff, 0x7b, 1, 0])));
  m.set("brain", Tensor.fromBytes("bf16", [3], new Uint8Array([0x80, 0x3f, 0x49, 0x40, 0x80, 0xff])));
  m.set("ids", Tensor.fromInts([7, -1, 2147483647, -2147483648], [4]));
  m.set("scalar", Tensor.fromArray([42], []));
  m.set("empty", Tensor.zeros([0, 5]));
  return m;
}

function bytesOf(t: Tensor): Uint8Array {
  return t.contiguous().bytes();
}

test("round trip of f32 (views included), f16, bf16, i32, scalar and empty tensors with metadata", () => {
  const p = join(dir, "round.safetensors");
  const tensors = sample();
  writeSafetensors(p, tensors, { metadata: { format: "pt", note: "ünïcode" } });
  const alloc = countingAllocator();
  const back = readSafetensors(p, { allocator: alloc });
  assert.deepEqual(back.metadata, { format: "pt", note: "ünïcode" });
  assert.deepEqual([...back.tensors.keys()], [...tensors.keys()]);
  for (const [k, t] of tensors) {
    const u = back.tensors.get(k)!;
    assert.equal(u.dtype, t.dtype, k);
    assert.deepEqual(u.shape, t.shape, k);
    assert.deepEqual(bytesOf(u), bytesOf(t), k);
  }
  assert.deepEqual(back.tensors.get("a.transposed")!.toArray(), [1, 4, 2, 5, 3, 6]);
  assert.deepEqual(back.tensors.get("a.narrowed")!.toArray(), [3, 4, 5, 6]);
  // Every tensor was read straight into memory from the given allocator.
  assert.deepEqual(alloc.requests, [24, 24, 16, 8, 6, 16, 4, 0]);

  const file = readFileSync(p);
  const n = Number(file.readBigUInt64LE(0));
  assert.equal((8 + n) % 8, 0, "data section starts 8-byte aligned");
  const header = file.subarray(8, 8 + n).toString("utf8");
  assert.match(header, /^\{.*\} *$/);
  assert.deepEqual(JSON.parse(header)["a.weight"], { dtype: "F32", shape: [2, 3], data_offsets: [0, 24] });
});

test("a record of tensors can be written; existing files are kept unless overwrite is set", () => {
  const p = join(dir, "record.safetensors");
  writeSafetensors(p, { x: Tensor.fromArray([1, 2]) });
  assert.throws(
    () => writeSafetensors(p, { x: Tensor.fromArray([3]) }),
    /^Error: safetensors: .* already exists/,
  );
  assert.deepEqual(readSafetensors(p).tensors.get("x")!.toArray(), [1, 2]);
  writeSafetensors(p, { x: Tensor.fromArray([3]) }, { overwrite: true });
  assert.deepEqual(readSafetensors(p).tensors.get("x")!.toArray(), [3]);
  assert.deepEqual(readSafetensors(p).metadata, {});
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.includes(".tmp-")),
    [],
    "no temporary files are left behind",
  );
});

test("quantized tensors are refused by the writer, and nothing is written", () => {
  const p = join(dir, "quant.safetensors");
  const q = Tensor.fromBytes("q8_0", [1, 32], new Uint8Array(34));
  assert.throws(
    () => writeSafetensors(p, { q }),
    /^Error: safetensors: cannot write tensor "q" of dtype q8_0: quantized dtypes have no safetensors encoding/,
  );
  assert.equal(existsSync(p), false);
  assert.throws(
    () => writeSafetensors(p, { x: Tensor.fromArray([1]) }, { metadata: { n: 3 as unknown as string } }),
    /metadata "n" must be a string/,
  );
});

test("I64 tensors are narrowed to i32 when every value fits, refused otherwise", () => {
  const data = Buffer.alloc(24);
  [5n, -3n, 2147483647n].forEach((v, i) => data.writeBigInt64LE(v, i * 8));
  const p = rawFile("i64.safetensors", { ids: { dtype: "I64", shape: [3], data_offsets: [0, 24] } }, data);
  const t = readSafetensors(p).tensors.get("ids")!;
  assert.equal(t.dtype, "i32");
  assert.deepEqual(t.toArray(), [5, -3, 2147483647]);
  data.writeBigInt64LE(2147483648n, 8);
  const q = rawFile(
    "i64-big.safetensors",
    { ids: { dtype: "I64", shape: [3], data_offsets: [0, 24] } },
    data,
  );
  assert.throws(
    () => readSafetensors(q),
    /^Error: safetensors: I64 tensor "ids" holds 2147483648, outside the int32 range/,
  );
});

test("hostile and malformed headers are refused with a safetensors error", () => {
  const d8 = new Uint8Array(8);
  const f = (shape: unknown, offsets: unknown, dtype: unknown = "F32") => ({
    t: { dtype, shape, data_offsets: offsets },
  });
  const cases: [string, unknown, Uint8Array, RegExp, bigint?][] = [
    ["len-past-file", "{}", d8, /header length 1000 exceeds the file/, 1000n],
    ["len-huge", "{}", d8, /header length 18446744073709551615 exceeds the file/, 2n ** 64n - 1n],
    ["bad-json", '{"t": {', d8, /header is not valid UTF-8 JSON/],
    ["not-object", "[1, 2]", d8, /header must be a JSON object/],
    ["f64", f([1], [0, 8], "F64"), d8, /tensor "t" has dtype F64, which is not supported/],
    ["u8", f([8], [0, 8], "U8"), d8, /tensor "t" has dtype U8, which is not supported/],
    ["no-dtype", f([2], [0, 8], 5), d8, /tensor "t" has no dtype string/],
    ["neg-shape", f([-2], [0, 8]), d8, /shape must be a list of non-negative integers/],
    ["frac-shape", f([1.5], [0, 8]), d8, /shape must be a list of non-negative integers/],
    ["huge-shape", f([2 ** 40, 2 ** 40], [0, 8]), d8, /too large/],
    ["offsets-out", f([2], [8, 16]), d8, /data_offsets \[8, 16\] run past the 8-byte data section/],
    ["offsets-huge", f([2 ** 30, 2 ** 20], [0, 2 ** 52]), d8, /run past the 8-byte data section/],
    ["offsets-bad", f([2], [0]), d8, /data_offsets must be two non-negative integers/],
    ["offsets-rev", f([0], [8, 0]), d8, /are reversed/],
    ["len-mismatch", f([1], [0, 8]), d8, /spans 8 bytes but F32 \[1\] needs 4/],
    ["entry-not-object", { t: 3 }, d8, /entry "t" is not an object/],
    ["meta-not-string", { __metadata__: { a: 1 } }, d8, /__metadata__\["a"\] is not a string/],
    [
      "overlap",
      {
        a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        b: { dtype: "F32", shape: [1], data_offsets: [4, 8] },
      },
      d8,
      /tensors "a" and "b" overlap/,
    ],
  ];
  for (const [name, header, data, re, len] of cases) {
    const p = rawFile(`${name}.safetensors`, header, data, len);
    const alloc = countingAllocator();
    const t0 = performance.now();
    assert.throws(
      () => readSafetensors(p, { allocator: alloc }),
      (e: Error) => e.message.startsWith("safetensors: ") && re.test(e.message),
      name,
    );
    assert.ok(performance.now() - t0 < 200, name);
    assert.deepEqual(alloc.requests, [], `${name} allocates nothing`);
  }
  assert.throws(() => readSafetensors(join(dir, "missing.safetensors")), /^Error: safetensors: cannot open/);
});

test("a header length over the 100 MB cap is refused without reading it", () => {
  const p = rawFile("sparse.safetensors", "{}", new Uint8Array(0), 150n * 1024n * 1024n);
  truncateSync(p, 200 * 1024 * 1024); // sparse: the file is long enough, the length is still refused
  const t0 = performance.now();
  assert.throws(
    () => readSafetensors(p),
    /^Error: safetensors: header length 157286400 exceeds the 104857600-byte cap/,
  );
  assert.ok(performance.now() - t0 < 200);
  rmSync(p);
});

test("truncated copies fail with a safetensors error at every cut point", () => {
  const p = join(dir, "full.safetensors");
  writeSafetensors(p, sample(), { metadata: { a: "b" } });
  const file = readFileSync(p);
  const cut = join(dir, "cut.safetensors");
  for (let n = 0; n < file.length; n++) {
    writeFileSync(cut, file.subarray(0, n));
    assert.throws(() => readSafetensors(cut), /^Error: safetensors: /, `cut at ${n}`);
  }
});
