// Shared definitions for the GGUF container (ggml's model file format, versions 2 and 3):
// metadata value types, the ggml tensor type ids we map to our DType, and the public value shapes.

import type { DType } from "../tensor/dtype.js";

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as little-endian u32
export const GGUF_DEFAULT_ALIGNMENT = 32;
export const GGUF_MAX_DIMS = 4;

/** Metadata value type names, in the order of their GGUF ids (gguf_type). */
export const GGUF_VALUE_TYPES = [
  "u8",
  "i8",
  "u16",
  "i16",
  "u32",
  "i32",
  "f32",
  "bool",
  "string",
  "array",
  "u64",
  "i64",
  "f64",
] as const;
export type GGUFScalarType = Exclude<(typeof GGUF_VALUE_TYPES)[number], "array">;
/** A value's type: a scalar name, `T[]` for an array of scalars, or "array" for nested arrays. */
export type GGUFType = GGUFScalarType | `${GGUFScalarType}[]` | "array";

/**
 * A metadata value as read: every integer/float type is a number (u64/i64 become bigint when not a
 * safe integer), bool a boolean, string a string. Arrays: u8/i8/u16/i16/u32/i32/f32/f64 arrays are
 * typed arrays (Uint8Array ... Float64Array), u64/i64 arrays are BigUint64Array/BigInt64Array,
 * bool and string arrays are plain arrays, and nested arrays are GGUFValue[].
 */
export type GGUFValue =
  | number
  | bigint
  | boolean
  | string
  | GGUFNumericArray
  | boolean[]
  | string[]
  | number[]
  | bigint[]
  | GGUFValue[];

export type GGUFNumericArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array;

export interface GGUFTensorInfo {
  name: string;
  /** Row-major shape (GGUF's ne[] reversed). */
  shape: number[];
  dtype: DType;
  /** Absolute byte offset of the tensor data in the file (data section start + stored offset). */
  offset: number;
  byteLength: number;
}

/** ggml_type ids of the tensor types we read and write. */
export const GGML_TYPE_OF: Readonly<Record<DType, number>> = {
  f32: 0,
  f16: 1,
  q4_0: 2,
  q4_1: 3,
  q8_0: 8,
  q4_k: 12,
  q6_k: 14,
  i32: 26,
  bf16: 30,
};

export const DTYPE_OF_GGML: ReadonlyMap<number, DType> = new Map(
  Object.entries(GGML_TYPE_OF).map(([k, v]) => [v, k as DType]),
);

/** Names of the other ggml types, for error messages. */
export const GGML_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: "F32",
  1: "F16",
  2: "Q4_0",
  3: "Q4_1",
  4: "Q4_2 (removed)",
  5: "Q4_3 (removed)",
  6: "Q5_0",
  7: "Q5_1",
  8: "Q8_0",
  9: "Q8_1",
  10: "Q2_K",
  11: "Q3_K",
  12: "Q4_K",
  13: "Q5_K",
  14: "Q6_K",
  15: "Q8_K",
  16: "IQ2_XXS",
  17: "IQ2_XS",
  18: "IQ3_XXS",
  19: "IQ1_S",
  20: "IQ4_NL",
  21: "IQ3_S",
  22: "IQ2_S",
  23: "IQ4_XS",
  24: "I8",
  25: "I16",
  26: "I32",
  27: "I64",
  28: "F64",
  29: "IQ1_M",
  30: "BF16",
  34: "TQ1_0",
  35: "TQ2_0",
  39: "MXFP4",
};
