// Records llama.cpp (through node-llama-cpp) greedy generations and last-position logits for the tiny random
// Llama GGUF, as the fixture test/fixtures/tiny-llama-llamacpp.json. Run from the repo root: node tools/llamacpp-reference.mjs
import { readFileSync, writeFileSync } from "node:fs";
import { getLlama } from "node-llama-cpp";

const MODEL = "../shared/models/tiny-random-llama-gguf/llama-2-tiny-random.gguf";
const OUT = "test/fixtures/tiny-llama-llamacpp.json";
const PROMPTS = [[1, 450, 4996, 17354, 1701, 29916], [1]];
const N_NEW = 30;

/** One step of controlledEvaluate: feed `tokens`, get the raw logits after the last one and llama.cpp's greedy pick. */
async function step(seq, tokens) {
  const items = tokens.map((t, i) =>
    i === tokens.length - 1 ? [t, { generateNext: { token: true, logits: true, options: { temperature: 0 } } }] : t,
  );
  const out = await seq.controlledEvaluate(items);
  const next = out[tokens.length - 1]?.next;
  if (!next || next.logits === undefined || next.token == null) throw new Error("llama.cpp returned no logits/token");
  const logits = new Float32Array(next.logits.size);
  for (const [tok, v] of next.logits) logits[tok] = v;
  return { token: next.token, logits };
}

/** Index of the largest value and its gap to the runner-up (how safe the greedy pick is). */
function argmaxWithMargin(x) {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  let second = -Infinity;
  for (let i = 0; i < x.length; i++) if (i !== best && x[i] > second) second = x[i];
  return { best, margin: x[best] - second };
}

function f32Base64(arr) {
  return Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength).toString("base64");
}

const t0 = performance.now();
const llama = await getLlama({ gpu: false, build: "never", logLevel: "warn" });
const tLlama = performance.now();
const model = await llama.loadModel({ modelPath: MODEL, gpuLayers: 0 });
const tModel = performance.now();
const llamaCppInfo = { ...llama.llamaCppRelease, buildType: llama.buildType, systemInfo: llama.systemInfo.trim() };
const cases = [];
try {
  for (const prompt of PROMPTS) {
    const ctx = await model.createContext({ contextSize: 256, sequences: 1, threads: 1 });
    try {
      const seq = ctx.getSequence();
      let { token, logits } = await step(seq, prompt);
      const lastLogits = logits;
      const generated = [];
      const margins = [];
      for (let i = 0; i < N_NEW; i++) {
        const { best, margin } = argmaxWithMargin(logits);
        if (best !== token) throw new Error(`llama.cpp greedy pick ${token} differs from argmax ${best} at step ${i}`);
        generated.push(token);
        margins.push(Number(margin.toPrecision(4)));
        if (i + 1 < N_NEW) ({ token, logits } = await step(seq, [token]));
      }
      cases.push({
        prompt,
        greedy: generated,
        greedyMargins: margins,
        lastLogitsF32Base64: f32Base64(lastLogits),
        lastLogitsTop10: [...lastLogits.keys()]
          .sort((a, b) => lastLogits[b] - lastLogits[a])
          .slice(0, 10)
          .map((t) => [t, lastLogits[t]]),
      });
    } finally {
      await ctx.dispose();
    }
  }
} finally {
  await model.dispose();
  await llama.dispose();
}
const tDone = performance.now();

const pkg = JSON.parse(readFileSync("node_modules/node-llama-cpp/package.json", "utf8"));
const fixture = {
  description:
    "llama.cpp (node-llama-cpp, CPU) reference for the tiny random Llama GGUF: greedy (temperature 0, no penalties) " +
    "continuations and the raw logits after the last prompt token (little-endian float32, base64).",
  model: "../shared/models/tiny-random-llama-gguf/llama-2-tiny-random.gguf",
  nodeLlamaCppVersion: pkg.version,
  llamaCpp: llamaCppInfo,
  vocabSize: cases[0] ? Buffer.from(cases[0].lastLogitsF32Base64, "base64").byteLength / 4 : 0,
  nNew: N_NEW,
  cases,
};
// Indented JSON with every array of numbers on one line.
const json = JSON.stringify(fixture, null, 1).replace(/\[[-\d.e,\s]*\]/g, (m) => m.replace(/\s+/g, ""));
writeFileSync(OUT, json + "\n");
console.log(
  `wrote ${OUT}: getLlama ${(tLlama - t0).toFixed(0)} ms, loadModel ${(tModel - tLlama).toFixed(0)} ms, ` +
    `evaluation ${(tDone - tModel).toFixed(0)} ms`,
);
for (const c of cases) console.log(JSON.stringify(c.prompt), "->", JSON.stringify(c.greedy), "min margin", Math.min(...c.greedyMargins));
