// Flag parsing shared by the commands (node:util parseArgs, strict): unknown flags and bad values become
// one clear UsageError line.

import { parseArgs, type ParseArgsConfig } from "node:util";

export class UsageError extends Error {}

export type Options = NonNullable<ParseArgsConfig["options"]>;

export function parse(
  argv: string[],
  options: Options,
  maxPositionals = Infinity,
): { values: Record<string, unknown>; positionals: string[] } {
  let r;
  try {
    r = parseArgs({
      args: argv,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]!);
  }
  if (r.positionals.length > maxPositionals)
    throw new UsageError(`unexpected argument "${r.positionals[maxPositionals]}"`);
  return { values: r.values as Record<string, unknown>, positionals: r.positionals };
}

export function num(
  v: unknown,
  flag: string,
  check: (n: number) => boolean,
  what: string,
): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v).trim();
  const n = Number(s);
  if (s === "" || !Number.isFinite(n) || !check(n))
    throw new UsageError(`--${flag} must be ${what}, got "${String(v)}"`);
  return n;
}

export const isInt = (n: number): boolean => Number.isSafeInteger(n);
export const isNonNegInt = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;
export const isPosInt = (n: number): boolean => Number.isSafeInteger(n) && n > 0;

export function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}
