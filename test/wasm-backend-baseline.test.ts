// The wasm backend suite (wasm-backend.test.ts) again on the baseline SIMD kernel module, forced through
// DECODERKIT_WASM_SIMD (inherited by the CLI runs it spawns); the suite itself runs the relaxed-SIMD module
// wherever the runtime validates it.

process.env["DECODERKIT_WASM_SIMD"] = "baseline";
await import("./wasm-backend.test.js");
