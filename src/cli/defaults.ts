// The model that ships inside the package (stories260K, MIT, see models/stories260K/), used when no --model is given.

import { fileURLToPath } from "node:url";

export const BUNDLED_MODEL = fileURLToPath(
  new URL("../../models/stories260K/stories260K.bin", import.meta.url),
);
export const BUNDLED_TOKENIZER = fileURLToPath(
  new URL("../../models/stories260K/tok512.bin", import.meta.url),
);
