// The human-readable benchmark report: a header line describing the machine and the method, a table with one
// line per (shape, threads), and footnotes.

import type { BenchRow } from "./run.js";

export interface ReportContext {
  readonly cores: number;
  readonly cpu: string;
  readonly node: string;
  readonly nodeLlamaCpp: string | null;
  readonly backend: string;
  readonly promptTokens: number;
  readonly decodeTokens: number;
  readonly repeat: number;
  /** Alternating process runs per engine (--rounds); absent or 1 for one. */
  readonly rounds?: number;
}

const fmt = (x: number | null, digits = 1): string => (x === null ? "-" : x.toFixed(digits));
const mb = (b: number | null): string => (b === null ? "-" : (b / 1e6).toFixed(0));
const params = (n: number): string => (n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : `${(n / 1e6).toFixed(1)}M`);

/** A header and rows padded to each column's widest cell: the first `left` columns to the left, the rest right. */
export function columns(head: readonly string[], body: readonly string[][], left: number): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i < left ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(head), ...body.map(line)];
}

/** Columns padded to their widest cell (text left, numbers right), under group labels spanning columns. */
function layout(
  groups: readonly [first: number, span: number, label: string][],
  lines: string[][],
): string[] {
  const widths: number[] = [];
  for (const l of lines) l.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  const numeric = (c: string): boolean => /^[-\d.%/]+$/.test(c);
  const start = (i: number): number => widths.slice(0, i).reduce((a, w) => a + w + 2, 0);
  let top = "";
  for (const [first, span, label] of groups) {
    const width = start(first + span) - 2 - start(first);
    top = top.padEnd(start(first)) + `${label} `.padEnd(width, "-");
  }
  const rows = lines.map((l) =>
    l
      .map((c, i) => (numeric(c) && i > 0 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd(),
  );
  return [top, ...rows];
}

export function headerLine(c: ReportContext, llamaRelease: string | null): string {
  const llama = c.nodeLlamaCpp
    ? `node-llama-cpp ${c.nodeLlamaCpp}${llamaRelease ? ` (${llamaRelease})` : ""}`
    : "node-llama-cpp not installed";
  return (
    `decoderkit bench on ${c.cores} cores (${c.cpu}), node ${c.node}, ${llama}, decoderkit backend ${c.backend}: ` +
    `prompt ${c.promptTokens} tokens then ${c.decodeTokens} greedy decode steps after a warm-up` +
    `${c.repeat > 1 ? ` (fastest of ${c.repeat} passes)` : ""}` +
    `${(c.rounds ?? 1) > 1 ? `, each engine's fastest of ${c.rounds} alternating runs` : ""}; tok/s higher is better; ` +
    `ratio = decoderkit / llama.cpp; RSS = peak of each engine's own process; agree = leading greedy tokens that match`
  );
}

export function formatTable(rows: readonly BenchRow[], c: ReportContext): string {
  const release = rows.find((r) => r.llamacpp_version)?.llamacpp_version ?? null;
  const head = ["shape", "weights", "params", "threads", "decoderkit", "llama.cpp", "ratio"];
  head.push("decoderkit", "llama.cpp", "ratio", "decoderkit", "llama.cpp", "agree");
  const groups: [number, number, string][] = [
    [4, 3, "prefill tok/s"],
    [7, 3, "decode tok/s"],
    [10, 2, "peak RSS MB"],
  ];
  const body = rows.map((r) => [
    r.shape,
    r.dtype,
    params(r.params),
    String(r.threads),
    fmt(r.decoderkit_prefill_tok_s),
    fmt(r.llamacpp_prefill_tok_s),
    fmt(r.prefill_ratio, 3),
    fmt(r.decoderkit_decode_tok_s),
    fmt(r.llamacpp_decode_tok_s),
    fmt(r.decode_ratio, 3),
    mb(r.decoderkit_peak_rss_bytes),
    mb(r.llamacpp_peak_rss_bytes),
    r.agree_tokens === null ? "-" : `${r.agree_tokens}/${r.compared_tokens}`,
  ]);
  const out = [headerLine(c, release), "", ...layout(groups, [head, ...body]), ""];
  const fewer = rows.filter((r) => r.threads !== r.decoderkit_threads_used);
  if (fewer.length) {
    const used = [...new Set(fewer.map((r) => r.decoderkit_threads_used))].join("/");
    out.push(
      used === "1"
        ? `decoderkit ran single-threaded (backend ${c.backend}) where the threads column asks for more.`
        : `decoderkit ran on ${used} threads (backend ${c.backend}, capped at the cores) where the threads column asks for more.`,
    );
  }
  const errors = [...new Set(rows.map((r) => r.llamacpp_error).filter((e): e is string => e !== null))];
  for (const e of errors) out.push(e.startsWith("llama.cpp") ? e : `llama.cpp failed: ${e}`);
  return out.join("\n") + "\n";
}
