// Picks decoderkit's kernel backend by name at run time, the way `decoderkit generate` does: with no name,
// "wasm" where it initializes, else "reference". Backends other than the reference one are optional modules
// under backends/<name>/, imported by a computed URL so that a build without them still compiles and runs.

import "../backends/reference/index.js";
import { setBackend } from "../tensor/backend.js";
import type { Allocator } from "../tensor/storage.js";

/** Tried in order when no backend is named (generate's default). */
const AUTO_ORDER = ["wasm", "reference"];

export interface SelectedBackend {
  readonly name: string;
  /** Where weights must be loaded (a backend's own memory), if it has one. */
  readonly allocator?: Allocator;
  /** Threads the backend computes with. */
  readonly threads: number;
}

/**
 * What an optional backend module may export: an initializer returning its weight allocator (`arena`) and,
 * for a threaded backend, `setThreads` (resolving to the count in use).
 */
type InitFn = () => {
  backend: { arena?: Allocator; setThreads?: (n: number) => Promise<number> } | null;
  error: string | null;
};

async function activate(name: string, threads: number): Promise<SelectedBackend> {
  if (!/^[a-z][a-z0-9_-]*$/.test(name)) throw new Error(`bad backend name "${name}"`);
  if (name === "reference") {
    setBackend(name);
    return { name, threads: 1 };
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(new URL(`../backends/${name}/index.js`, import.meta.url).href)) as Record<
      string,
      unknown
    >;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND")
      throw new Error(`backend "${name}" is not in this build`);
    throw new Error(`backend "${name}" failed to load: ${(e as Error).message.split("\n")[0]}`);
  }
  const init = mod[`tryInit${name[0]!.toUpperCase()}${name.slice(1)}Backend`];
  let allocator: Allocator | undefined;
  let used = 1;
  if (typeof init === "function") {
    const { backend, error } = (init as InitFn)();
    if (!backend) throw new Error(`backend "${name}" cannot run here: ${error ?? "unknown reason"}`);
    allocator = backend.arena;
    if (backend.setThreads) used = await backend.setThreads(threads);
  }
  setBackend(name); // throws when the module did not register it
  return { name, allocator, threads: used };
}

/**
 * Activates `name` (or generate's default when undefined) with up to `threads` threads where it can use them,
 * and returns it with its allocator.
 */
export async function selectBackend(name: string | undefined, threads = 1): Promise<SelectedBackend> {
  if (name !== undefined) return activate(name, threads);
  for (const n of AUTO_ORDER) {
    try {
      return await activate(n, threads);
    } catch {
      // try the next one
    }
  }
  throw new Error("no backend could be activated");
}
