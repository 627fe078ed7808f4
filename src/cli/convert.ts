// `decoderkit convert`: write a checkpoint as a Hugging Face safetensors folder or a GGUF file.

import { readCheckpoint } from "../io/checkpoint.js";
import { writeGGUFFile, writeHFFolder } from "../io/export.js";
import type { GGUFVocab } from "../tokenizers/tokenizer.js";
import { loadTokenizer } from "../tokenizers/load.js";
import { parse, str, UsageError } from "./args.js";

export const CONVERT_HELP = `Usage: decoderkit convert IN OUT --to safetensors|gguf [options]

Writes IN (any supported checkpoint) as a Hugging Face folder OUT (config.json + model.safetensors)
or as a GGUF file OUT that llama.cpp loads.

Options:
  --to FORMAT        safetensors or gguf (required)
  --dtype D          f32 (default), f16, or q8_0 (gguf only)
  --tokenizer PATH   tokenizer to embed (gguf) or copy beside the weights (safetensors)
  --force            replace existing output files
  -h, --help         this help
`;

function vocabOf(tok: unknown): GGUFVocab | undefined {
  const t = tok as { ggufVocab?: () => GGUFVocab };
  return typeof t.ggufVocab === "function" ? t.ggufVocab() : undefined;
}

export async function convertCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(
    argv,
    {
      to: { type: "string" },
      dtype: { type: "string" },
      tokenizer: { type: "string" },
      force: { type: "boolean" },
    },
    2,
  );
  if (v["help"]) {
    process.stdout.write(CONVERT_HELP);
    return 0;
  }
  const [input, output] = positionals;
  if (!input || !output) throw new UsageError("give IN and OUT");
  const to = str(v["to"]);
  if (to !== "safetensors" && to !== "gguf")
    throw new UsageError(`--to must be safetensors or gguf, got "${to ?? ""}"`);
  const dtype = str(v["dtype"]) ?? "f32";
  if (dtype !== "f32" && dtype !== "f16" && dtype !== "q8_0")
    throw new UsageError(`--dtype must be f32, f16 or q8_0, got "${dtype}"`);
  if (to === "safetensors" && dtype === "q8_0")
    throw new UsageError("safetensors holds f32 or f16; use --to gguf for q8_0");
  const overwrite = v["force"] === true;
  const tokPath = str(v["tokenizer"]);
  const ck = readCheckpoint(input);
  if (to === "safetensors") {
    writeHFFolder(output, ck, { dtype: dtype as "f32" | "f16", tokenizerFile: tokPath, overwrite });
  } else {
    const vocab = tokPath ? vocabOf(await loadTokenizer(tokPath)) : undefined;
    if (tokPath && !vocab)
      throw new Error(
        `${tokPath}: this tokenizer cannot be embedded in GGUF (need a SentencePiece-style vocabulary)`,
      );
    writeGGUFFile(output, ck, { dtype: dtype as "f32" | "f16" | "q8_0", vocab, overwrite });
  }
  process.stderr.write(`wrote ${output}\n`);
  return 0;
}
