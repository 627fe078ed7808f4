// Child-process entry for one engine run, so that each engine's peak RSS is its own: reads an EngineJob (JSON)
// from argv, sends one EngineResult to the parent over IPC (or prints it when run by hand), and exits.

import type { EngineJob, EngineResult, EngineTimings } from "./job.js";

async function run(job: EngineJob): Promise<EngineTimings> {
  if (job.engine === "llamacpp") return (await import("./run-llamacpp.js")).runLlamaCpp(job);
  if (job.engine === "speculative") return (await import("./speculative-run.js")).runSpeculative(job);
  if (job.engine === "prefix") return (await import("./prefix-run.js")).runPrefix(job);
  if (job.engine === "train") return (await import("./train-run.js")).runTrainSpeed(job);
  return (await import("./run-decoderkit.js")).runDecoderkit(job);
}

async function main(): Promise<void> {
  let result: EngineResult;
  try {
    const job = JSON.parse(process.argv[2] ?? "") as EngineJob;
    result = { ok: true, timings: await run(job) };
  } catch (e) {
    const unavailable = (e as { unavailable?: unknown }).unavailable === true;
    result = { ok: false, unavailable, error: (e as Error).message.split("\n")[0]! };
  }
  if (process.send) process.send(result, () => process.exit(0));
  else process.stdout.write(JSON.stringify(result) + "\n"); // run by hand, for debugging
}

void main();
