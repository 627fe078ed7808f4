// `--config FILE.json` for a command: a JSON object whose keys are the command's long flag names (without "--")
// and whose values are what the flag would take; flags given on the command line override it.

import * as fs from "node:fs";
import { UsageError, type Options } from "./args.js";

/** The file's settings as parseArgs values; unknown keys and ill-typed values are usage errors. */
export function readConfigFile(
  file: string,
  options: Options,
  exclude: readonly string[] = [],
): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(
      `${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`,
    );
  }
  if (!json || typeof json !== "object" || Array.isArray(json))
    throw new UsageError(`${file}: a config file must hold one JSON object of flag names and values`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    const opt = options[key];
    if (!opt || exclude.includes(key))
      throw new UsageError(`${file}: unknown key "${key}" (keys are the command's flag names, without --)`);
    if (opt.type === "boolean") {
      if (typeof value !== "boolean") throw new UsageError(`${file}: "${key}" must be true or false`);
      out[key] = value;
    } else {
      if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean")
        throw new UsageError(`${file}: "${key}" must be a string, number or boolean`);
      out[key] = String(value);
    }
  }
  return out;
}
