// Paths and small helpers shared by the tests (tests run from the repository root).

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const SHARED = path.resolve("../shared");
export const STORIES_BIN = path.join(SHARED, "models/stories260K/stories260K.bin");
export const STORIES_TOK = path.join(SHARED, "models/stories260K/tok512.bin");
export const TINY_LLAMA_GGUF = path.join(SHARED, "models/tiny-random-llama-gguf/llama-2-tiny-random.gguf");
export const CLI = path.resolve("dist/cli/main.js");

/** The greedy sample published in the stories260K model card. */
export function modelCardSample(): string {
  const card = fs.readFileSync(path.join(SHARED, "models/stories260K/MODEL_CARD.md"), "utf8");
  const m =
    /\$ \.\/run stories260K\/stories260K\.bin -z stories260K\/tok512\.bin -t 0\.0\n([\s\S]*?)\n```/.exec(
      card,
    );
  if (!m) throw new Error("greedy sample not found in MODEL_CARD.md");
  return m[1]!;
}

export function runCli(
  args: string[],
  opts: { timeout?: number; env?: Record<string, string> } = {},
): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: "utf8",
    timeout: opts.timeout ?? 120_000,
    env: opts.env ? { ...process.env, ...opts.env } : undefined,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "decoderkit-test-"));
}
