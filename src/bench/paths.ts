// Where the benchmark finds things: the package root, the shared Llama vocabulary, the model cache, and the
// installed node-llama-cpp version (read from its package.json, so the binding itself is never loaded here).

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

/** The nearest folder above this module whose package.json names decoderkit. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = path.join(dir, "package.json");
    if (fs.existsSync(pj)) {
      try {
        if ((JSON.parse(fs.readFileSync(pj, "utf8")) as { name?: string }).name === "decoderkit") return dir;
      } catch {
        // not ours; keep climbing
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error("cannot find the decoderkit package root");
    dir = up;
  }
}

/** llama.cpp's SentencePiece test vocabulary (32000 tokens) in the shared data beside the repository. */
export function defaultVocabPath(): string {
  return path.resolve(packageRoot(), "../shared/vocab/ggml-vocab-llama-spm.gguf");
}

export function defaultCacheDir(): string {
  return path.join(os.homedir(), ".cache", "decoderkit", "bench");
}

/** The installed node-llama-cpp version, or null when it is not installed. */
export function nodeLlamaCppVersion(): string | null {
  try {
    const pj = path.join(packageRoot(), "node_modules", "node-llama-cpp", "package.json");
    const v = (JSON.parse(fs.readFileSync(pj, "utf8")) as { version?: unknown }).version;
    return typeof v === "string" ? v : null;
  } catch {
    return null;
  }
}
