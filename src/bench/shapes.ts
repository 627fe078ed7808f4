// Model shapes the benchmark runs: published Llama sizes (llama2.c's stories15M / stories110M, TinyLlama-1.1B)
// with random weights (110m also in f32, the speculative benchmark's target; 1b also in q4_0, in q4_k, and in
// q4_k_m, llama.cpp's Q4_K_M mix of Q4_K and Q6_K that most published GGUF files use), plus a hidden `tiny` shape
// for tests.

/** A weight type, or q4_k_m: Q4_K with Q6_K for the output and some layers' attn_v and ffn_down (as llama.cpp). */
export type BenchDType = "f32" | "q8_0" | "q4_0" | "q4_k" | "q4_k_m";

export interface BenchShape {
  readonly name: string;
  readonly description: string;
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly ffn: number;
  readonly vocab: number;
  readonly ctx: number;
  readonly dtype: BenchDType;
  /** Left out of `--shapes all` and the help (test-only). */
  readonly hidden?: boolean;
  /** Left out of the default `--shapes` list (slow to generate). */
  readonly optIn?: boolean;
}

/** The published models' dimensions, each benchmarked in one or two weight types. */
const STORIES110M = {
  description: "stories110M",
  dim: 768,
  layers: 12,
  heads: 12,
  kvHeads: 12,
  ffn: 2048,
  vocab: 32000,
  ctx: 1024,
} as const;
const TINYLLAMA = {
  description: "TinyLlama-1.1B",
  dim: 2048,
  layers: 22,
  heads: 32,
  kvHeads: 4,
  ffn: 5632,
  vocab: 32000,
  ctx: 2048,
} as const;

export const SHAPES: readonly BenchShape[] = [
  {
    name: "15m",
    description: "stories15M",
    dim: 288,
    layers: 6,
    heads: 6,
    kvHeads: 6,
    ffn: 768,
    vocab: 32000,
    ctx: 256,
    dtype: "f32",
  },
  { name: "110m", ...STORIES110M, dtype: "q8_0" },
  { name: "110m-f32", ...STORIES110M, dtype: "f32", optIn: true },
  { name: "1b", ...TINYLLAMA, dtype: "q8_0", optIn: true },
  { name: "1b-q4_0", ...TINYLLAMA, dtype: "q4_0", optIn: true },
  { name: "1b-q4_k", ...TINYLLAMA, dtype: "q4_k", optIn: true },
  { name: "1b-q4_k_m", ...TINYLLAMA, dtype: "q4_k_m", optIn: true },
  {
    name: "tiny",
    description: "test shape",
    dim: 64,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    ffn: 128,
    vocab: 32000,
    ctx: 256,
    dtype: "f32",
    hidden: true,
  },
];

export const DEFAULT_SHAPES = SHAPES.filter((s) => !s.hidden && !s.optIn).map((s) => s.name);

/** "15m,110m" or "all" → shapes; throws with the known names on an unknown one. */
export function parseShapes(spec: string): BenchShape[] {
  const names =
    spec.trim() === "all"
      ? SHAPES.filter((s) => !s.hidden).map((s) => s.name)
      : spec.split(",").map((s) => s.trim().toLowerCase());
  return [...new Set(names)].map((n) => {
    const s = SHAPES.find((x) => x.name === n);
    if (!s) {
      const known = SHAPES.filter((x) => !x.hidden).map((x) => x.name);
      throw new Error(`unknown shape "${n}" (known: ${known.join(", ")}, all)`);
    }
    return s;
  });
}

/** Parameter count: embeddings, output head, and per layer attention, MLP and two norms. */
export function paramCount(s: BenchShape): number {
  const hd = s.dim / s.heads;
  const attn = s.dim * s.dim * 2 + s.dim * s.kvHeads * hd * 2;
  const mlp = 3 * s.dim * s.ffn;
  return 2 * s.vocab * s.dim + s.dim + s.layers * (attn + mlp + 2 * s.dim);
}
