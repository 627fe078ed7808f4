// Runs one EngineJob in a fresh Node process (worker.js) and collects its EngineResult.

import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { EngineJob, EngineResult } from "./job.js";

const WORKER = fileURLToPath(new URL("./worker.js", import.meta.url));

export function runInChild(job: EngineJob, timeoutMs = 30 * 60_000): Promise<EngineResult> {
  return new Promise((resolve) => {
    const child = fork(WORKER, [JSON.stringify(job)], { stdio: ["ignore", "ignore", "pipe", "ipc"] });
    let result: EngineResult | null = null;
    let stderr = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (d: string) => {
      stderr = (stderr + d).slice(-4000);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("message", (m) => {
      result = m as EngineResult;
    });
    child.on("error", (e) => {
      result ??= { ok: false, unavailable: false, error: e.message };
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      const lastLine = stderr.trim().split("\n").pop() ?? "";
      resolve(
        result ?? {
          ok: false,
          unavailable: false,
          error: `${job.engine} worker exited (${signal ?? `code ${code}`})${lastLine ? `: ${lastLine}` : ""}`,
        },
      );
    });
  });
}
