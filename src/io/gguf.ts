// GGUF (ggml's single-file model container, v2/v3): the public entry point re-exporting the reader,
// the writer and the shared value types.

export { readGGUF, type GGUFFile, type ReadGGUFOptions } from "./gguf-read.js";
export { writeGGUF, type WriteGGUFContent, type WriteGGUFOptions } from "./gguf-write.js";
export type { GGUFScalarType, GGUFTensorInfo, GGUFType, GGUFValue, GGUFNumericArray } from "./gguf-types.js";
