// Reads llama.cpp tokenizer test vectors (models/ggml-vocab-*.gguf.inp/.out) the way its
// tests/test-tokenizer-0 does: inputs split on "\n__ggml_vocab_test__\n", one line of ids per input.

import * as fs from "node:fs";

export interface VocabCase {
  text: string;
  ids: number[];
}

export function readVocabVectors(ggufPath: string): VocabCase[] {
  const raw = fs.readFileSync(`${ggufPath}.inp`, "utf8");
  const outLines = fs.readFileSync(`${ggufPath}.out`, "utf8").split("\n");
  if (outLines.at(-1) === "") outLines.pop();
  const sep = "\n__ggml_vocab_test__\n";
  const inputs: string[] = [];
  for (let pos = 0; pos < raw.length;) {
    const next = raw.indexOf(sep, pos);
    if (next < 0) {
      inputs.push(raw.slice(pos));
      break;
    }
    inputs.push(raw.slice(pos, next));
    pos = next + sep.length;
  }
  if (inputs.length !== outLines.length) {
    throw new Error(`${ggufPath}: ${inputs.length} inputs but ${outLines.length} expected lines`);
  }
  return inputs.map((text, i) => {
    const line = outLines[i]!.trim();
    return { text, ids: line === "" ? [] : line.split(" ").map(Number) };
  });
}
