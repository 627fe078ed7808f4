// `decoderkit tokenize`: token ids (and pieces) of a text, with or without special tokens.

import * as fs from "node:fs";
import { readGGUF } from "../io/gguf.js";
import { loadModel } from "../models/load.js";
import { tokenizerFromGGUF } from "../tokenizers/from-gguf.js";
import { loadTokenizer } from "../tokenizers/load.js";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import { parse, str, UsageError } from "./args.js";
import { BUNDLED_MODEL, BUNDLED_TOKENIZER } from "./defaults.js";

export const TOKENIZE_HELP = `Usage: decoderkit tokenize [options] [--] TEXT

Prints the token ids of TEXT (no BOS/EOS unless --add-special). Use -- before a TEXT that starts with a dash.

Options:
  --model PATH        checkpoint or vocabulary-only GGUF (default: the bundled stories260K)
  --tokenizer PATH    tokenizer file or folder
  --add-special       add BOS/EOS as the tokenizer does for model input
  --json              print {"ids": [...], "pieces": [...]}
  -h, --help          this help
`;

async function tokenizerFor(model: string | undefined, tok: string | undefined): Promise<Tokenizer> {
  if (tok) return loadTokenizer(tok);
  if (!model) return loadTokenizer(BUNDLED_TOKENIZER);
  if (fs.existsSync(model) && fs.statSync(model).isFile()) {
    const fd = fs.openSync(model, "r");
    const b = Buffer.alloc(4);
    fs.readSync(fd, b, 0, 4, 0);
    fs.closeSync(fd);
    if (b.toString("latin1") === "GGUF")
      return tokenizerFromGGUF(readGGUF(model, { metadataOnly: true }).metadata);
  }
  const loaded = await loadModel(model);
  if (!loaded.tokenizer) throw new Error(`${model}: no tokenizer found; pass --tokenizer`);
  return loaded.tokenizer;
}

export async function tokenizeCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(
    argv,
    {
      model: { type: "string" },
      tokenizer: { type: "string" },
      "add-special": { type: "boolean" },
      json: { type: "boolean" },
    },
    1,
  );
  if (v["help"]) {
    process.stdout.write(TOKENIZE_HELP);
    return 0;
  }
  const text = positionals[0];
  if (text === undefined) throw new UsageError("give the TEXT to tokenize");
  const model = str(v["model"]);
  const tok = await tokenizerFor(
    model === undefined && !v["tokenizer"] ? undefined : (model ?? BUNDLED_MODEL),
    str(v["tokenizer"]),
  );
  const ids = tok.encode(text, { addSpecial: v["add-special"] === true });
  if (v["json"])
    process.stdout.write(JSON.stringify({ ids, pieces: ids.map((i) => tok.idToPiece(i)) }) + "\n");
  else process.stdout.write(ids.map((i) => `${i}\t${JSON.stringify(tok.idToPiece(i))}`).join("\n") + "\n");
  return 0;
}
