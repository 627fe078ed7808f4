// Safetensors reader and writer (huggingface/safetensors format: u64 little-endian header length,
// a JSON header of {name: {dtype, shape, data_offsets}} plus "__metadata__", then raw little-endian data).

import { closeSync, existsSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { numel, type DType } from "../tensor/dtype.js";
import { getAllocator, type Allocator } from "../tensor/storage.js";
import { Tensor } from "../tensor/tensor.js";
import { readAt, withOpenFile } from "./fileio.js";

export interface SafetensorsFile {
  metadata: Record<string, string>;
  tensors: Map<string, Tensor>;
}

/** Largest JSON header we parse. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** File dtype → (our dtype, bytes per element in the file). I64 is narrowed to i32 on load. */
const FILE_DTYPES: Readonly<Record<string, { dtype: DType; bytes: number }>> = {
  F32: { dtype: "f32", bytes: 4 },
  F16: { dtype: "f16", bytes: 2 },
  BF16: { dtype: "bf16", bytes: 2 },
  I32: { dtype: "i32", bytes: 4 },
  I64: { dtype: "i32", bytes: 8 },
};

const WRITE_DTYPES: Partial<Record<DType, string>> = { f32: "F32", f16: "F16", bf16: "BF16", i32: "I32" };

function fail(msg: string): never {
  throw new Error(`safetensors: ${msg}`);
}

interface Entry {
  name: string;
  fileDtype: string;
  shape: number[];
  begin: number;
  end: number;
}

export function readSafetensors(path: string, opts: { allocator?: Allocator } = {}): SafetensorsFile {
  const allocator = opts.allocator ?? getAllocator();
  return withOpenFile(path, "safetensors", (fd, fileSize) => {
    if (fileSize < 8) fail(`file is ${fileSize} bytes, too short for the 8-byte header length`);
    const lenBytes = new Uint8Array(8);
    if (readAt(fd, lenBytes, 0) !== 8) fail("cannot read the header length");
    const headerLen = new DataView(lenBytes.buffer).getBigUint64(0, true);
    if (headerLen > BigInt(fileSize - 8))
      fail(`header length ${headerLen} exceeds the file (${fileSize} bytes)`);
    if (headerLen > BigInt(MAX_HEADER_BYTES))
      fail(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte cap`);
    const n = Number(headerLen);
    const headerBytes = new Uint8Array(n);
    if (readAt(fd, headerBytes, 8) !== n) fail("cannot read the header");
    const { metadata, entries } = parseHeader(headerBytes);
    const dataStart = 8 + n;
    checkLayout(entries, fileSize - dataStart);

    const tensors = new Map<string, Tensor>();
    for (const e of entries) tensors.set(e.name, readTensor(fd, e, dataStart, allocator));
    return { metadata, tensors };
  });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseHeader(bytes: Uint8Array): { metadata: Record<string, string>; entries: Entry[] } {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (!isPlainObject(json)) fail("header must be a JSON object");
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === "__metadata__") {
      if (!isPlainObject(value)) fail("__metadata__ must be an object of strings");
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== "string") fail(`__metadata__["${k}"] is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    if (!isPlainObject(value)) fail(`entry "${name}" is not an object`);
    const { dtype, shape, data_offsets: offsets } = value;
    if (typeof dtype !== "string") fail(`tensor "${name}" has no dtype string`);
    if (!Object.prototype.hasOwnProperty.call(FILE_DTYPES, dtype)) {
      fail(`tensor "${name}" has dtype ${dtype}, which is not supported (F32, F16, BF16, I32, I64)`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor "${name}" shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
    ) {
      fail(`tensor "${name}" data_offsets must be two non-negative integers, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`tensor "${name}" data_offsets [${begin}, ${end}] are reversed`);
    let count: number;
    try {
      count = numel(shape as number[]);
    } catch (e) {
      fail(`tensor "${name}": ${(e as Error).message}`);
    }
    const want = count * FILE_DTYPES[dtype]!.bytes;
    if (end - begin !== want) {
      fail(`tensor "${name}" spans ${end - begin} bytes but ${dtype} [${shape.join(", ")}] needs ${want}`);
    }
    entries.push({ name, fileDtype: dtype, shape: shape as number[], begin, end });
  }
  return { metadata, entries };
}

/** Offsets must lie inside the data section and must not overlap; sorts entries by offset. */
function checkLayout(entries: Entry[], dataLen: number): void {
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let reach = 0;
  let reachName = "";
  for (const e of entries) {
    if (e.end > dataLen) {
      fail(
        `tensor "${e.name}" data_offsets [${e.begin}, ${e.end}] run past the ${dataLen}-byte data section`,
      );
    }
    if (e.end > e.begin && e.begin < reach) fail(`tensors "${reachName}" and "${e.name}" overlap`);
    if (e.end > reach) {
      reach = e.end;
      reachName = e.name;
    }
  }
}

function readTensor(fd: number, e: Entry, dataStart: number, allocator: Allocator): Tensor {
  const { dtype } = FILE_DTYPES[e.fileDtype]!;
  const len = e.end - e.begin;
  const pos = dataStart + e.begin;
  if (e.fileDtype !== "I64") {
    const bytes = allocate(allocator, len, e.name);
    if (readAt(fd, bytes, pos) !== len) fail(`unexpected end of file in tensor "${e.name}"`);
    return Tensor.fromBytes(dtype, e.shape, bytes);
  }
  const raw = new Uint8Array(len);
  if (readAt(fd, raw, pos) !== len) fail(`unexpected end of file in tensor "${e.name}"`);
  const wide = new DataView(raw.buffer);
  const count = len / 8;
  const out = allocate(allocator, count * 4, e.name);
  const ints = new Int32Array(out.buffer, out.byteOffset, count);
  for (let i = 0; i < count; i++) {
    const v = wide.getBigInt64(i * 8, true);
    if (v < -2147483648n || v > 2147483647n)
      fail(`I64 tensor "${e.name}" holds ${v}, outside the int32 range`);
    ints[i] = Number(v);
  }
  return new Tensor("i32", e.shape, ints);
}

function allocate(allocator: Allocator, len: number, name: string): Uint8Array {
  try {
    return allocator.alloc(len).subarray(0, len);
  } catch (e) {
    fail(`cannot allocate ${len} bytes for tensor "${name}": ${(e as Error).message}`);
  }
}

export interface WriteSafetensorsOptions {
  metadata?: Record<string, string>;
  /** Replace an existing file (default: refuse). */
  overwrite?: boolean;
}

/**
 * Writes tensors (f32, f16, bf16, i32) in the given order. The file appears atomically: it is written
 * to a temporary file beside `path` and renamed into place.
 */
export function writeSafetensors(
  path: string,
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  opts: WriteSafetensorsOptions = {},
): void {
  const list = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = Object.create(null);
  if (opts.metadata) {
    for (const [k, v] of Object.entries(opts.metadata)) {
      if (typeof v !== "string") fail(`metadata "${k}" must be a string`);
    }
    header.__metadata__ = { ...opts.metadata };
  }
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of list) {
    if (name === "__metadata__" || name.length === 0) fail(`invalid tensor name "${name}"`);
    if (Object.prototype.hasOwnProperty.call(header, name)) fail(`duplicate tensor name "${name}"`);
    const fileDtype = WRITE_DTYPES[t.dtype];
    if (!fileDtype) {
      fail(
        `cannot write tensor "${name}" of dtype ${t.dtype}: quantized dtypes have no safetensors encoding (dequantize first)`,
      );
    }
    const bytes = t.contiguous().bytes();
    header[name] = {
      dtype: fileDtype,
      shape: [...t.shape],
      data_offsets: [offset, offset + bytes.byteLength],
    };
    blobs.push(bytes);
    offset += bytes.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const head = new Uint8Array(8 + padded).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);

  if (!opts.overwrite && existsSync(path))
    fail(`${path} already exists (pass overwrite: true to replace it)`);
  const tmp = `${path}.tmp-${process.pid}-${Date.now().toString(36)}`;
  const fd = openSync(tmp, "wx");
  let written = false;
  try {
    writeAll(fd, head);
    for (const b of blobs) writeAll(fd, b);
    written = true;
  } finally {
    closeSync(fd);
    if (!written) unlinkSync(tmp);
  }
  if (!opts.overwrite && existsSync(path)) {
    unlinkSync(tmp);
    fail(`${path} already exists (pass overwrite: true to replace it)`);
  }
  renameSync(tmp, path);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) {
    done += writeSync(fd, bytes, done, Math.min(bytes.byteLength - done, 1 << 30));
  }
}
