// `decoderkit inspect`: architecture, parameter count, dtypes and memory of a checkpoint.

import { readCheckpoint } from "../io/checkpoint.js";
import { ARCHITECTURES, architectureOf } from "../models/registry.js";
import { parse, UsageError } from "./args.js";

export const INSPECT_HELP = `Usage: decoderkit inspect [--json] PATH

Prints the architecture, parameter count, tensor dtypes and memory of a checkpoint.
`;

export async function inspectCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, { json: { type: "boolean" } }, 1);
  if (v["help"]) {
    process.stdout.write(INSPECT_HELP);
    return 0;
  }
  const p = positionals[0];
  if (!p) throw new UsageError("give the PATH of a checkpoint");
  const ck = readCheckpoint(p);
  let params = 0;
  let bytes = 0;
  const dtypes: Record<string, number> = {};
  for (const t of ck.tensors.values()) {
    params += t.size;
    bytes += t.byteLength;
    dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
  }
  const info = {
    path: p,
    format: ck.format,
    architecture: architectureOf(ck.config),
    supported: ARCHITECTURES[architectureOf(ck.config)] !== undefined,
    parameters: params,
    tensors: ck.tensors.size,
    dtypes,
    bytes,
    config: ck.config,
  };
  if (v["json"]) {
    process.stdout.write(JSON.stringify(info) + "\n");
    return 0;
  }
  const lines = [
    `format        ${info.format}`,
    `architecture  ${info.architecture}${info.supported ? "" : " (not supported)"}`,
    `parameters    ${params.toLocaleString("en-US")}`,
    `tensors       ${info.tensors} (${Object.entries(dtypes)
      .map(([d, n]) => `${n} ${d}`)
      .join(", ")})`,
    `memory        ${(bytes / 2 ** 20).toFixed(2)} MiB`,
  ];
  for (const k of [
    "hidden_size",
    "n_embd",
    "num_hidden_layers",
    "n_layer",
    "num_attention_heads",
    "n_head",
    "num_key_value_heads",
    "intermediate_size",
    "vocab_size",
    "max_position_embeddings",
    "n_positions",
  ]) {
    if (ck.config[k] !== undefined) lines.push(`${k.padEnd(14)}${String(ck.config[k])}`);
  }
  process.stdout.write(lines.join("\n") + "\n");
  return 0;
}
