// Element types: f32 compute type, f16/bf16 storage, and GGML block-quantized weight formats
// (Q8_0, Q4_0, Q4_1, Q4_K, Q6_K) that are kept as their raw blocks, never expanded at load.

export type DType = "f32" | "f16" | "bf16" | "i32" | "q8_0" | "q4_0" | "q4_1" | "q4_k" | "q6_k";

export interface DTypeInfo {
  /** Elements per block (1 for plain types). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly blockBytes: number;
  readonly quantized: boolean;
}

export const DTYPES: Readonly<Record<DType, DTypeInfo>> = {
  f32: { blockSize: 1, blockBytes: 4, quantized: false },
  i32: { blockSize: 1, blockBytes: 4, quantized: false },
  f16: { blockSize: 1, blockBytes: 2, quantized: false },
  bf16: { blockSize: 1, blockBytes: 2, quantized: false },
  q8_0: { blockSize: 32, blockBytes: 34, quantized: true },
  q4_0: { blockSize: 32, blockBytes: 18, quantized: true },
  q4_1: { blockSize: 32, blockBytes: 20, quantized: true },
  q4_k: { blockSize: 256, blockBytes: 144, quantized: true },
  q6_k: { blockSize: 256, blockBytes: 210, quantized: true },
};

export function isDType(s: string): s is DType {
  return Object.prototype.hasOwnProperty.call(DTYPES, s);
}

/** Bytes needed for a row-major tensor of `shape`; the last dimension must be a whole number of blocks. */
export function byteSize(dtype: DType, shape: readonly number[]): number {
  const info = DTYPES[dtype];
  const n = numel(shape);
  if (info.blockSize > 1) {
    const inner = shape.length ? shape[shape.length - 1]! : 1;
    if (inner % info.blockSize !== 0) {
      throw new Error(`${dtype} needs the last dimension (${inner}) to be a multiple of ${info.blockSize}`);
    }
  }
  return (n / info.blockSize) * info.blockBytes;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0)
      throw new Error(`bad dimension ${d} in shape [${shape.join(", ")}]`);
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new Error(`shape [${shape.join(", ")}] is too large`);
  return n;
}
