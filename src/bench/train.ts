// The training-speed rows of the benchmark (opt-in, `bench --train N`): N AdamW steps of nanoGPT's Shakespeare-char
// CPU recipe shape in decoderkit (a child process, train-run.ts) and in PyTorch (tools/nanogpt_torch_speed.py with
// Debian's /usr/bin/python3 and the same thread count, OpenBLAS threads included), side by side.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { runInChild } from "./child.js";
import { columns } from "./table.js";
import { packageRoot } from "./paths.js";
import { TRAIN_SHAPE } from "./train-run.js";

export interface TrainBenchOptions {
  readonly threads: readonly number[];
  readonly steps: number;
  readonly backend: string;
  /** Python with torch (default /usr/bin/python3, else python3 on the PATH). */
  readonly python?: string;
  readonly onProgress?: (line: string) => void;
  readonly onRow?: (row: TrainRow) => void;
}

export interface TrainRow {
  kind: "train";
  shape: string;
  backend: string;
  threads: number;
  threads_used: number;
  steps: number;
  ms_per_iter: number;
  tokens_per_s: number;
  first_loss: number;
  last_loss: number;
  pytorch_ms_per_iter: number | null;
  /** decoderkit ms / PyTorch ms (lower is better; the target is at most 1.0). */
  ms_ratio: number | null;
  pytorch_error: string | null;
}

const r2 = (x: number): number => Math.round(x * 100) / 100;

function pythonPath(o: TrainBenchOptions): string {
  return o.python ?? (fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
}

/** PyTorch's ms per step, or the reason it could not run. */
function torchRun(o: TrainBenchOptions, threads: number): { ms: number } | { error: string } {
  const script = path.join(packageRoot(), "tools", "nanogpt_torch_speed.py");
  if (!fs.existsSync(script))
    return { error: "PyTorch not available (tools/nanogpt_torch_speed.py is not installed)" };
  const r = spawnSync(pythonPath(o), [script, "--threads", String(threads), "--iters", String(o.steps)], {
    encoding: "utf8",
    env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) },
    timeout: 30 * 60_000,
  });
  const line = (r.stdout ?? "").trim().split("\n").pop() ?? "";
  try {
    const j = JSON.parse(line) as { ms_per_iter?: unknown };
    if (typeof j.ms_per_iter === "number") return { ms: j.ms_per_iter };
  } catch {
    // fall through
  }
  const why = (r.stderr ?? "").trim().split("\n").pop() || r.error?.message || `exit ${r.status}`;
  return { error: `PyTorch not available (${why})` };
}

export async function runTrainBench(o: TrainBenchOptions): Promise<TrainRow[]> {
  const say = o.onProgress ?? ((): void => {});
  const s = TRAIN_SHAPE;
  const shape = `gpt ${s.layers}x${s.dim} ctx${s.context} b${s.batch}`;
  const rows: TrainRow[] = [];
  for (const threads of o.threads) {
    say(`train ${shape} threads=${threads}: decoderkit (${o.backend})`);
    const res = await runInChild({
      engine: "train",
      modelPath: "",
      promptIds: [],
      decodeTokens: 0,
      threads,
      repeat: 1,
      backend: o.backend,
      trainSteps: o.steps,
    });
    if (!res.ok) throw new Error(`train bench: ${res.error}`);
    const t = res.timings.train!;
    say(`train ${shape} threads=${threads}: PyTorch`);
    const pt = torchRun(o, threads);
    const ptMs = "ms" in pt ? pt.ms : null;
    const row: TrainRow = {
      kind: "train",
      shape,
      backend: o.backend,
      threads,
      threads_used: res.timings.threadsUsed,
      steps: t.steps,
      ms_per_iter: r2(t.msPerStep),
      tokens_per_s: r2((s.batch * s.context) / (t.msPerStep / 1000)),
      first_loss: Math.round(t.firstLoss * 1e4) / 1e4,
      last_loss: Math.round(t.lastLoss * 1e4) / 1e4,
      pytorch_ms_per_iter: ptMs === null ? null : r2(ptMs),
      ms_ratio: ptMs === null ? null : Math.round((t.msPerStep / ptMs) * 1000) / 1000,
      pytorch_error: "error" in pt ? pt.error : null,
    };
    o.onRow?.(row);
    rows.push(row);
  }
  return rows;
}

export function formatTrainTable(rows: readonly TrainRow[]): string {
  if (!rows.length) return "";
  const head = ["shape", "threads", "decoderkit ms/iter", "PyTorch ms/iter", "ratio", "tokens/s"];
  const body = rows.map((r) => [
    r.shape,
    String(r.threads_used),
    r.ms_per_iter.toFixed(1),
    r.pytorch_ms_per_iter === null ? "-" : r.pytorch_ms_per_iter.toFixed(1),
    r.ms_ratio === null ? "-" : r.ms_ratio.toFixed(2),
    r.tokens_per_s.toFixed(0),
  ]);
  const errors = [...new Set(rows.map((r) => r.pytorch_error).filter((e): e is string => e !== null))];
  return [
    "",
    `training speed (nanoGPT's Shakespeare-char CPU recipe shape, AdamW with clipping, random data, ${rows[0]!.steps} ` +
      "steps after a warm-up; ratio = decoderkit ms / PyTorch ms, lower is better):",
    "",
    ...columns(head, body, 1),
    ...errors.map((e) => `(${e})`),
    "",
  ].join("\n");
}
