// The training-kernel suite (wasm-train-kernels.test.ts: GEMM tiles and edges, attention gradients, optimizer
// passes) again on the baseline SIMD kernel module, where the GEMM's multiply-adds are a multiply then an add.

process.env["DECODERKIT_WASM_SIMD"] = "baseline";
await import("./wasm-train-kernels.test.js");
