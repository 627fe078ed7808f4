// The --backend flag shared by generate, eval and bench.

import { BACKEND_NAMES, isBackendName, type BackendName } from "../backends/select.js";
import { UsageError } from "./args.js";

export function backendFlag(v: unknown): BackendName | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  if (!isBackendName(s))
    throw new UsageError(`--backend: unknown backend "${s}" (use ${BACKEND_NAMES.join(" or ")})`);
  return s;
}
