// Which kernel module runs: "relaxed" (WebAssembly relaxed SIMD: i32x4.relaxed_dot_i8x16_i7x16_add_s for the
// Q8_0/Q4_0 integer dots) where the runtime validates it, else "baseline" (SIMD only); DECODERKIT_WASM_SIMD or
// an explicit choice forces one. On Node 20 relaxed SIMD sits behind a V8 flag, set here at run time.

import type { WasmApi } from "./runtime.js";

export const SIMD_VARIANTS = ["baseline", "relaxed"] as const;
export type SimdVariant = (typeof SIMD_VARIANTS)[number];
/** A variant, or "auto": DECODERKIT_WASM_SIMD when set, else relaxed where it validates. */
export type SimdChoice = SimdVariant | "auto";

/** The environment variable that forces a variant (baseline | relaxed | auto). */
export const SIMD_ENV = "DECODERKIT_WASM_SIMD";

export function isSimdChoice(s: string): s is SimdChoice {
  return s === "auto" || (SIMD_VARIANTS as readonly string[]).includes(s);
}

/** () → v128: v128.const 0 ×3, i32x4.relaxed_dot_i8x16_i7x16_add_s (0xfd 0x113): valid only with relaxed SIMD. */
function probeModule(): Uint8Array {
  const c = [0xfd, 12, ...new Array<number>(16).fill(0)];
  const body = [0, ...c, ...c, ...c, 0xfd, 0x93, 0x02, 0x0b];
  const code = [1, body.length, ...body];
  const head = [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7b, 3, 2, 1, 0];
  return new Uint8Array([...head, 10, code.length, ...code]);
}

/** V8's switch for relaxed SIMD on Node < 22 (process.getBuiltinModule exists from Node 20.16). */
function enableV8RelaxedSimd(): void {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const v8 = proc?.getBuiltinModule?.("node:v8") as { setFlagsFromString?: (f: string) => void } | undefined;
  v8?.setFlagsFromString?.("--experimental-wasm-relaxed-simd");
}

let relaxedSupported: boolean | null = null;

/** Whether this runtime runs relaxed SIMD (turning on V8's flag first where it is off). */
export function relaxedSimdSupported(wa: WasmApi): boolean {
  if (relaxedSupported === null) {
    const probe = probeModule();
    relaxedSupported = wa.validate(probe);
    if (!relaxedSupported) {
      try {
        enableV8RelaxedSimd();
      } catch {
        // no V8 flags here: baseline
      }
      relaxedSupported = wa.validate(probe);
    }
  }
  return relaxedSupported;
}

/** DECODERKIT_WASM_SIMD (lower-cased), or "auto" when unset or empty; throws on other values. */
export function simdChoiceFromEnv(): SimdChoice {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const v = (env?.[SIMD_ENV] ?? "").trim().toLowerCase();
  if (v === "") return "auto";
  if (!isSimdChoice(v)) throw new Error(`${SIMD_ENV}=${v}: use baseline, relaxed or auto`);
  return v;
}

/** The variant to run for `choice` ("auto" defers to DECODERKIT_WASM_SIMD, then to what validates). */
export function resolveSimdVariant(choice: SimdChoice, wa: WasmApi): SimdVariant {
  if (!isSimdChoice(choice))
    throw new Error(`wasm: unknown SIMD variant "${String(choice)}" (use baseline, relaxed or auto)`);
  const want = choice === "auto" ? simdChoiceFromEnv() : choice;
  if (want === "baseline") return "baseline";
  const ok = relaxedSimdSupported(wa);
  if (want === "relaxed" && !ok)
    throw new Error(
      "wasm: relaxed SIMD was asked for but this runtime does not validate it (needs Node >= 20.16, Node >= 22 " +
        "or Chrome >= 114)",
    );
  return ok ? "relaxed" : "baseline";
}
