// Tests for the PyTorch zip checkpoint reader, its restricted unpickler and the zip reader: a real
// torch.save file checked against a PyTorch dump, hand-built archives, hostile pickles and zips.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { deflateRawSync } from "node:zlib";
import { unpickle, PyCallable, PyTuple } from "../src/io/pickle.js";
import { readPytorchBin } from "../src/io/pytorch.js";
import { crc32, openZip } from "../src/io/zip.js";
import { countingAllocator } from "./helpers/fixtures.js";

const T5 = "../shared/models/tiny-random-t5/pytorch_model.bin";
const FIXTURE = "test/fixtures/t5-tensors.json";
const PREFIX = /^Error: (zip|pickle|pytorch): /;
const dir = mkdtempSync(join(tmpdir(), "decoderkit-pytorch-"));
after(() => rmSync(dir, { recursive: true, force: true }));

// ---- builders: a pickle writer for the opcodes torch.save uses, and a zip writer ----

class Pickle {
  readonly bytes: number[] = [0x80, 2];
  op(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }
  str(s: string): this {
    const b = Buffer.from(s, "utf8");
    const n = Buffer.alloc(4);
    n.writeUInt32LE(b.length);
    return this.op(0x58, ...n, ...b);
  }
  int(v: number): this {
    if (v < 256) return this.op(0x4b, v);
    if (v < 65536) return this.op(0x4d, v & 0xff, v >> 8);
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    return this.op(0x4a, ...b);
  }
  global(module: string, name: string): this {
    return this.op(0x63, ...Buffer.from(`${module}\n${name}\n`, "latin1"));
  }
  tuple(items: number[]): this {
    this.op(0x28);
    for (const v of items) this.int(v);
    return this.op(0x74);
  }
  emptyOrderedDict(): this {
    return this.global("collections", "OrderedDict").op(0x29, 0x52);
  }
  tensor(t: TensorSpec): this {
    this.global("torch._utils", "_rebuild_tensor_v2").op(0x28);
    this.op(0x28).str("storage").global("torch", t.storage).str(t.key).str("cpu").int(t.numel).op(0x74, 0x51);
    this.int(t.offset ?? 0)
      .tuple(t.size)
      .tuple(t.stride);
    return this.op(0x89).emptyOrderedDict().op(0x74, 0x52);
  }
  parameter(t: TensorSpec): this {
    this.global("torch._utils", "_rebuild_parameter").op(0x28).tensor(t);
    return this.op(0x88).emptyOrderedDict().op(0x74, 0x52);
  }
  done(): Uint8Array {
    return new Uint8Array([...this.bytes, 0x2e]);
  }
}

interface TensorSpec {
  storage: string;
  key: string;
  numel: number;
  offset?: number;
  size: number[];
  stride: number[];
}

interface ZipInput {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
}

function buildZip(entries: ZipInput[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, "utf8");
    const body = e.deflate ? deflateRawSync(e.data) : Buffer.from(e.data);
    const crc = crc32(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(e.deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(e.deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

function floats(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

function longs(values: bigint[]): Uint8Array {
  return new Uint8Array(new BigInt64Array(values).buffer);
}

/** A torch-style archive with one data.pkl and raw storages. */
function torchZip(
  pkl: Uint8Array,
  storages: Record<string, Uint8Array>,
  opts: { deflate?: boolean; dir?: string } = {},
): Buffer {
  const d = opts.dir ?? "archive";
  return buildZip([
    { name: `${d}/data.pkl`, data: pkl, deflate: opts.deflate },
    { name: `${d}/byteorder`, data: Buffer.from("little") },
    ...Object.entries(storages).map(([k, data]) => ({ name: `${d}/data/${k}`, data, deflate: opts.deflate })),
    { name: `${d}/version`, data: Buffer.from("3\n") },
  ]);
}

function save(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/** A state dict with f32 (strided, offset, shared storage), f16, bf16, i64 and a Parameter; torch.load reads it. */
export function mixedArchive(deflate = false): Buffer {
  const p = new Pickle().emptyOrderedDict().op(0x28);
  p.str("w").tensor({ storage: "FloatStorage", key: "0", numel: 6, size: [2, 3], stride: [3, 1] });
  p.str("w_t").tensor({ storage: "FloatStorage", key: "0", numel: 6, size: [3, 2], stride: [1, 3] });
  p.str("row1").tensor({ storage: "FloatStorage", key: "0", numel: 6, offset: 3, size: [3], stride: [1] });
  p.str("half").tensor({ storage: "HalfStorage", key: "1", numel: 4, size: [2, 2], stride: [1, 2] });
  p.str("brain").tensor({ storage: "BFloat16Storage", key: "2", numel: 2, size: [2], stride: [1] });
  p.str("ids").tensor({ storage: "LongStorage", key: "3", numel: 3, size: [3], stride: [1] });
  p.str("bias").parameter({ storage: "FloatStorage", key: "4", numel: 2, size: [2], stride: [1] });
  p.str("step").int(7);
  p.op(0x75); // SETITEMS
  p.op(0x7d, 0x28).str("_metadata").emptyOrderedDict().op(0x75, 0x62); // BUILD with {_metadata: OrderedDict()}
  return torchZip(
    p.done(),
    {
      "0": floats([1, 2, 3, 4, 5, 6]),
      "1": new Uint8Array([0x00, 0x3c, 0x00, 0x40, 0x00, 0x42, 0x00, 0x44]), // 1, 2, 3, 4
      "2": new Uint8Array([0x80, 0x3f, 0x40, 0xc0]), // 1, -3
      "3": longs([5n, -1n, 2147483647n]),
      "4": floats([0.5, -0.5]),
    },
    { deflate },
  );
}

// ---- the real file against the PyTorch dump ----

test("tiny-random-t5 pytorch_model.bin matches the PyTorch dump tensor by tensor", () => {
  const want = JSON.parse(readFileSync(FIXTURE, "utf8")).tensors as Record<
    string,
    { shape: number[]; dtype: string; sum: number; first: number[] }
  >;
  const { tensors } = readPytorchBin(T5);
  assert.deepEqual([...tensors.keys()], Object.keys(want));
  assert.equal(tensors.size, 113);
  for (const [name, w] of Object.entries(want)) {
    const t = tensors.get(name)!;
    assert.equal(w.dtype, "float32");
    assert.equal(t.dtype, "f32", name);
    assert.deepEqual(t.shape, w.shape, name);
    const v = t.f32();
    assert.deepEqual(Array.from(v.subarray(0, 4)), w.first, name);
    let sum = 0;
    for (const x of v) sum += x;
    assert.ok(Math.abs(sum - w.sum) <= 1e-9 * v.length + 1e-12, `${name}: sum ${sum} vs ${w.sum}`);
  }
  assert.deepEqual(tensors.get("shared.weight")!.shape, [1302, 32]);
  assert.deepEqual(
    tensors.get("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight")!.shape,
    [8, 4],
  );
});

// ---- hand-built archives ----

test("hand-built archives: strides, offsets, shared storage, f16, bf16, i64 and parameters, stored or deflated", () => {
  for (const deflate of [false, true]) {
    const alloc = countingAllocator();
    const { tensors } = readPytorchBin(save(`mixed-${deflate}.pt`, mixedArchive(deflate)), {
      allocator: alloc,
    });
    assert.deepEqual([...tensors.keys()], ["w", "w_t", "row1", "half", "brain", "ids", "bias"]);
    assert.deepEqual(tensors.get("w")!.toArray(), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(tensors.get("w_t")!.shape, [3, 2]);
    assert.deepEqual(tensors.get("w_t")!.toArray(), [1, 4, 2, 5, 3, 6]);
    assert.deepEqual(tensors.get("row1")!.toArray(), [4, 5, 6]);
    const half = tensors.get("half")!;
    assert.equal(half.dtype, "f16");
    // stride (1, 2) is a transpose: logical [[1, 3], [2, 4]].
    assert.deepEqual(Array.from(half.bytes()), [0x00, 0x3c, 0x00, 0x42, 0x00, 0x40, 0x00, 0x44]);
    assert.equal(tensors.get("brain")!.dtype, "bf16");
    assert.deepEqual(Array.from(tensors.get("brain")!.bytes()), [0x80, 0x3f, 0x40, 0xc0]);
    assert.equal(tensors.get("ids")!.dtype, "i32");
    assert.deepEqual(tensors.get("ids")!.toArray(), [5, -1, 2147483647]);
    assert.deepEqual(tensors.get("bias")!.toArray(), [0.5, -0.5]);
    // Storage "0" is read once and shared; every read goes to the given allocator.
    // storages 0 (read once, copied for w_t), 1 (+ transposed copy), 2, 3 (+ i32 copy), 4
    assert.deepEqual(alloc.requests, [24, 24, 8, 8, 4, 24, 12, 8]);
  }
});

test("legacy (non-zip) torch.save files get a clear message", () => {
  const legacy = new Uint8Array([
    0x80, 2, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
  ]);
  assert.throws(
    () => readPytorchBin(save("legacy.pt", legacy)),
    /^Error: pytorch: legacy \(pre-1\.6, non-zip\)/,
  );
});

test("the archive folder name may vary", () => {
  const pkl = new Pickle().op(0x7d, 0x28);
  pkl
    .str("x")
    .tensor({ storage: "IntStorage", key: "k", numel: 2, size: [2], stride: [1] })
    .op(0x75);
  const bytes = torchZip(
    pkl.done(),
    { k: new Uint8Array(new Int32Array([3, -4]).buffer) },
    { dir: "my_model" },
  );
  assert.deepEqual(readPytorchBin(save("dir.pt", bytes)).tensors.get("x")!.toArray(), [3, -4]);
});

// ---- hostile pickles ----

function loadPickle(name: string, pkl: Uint8Array, storages: Record<string, Uint8Array> = {}): () => unknown {
  const p = save(name, torchZip(pkl, storages));
  return () => readPytorchBin(p);
}

test("a pickle calling os.system is refused before anything runs", () => {
  const pkl = new Pickle()
    .global("os", "system")
    .op(0x28)
    .str("echo pwned > /tmp/pwned")
    .op(0x74, 0x52)
    .done();
  assert.throws(
    loadPickle("os-system.pt", pkl),
    (e: Error) => e.message === "pickle: refused global os.system (only tensor-rebuild globals are allowed)",
  );
  const viaStack = new Pickle()
    .str("builtins")
    .str("eval")
    .op(0x93)
    .op(0x28)
    .str("1+1")
    .op(0x74, 0x52)
    .done();
  assert.throws(
    loadPickle("eval.pt", viaStack),
    /^Error: pickle: refused global builtins\.eval \(only tensor-rebuild/,
  );
  const getattr = new Pickle().global("__builtin__", "getattr").done();
  assert.throws(loadPickle("getattr.pt", getattr), /^Error: pickle: refused global __builtin__\.getattr/);
  const torchLoad = new Pickle().global("torch", "load").done();
  assert.throws(loadPickle("torch-load.pt", torchLoad), /^Error: pickle: refused global torch\.load/);
  const storageCall = new Pickle().global("torch", "FloatStorage").op(0x29, 0x52).done();
  assert.throws(
    loadPickle("storage-call.pt", storageCall),
    /^Error: pytorch: torch\.FloatStorage may only name a storage type/,
  );
});

test("hostile pickle streams are refused with a pickle error", () => {
  const len = (op: number, n: number, bytes: number) => {
    const b = Buffer.alloc(bytes);
    b.writeUIntLE(n, 0, bytes);
    return new Uint8Array([0x80, 2, op, ...b, 0x2e]);
  };
  const cases: [string, Uint8Array, RegExp][] = [
    [
      "huge-binunicode",
      len(0x58, 0xfffffff0, 4),
      /BINUNICODE needs 4294967280 bytes at offset 7, only 1 left/,
    ],
    ["huge-short", len(0x8c, 200, 1), /SHORT_BINUNICODE needs 200 bytes/],
    [
      "huge-frame",
      new Uint8Array([0x80, 4, 0x95, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x4e, 0x2e]),
      /FRAME of \d+ bytes runs past/,
    ],
    [
      "inst",
      new Uint8Array([0x80, 2, 0x69, 0x6f, 0x73, 0x0a]),
      /unsupported opcode INST \(0x69\) at offset 2/,
    ],
    ["unknown", new Uint8Array([0x80, 2, 0xff, 0x2e]), /unsupported opcode unknown \(0xff\) at offset 2/],
    [
      "long4",
      new Uint8Array([0x80, 2, 0x8b, 0xff, 0xff, 0xff, 0x7f, 0x2e]),
      /unsupported opcode LONG4 \(0x8b\)/,
    ],
    ["underflow", new Uint8Array([0x80, 2, 0x52, 0x2e]), /stack underflow/],
    ["no-mark", new Uint8Array([0x80, 2, 0x74, 0x2e]), /no MARK before offset/],
    ["memo", new Uint8Array([0x80, 2, 0x68, 9, 0x2e]), /memo key 9 is not defined/],
    ["no-stop", new Uint8Array([0x80, 2, 0x4e]), /data ended before STOP/],
    ["proto", new Uint8Array([0x80, 9, 0x4e, 0x2e]), /unsupported protocol 9/],
    [
      "reduce-non-callable",
      new Uint8Array([0x80, 2, 0x4e, 0x29, 0x52, 0x2e]),
      /REDUCE on something that is not an allowed callable/,
    ],
    ["setitem-list", new Uint8Array([0x80, 2, 0x5d, 0x4e, 0x4e, 0x73, 0x2e]), /SETITEM on a non-dict/],
    ["global-unterminated", new Uint8Array([0x80, 2, 0x63, 0x6f, 0x73]), /unterminated GLOBAL module/],
    ["two-values", new Uint8Array([0x80, 2, 0x4e, 0x4e, 0x2e]), /STOP with 2 values on the stack/],
  ];
  for (const [name, pkl, re] of cases) {
    const t0 = performance.now();
    assert.throws(
      loadPickle(`${name}.pt`, pkl),
      (e: Error) => e.message.startsWith("pickle: ") && re.test(e.message),
      name,
    );
    assert.ok(performance.now() - t0 < 200, name);
  }
});

test("a dict that contains itself is refused instead of recursing forever", () => {
  // {} BINPUT 0, "x", BINGET 0, SETITEM: d["x"] = d
  const pkl = new Pickle().op(0x7d, 0x71, 0).str("x").op(0x68, 0, 0x73).done();
  assert.throws(loadPickle("cycle.pt", pkl), /^Error: pytorch: dicts are nested more than 32 deep/);
  // {"k": {"k": ... {} ...}} nested 100,000 deep: the unpickler is iterative, the walk is bounded.
  const deep = new Pickle();
  for (let i = 0; i < 100000; i++) deep.op(0x7d).str("k");
  deep.op(0x7d);
  for (let i = 0; i < 100000; i++) deep.op(0x73);
  assert.throws(loadPickle("deep.pt", deep.done()), /^Error: pytorch: dicts are nested more than 32 deep/);
});

test("storages and views that do not fit their data are refused", () => {
  const one = (t: TensorSpec) => new Pickle().op(0x7d).str("t").tensor(t).op(0x73).done();
  const f = { storage: "FloatStorage", key: "0", numel: 4, size: [4], stride: [1] };
  const data = { "0": floats([1, 2, 3, 4]) };
  const cases: [string, Uint8Array, Record<string, Uint8Array>, RegExp][] = [
    ["missing-entry", one({ ...f, key: "9" }), data, /storage "9" has no entry archive\/data\/9/],
    [
      "numel-too-big",
      one({ ...f, numel: 1_000_000_000 }),
      data,
      /storage "0" holds 16 bytes, 4000000000 needed/,
    ],
    ["view-overrun", one({ ...f, size: [2, 3], stride: [3, 1] }), data, /overruns its 4-element storage/],
    ["offset-overrun", one({ ...f, offset: 4, size: [1] }), data, /overruns its 4-element storage/],
    [
      "huge-size",
      one({ ...f, size: [65535, 65535, 65535, 65535, 65535], stride: [0, 0, 0, 0, 0] }),
      data,
      /is too large/,
    ],
    [
      "double",
      one({ ...f, storage: "DoubleStorage", numel: 2, size: [2] }),
      data,
      /float64 \(DoubleStorage\) tensors are not supported/,
    ],
    [
      "i64-range",
      one({ ...f, storage: "LongStorage", numel: 1, size: [1] }),
      { "0": longs([1n << 40n]) },
      /int64 value 1099511627776 does not fit in int32/,
    ],
  ];
  for (const [name, pkl, storages, re] of cases) {
    const alloc = countingAllocator();
    const p = save(`${name}.pt`, torchZip(pkl, storages));
    assert.throws(
      () => readPytorchBin(p, { allocator: alloc }),
      (e: Error) => e.message.startsWith("pytorch: ") && re.test(e.message),
      name,
    );
    assert.ok(
      alloc.requests.every((n) => n <= 64),
      `${name}: ${alloc.requests}`,
    );
  }
});

test("the unpickler only calls what the allowlist provides", () => {
  const calls: string[] = [];
  const globals = new Map([
    ["m.f", new PyCallable("m", "f", (args) => (calls.push(String(args[0])), new PyTuple(args)))],
  ]);
  const pkl = new Pickle().global("m", "f").op(0x28).str("hi").op(0x74, 0x52).done();
  const v = unpickle(pkl, { globals });
  assert.ok(v instanceof PyTuple);
  assert.deepEqual(v.items, ["hi"]);
  assert.deepEqual(calls, ["hi"]);
  assert.throws(
    () => unpickle(new Pickle().global("m", "g").done(), { globals }),
    /refused global m\.g \(only allowlisted globals/,
  );
  const pid = new Pickle().str("x").op(0x51).done();
  assert.throws(() => unpickle(pid, { globals }), /persistent ids are not allowed here/);
});

// ---- zip hostility and truncation ----

test("hostile zip structures are refused with a zip error", () => {
  const good = mixedArchive();
  const eocd = good.length - 22;
  const patched = (name: string, at: number, value: number, bytes = 4): string => {
    const b = Buffer.from(good);
    b.writeUIntLE(value, at, bytes);
    return save(name, b);
  };
  const cdOffset = good.readUInt32LE(eocd + 16);
  const cases: [string, string, RegExp][] = [
    [
      "not-zip",
      save("not-zip.pt", Buffer.from("just some text, no archive here")),
      /no end of central directory/,
    ],
    ["tiny", save("tiny.pt", Buffer.from("PK")), /too small/],
    [
      "cd-offset",
      patched("cd-offset.pt", eocd + 16, 0xfffffff0),
      /zip64 archives are not supported|runs past the end record/,
    ],
    ["cd-size", patched("cd-size.pt", eocd + 12, 0x7ffffff0), /runs past the end record/],
    ["count", patched("count.pt", eocd + 10, 0xfffe, 2), /cannot fit|multi-disk/],
    ["zip64", patched("zip64.pt", eocd + 16, 0xffffffff), /zip64 archives are not supported/],
    ["method", patched("method.pt", cdOffset + 10, 12, 2), /compression method 12/],
    ["encrypted", patched("encrypted.pt", cdOffset + 8, 1, 2), /is encrypted/],
    ["entry-size", patched("entry-size.pt", cdOffset + 24, 0xfffffff0), /has different sizes|needs zip64/],
    [
      "entry-offset",
      patched("entry-offset.pt", cdOffset + 42, 0x7ffffff0),
      /runs into the central directory/,
    ],
    ["local-sig", patched("local-sig.pt", 0, 0x12345678), /bad local header signature/],
  ];
  for (const [name, p, re] of cases) {
    const alloc = countingAllocator();
    assert.throws(
      () => readPytorchBin(p, { allocator: alloc }),
      (e: Error) => e.message.startsWith("zip: ") && re.test(e.message),
      name,
    );
    assert.deepEqual(alloc.requests, [], name);
  }
  const deflated = Buffer.from(mixedArchive(true));
  const cd2 = deflated.readUInt32LE(deflated.length - 22 + 16);
  deflated.writeUInt32LE(0x7fffffff, cd2 + 24); // claims 2 GB from a few compressed bytes
  assert.throws(
    () => openZip(save("ratio.pt", deflated)),
    /^Error: zip: entry ".*" claims 2147483647 bytes from \d+ compressed/,
  );
  const crc = Buffer.from(mixedArchive(true));
  crc.writeUInt32LE(0, crc.readUInt32LE(crc.length - 22 + 16) + 16); // CRC of data.pkl
  assert.throws(
    () => readPytorchBin(save("crc.pt", crc)),
    /^Error: zip: CRC-32 mismatch in "archive\/data.pkl"/,
  );
});

test("truncated copies of the T5 checkpoint fail with a format error", () => {
  const file = readFileSync(T5);
  const cuts = [0, 1, 4, 30, 100, 13000, file.length - 23, file.length - 22, file.length - 1];
  for (let i = 0; i < 40; i++) cuts.push(Math.floor(((i + 0.5) / 40) * file.length));
  const p = join(dir, "cut.pt");
  for (const cut of cuts) {
    writeFileSync(p, file.subarray(0, cut));
    assert.throws(() => readPytorchBin(p), PREFIX, `cut at ${cut}`);
  }
});

test("data.pkl cut at every byte, or with bytes flipped, fails cleanly inside a valid zip", () => {
  const pkl = new Pickle().emptyOrderedDict().op(0x28);
  pkl.str("w").tensor({ storage: "FloatStorage", key: "0", numel: 6, size: [2, 3], stride: [3, 1] });
  pkl
    .str("ids")
    .tensor({ storage: "LongStorage", key: "1", numel: 2, size: [2], stride: [1] })
    .op(0x75);
  const full = pkl.done();
  const storages = { "0": floats([1, 2, 3, 4, 5, 6]), "1": longs([1n, 2n]) };
  const p = join(dir, "pkl-cut.pt");
  for (let n = 0; n < full.length; n++) {
    writeFileSync(p, torchZip(full.subarray(0, n), storages));
    assert.throws(() => readPytorchBin(p), PREFIX, `cut at ${n}`);
  }
  // Seeded byte flips: either a clean load or a prefixed Error, never a crash or another error type.
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / (1 << 24);
  for (let i = 0; i < 300; i++) {
    const bad = Uint8Array.from(full);
    for (let k = 0; k < 3; k++) bad[Math.floor(rand() * bad.length)] = Math.floor(rand() * 256);
    writeFileSync(p, torchZip(bad, storages));
    try {
      readPytorchBin(p);
    } catch (e) {
      assert.match(String(e), PREFIX, `flip round ${i}`);
    }
  }
});

test("whole-archive byte flips give a clean load or a prefixed Error", () => {
  const good = mixedArchive(true);
  let seed = 99;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / (1 << 24);
  const p = join(dir, "flip.pt");
  for (let i = 0; i < 300; i++) {
    const bad = Buffer.from(good);
    for (let k = 0; k < 2; k++) bad[Math.floor(rand() * bad.length)] = Math.floor(rand() * 256);
    writeFileSync(p, bad);
    try {
      readPytorchBin(p, { allocator: countingAllocator() });
    } catch (e) {
      assert.match(String(e), PREFIX, `flip round ${i}`);
    }
  }
});
