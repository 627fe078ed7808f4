// The Q4_K/Q6_K wasm suite (wasm-kquant.test.ts) again on the baseline SIMD kernel module, forced through
// DECODERKIT_WASM_SIMD; the suite itself runs the relaxed-SIMD module wherever the runtime validates it.

process.env["DECODERKIT_WASM_SIMD"] = "baseline";
await import("./wasm-kquant.test.js");
