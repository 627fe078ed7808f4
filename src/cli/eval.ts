// `decoderkit eval`: mean next-token cross-entropy and perplexity of a model over a text file.

import * as fs from "node:fs";
import { activateBackend } from "../backends/select.js";
import { defaultWasmThreads } from "../backends/wasm/index.js";
import { perplexity } from "../eval/perplexity.js";
import { loadModel } from "../models/load.js";
import { isPosInt, num, parse, str, UsageError } from "./args.js";
import { backendFlag } from "./backend-flag.js";
import { BUNDLED_MODEL, BUNDLED_TOKENIZER } from "./defaults.js";

export const EVAL_HELP = `Usage: decoderkit eval --data FILE [options]

Mean next-token cross-entropy (nats) and perplexity over FILE, in windows of the model's context length.

Options:
  --model PATH        checkpoint (default: the bundled stories260K)
  --tokenizer PATH    tokenizer file or folder
  --data FILE         UTF-8 text to score (required)
  --doc-sep TEXT      split the text into documents at TEXT (escapes \\n and \\t understood);
                      each document starts with BOS, as in training
  --max-tokens N      score only the first N tokens
  --window N          window length (default: the context length)
  --backend NAME      reference | wasm (default: wasm where it runs)
  --threads N         threads for the wasm kernels (default: min(2, cores))
  --json              print {"tokens", "loss", "perplexity"}
  -h, --help          this help
`;

export async function evalCommand(argv: string[]): Promise<number> {
  const { values: v } = parse(
    argv,
    {
      model: { type: "string" },
      tokenizer: { type: "string" },
      data: { type: "string" },
      "doc-sep": { type: "string" },
      "max-tokens": { type: "string" },
      window: { type: "string" },
      backend: { type: "string" },
      threads: { type: "string" },
      json: { type: "boolean" },
    },
    0,
  );
  if (v["help"]) {
    process.stdout.write(EVAL_HELP);
    return 0;
  }
  const data = str(v["data"]);
  if (!data) throw new UsageError("--data FILE is required");
  const maxTokens = num(v["max-tokens"], "max-tokens", isPosInt, "a positive integer");
  const window = num(v["window"], "window", (n) => isPosInt(n) && n >= 2, "an integer >= 2");
  const threads = num(v["threads"], "threads", isPosInt, "a positive integer") ?? defaultWasmThreads();
  const backend = backendFlag(v["backend"]);
  let text: string;
  try {
    text = fs.readFileSync(data, "utf8");
  } catch {
    throw new Error(`${data}: cannot read the file`);
  }
  const modelPath = str(v["model"]) ?? BUNDLED_MODEL;
  const tokPath = str(v["tokenizer"]) ?? (v["model"] === undefined ? BUNDLED_TOKENIZER : undefined);
  const active = await activateBackend(backend, threads);
  const loaded = await loadModel(modelPath, { tokenizer: tokPath, allocator: active.allocator });
  if (!loaded.tokenizer) throw new Error(`${modelPath}: no tokenizer found; pass --tokenizer`);
  const sep = str(v["doc-sep"])?.replace(/\\n/g, "\n").replace(/\\t/g, "\t");
  const docs = sep ? text.split(sep).filter((d) => d.length > 0) : [text];
  const ids: number[] = [];
  for (const d of docs) {
    if (loaded.addBos && loaded.bosId !== null) ids.push(loaded.bosId);
    for (const id of loaded.tokenizer.encode(d)) ids.push(id);
    if (maxTokens !== undefined && ids.length >= maxTokens) break;
  }
  const scored = maxTokens !== undefined ? ids.slice(0, maxTokens) : ids;
  const r = perplexity(loaded.model, scored, { window });
  if (v["json"])
    process.stdout.write(JSON.stringify({ tokens: r.tokens, loss: r.loss, perplexity: r.perplexity }) + "\n");
  else
    process.stdout.write(
      `tokens ${r.tokens}  loss ${r.loss.toFixed(4)} nats  perplexity ${r.perplexity.toFixed(3)}\n`,
    );
  return 0;
}
