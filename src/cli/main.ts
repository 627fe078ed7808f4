#!/usr/bin/env node
// The decoderkit command line: generate, eval, tokenize, inspect, convert, bench, train. Errors print one line and exit non-zero.

import "../backends/reference/index.js";
import { UsageError } from "./args.js";
import { benchCommand } from "./bench.js";
import { convertCommand } from "./convert.js";
import { evalCommand } from "./eval.js";
import { generateCommand } from "./generate.js";
import { inspectCommand } from "./inspect.js";
import { tokenizeCommand } from "./tokenize.js";
import { trainCommand } from "./train.js";

const HELP = `Usage: decoderkit <command> [options]

Commands:
  generate   stream a continuation of a prompt (default model: the bundled stories260K)
  eval       cross-entropy and perplexity of a model over a text file
  tokenize   token ids of a text
  inspect    architecture, parameters, dtypes and memory of a checkpoint
  convert    write a checkpoint as a Hugging Face safetensors folder or a GGUF file
  train      train a character-level GPT-2 on a text file (nanoGPT's recipe)
  bench      decoderkit's prefill and decode speed beside llama.cpp's on random-weight Llama models

Run "decoderkit <command> --help" for a command's options.
`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  generate: generateCommand,
  eval: evalCommand,
  tokenize: tokenizeCommand,
  inspect: inspectCommand,
  convert: convertCommand,
  bench: benchCommand,
  train: trainCommand,
};

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === "--help" || cmd === "-h" || cmd === "help") {
    process.stdout.write(HELP);
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === "--version" || cmd === "-v") {
    process.stdout.write("decoderkit 0.1.0\n");
    return 0;
  }
  const run = COMMANDS[cmd];
  if (!run) throw new UsageError(`unknown command "${cmd}" (try: ${Object.keys(COMMANDS).join(", ")})`);
  return run(rest);
}

process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(
      `decoderkit: ${e instanceof UsageError ? "usage: " : "error: "}${msg.split("\n")[0]}\n`,
    );
    process.exitCode = e instanceof UsageError ? 2 : 1;
  },
);
