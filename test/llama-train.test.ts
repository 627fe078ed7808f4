// A trainable Llama against PyTorch (test/fixtures/llama-train-step.json from tools/dump_llama_train_step.py,
// float64 in PyTorch from the same float32 weights): logits, loss and every parameter gradient of one step with
// grouped-query attention; and the trained weights saved as a Hugging Face folder run in LlamaForCausalLM with
// the same logits (tied and untied classifier).

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import "../src/backends/reference/index.js";
import { backward, noGrad, reshape } from "../src/autograd/index.js";
import { readCheckpoint } from "../src/io/checkpoint.js";
import { buildModel } from "../src/models/registry.js";
import { Tensor } from "../src/tensor/tensor.js";
import { llamaFfnWidth, llamaHFConfig, TrainableLlama, type LlamaTrainConfig } from "../src/train/llama.js";
import { crossEntropy } from "../src/train/losses/index.js";
import { saveHFModel } from "../src/train/save.js";

interface Fixture {
  config: LlamaTrainConfig;
  B: number;
  T: number;
  ids: number[];
  targets: number[];
  shapes: Record<string, number[]>;
  loss: number;
  logits: string;
  init: Record<string, string>;
  grads: Record<string, string>;
}

const F = JSON.parse(fs.readFileSync("test/fixtures/llama-train-step.json", "utf8")) as Fixture;

function f32(b64: string): Float32Array {
  const buf = Buffer.from(b64, "base64");
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

function build(): TrainableLlama {
  const init = new Map(Object.entries(F.init).map(([n, b]) => [n, Tensor.fromArray(f32(b), F.shapes[n]!)]));
  return new TrainableLlama(llamaHFConfig(F.config), init);
}

/** max |a − b| / max |b|: the error relative to the tensor's scale. */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  let err = 0;
  for (let i = 0; i < b.length; i++) {
    max = Math.max(max, Math.abs(b[i]!));
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
  }
  return err / max;
}

test("one Llama training step equals PyTorch: logits, loss and every gradient (GQA, untied head)", (t) => {
  const model = build();
  const logits = model.forward(F.ids, F.B, F.T); // (B, T, V)
  const logitErr = relError(logits.f32(), f32(F.logits));
  const loss = crossEntropy(reshape(logits, [F.B * F.T, F.config.vocab_size]), F.targets);
  const lossErr = Math.abs(loss.f32()[0]! - F.loss) / F.loss;
  backward(loss);
  let [gradErr, worst] = [0, ""];
  for (const [name, p] of model.params) {
    const e = relError(p.grad!.f32(), f32(F.grads[name]!));
    if (e > gradErr) [gradErr, worst] = [e, name];
  }
  t.diagnostic(
    `logits ${logitErr.toExponential(2)}, loss ${lossErr.toExponential(2)}, gradients ${gradErr.toExponential(2)} (${worst})`,
  );
  assert.equal(model.params.size, Object.keys(F.shapes).length);
  assert.ok(logitErr < 1e-5, `logits ${logitErr}`);
  assert.ok(lossErr < 1e-6, `loss ${lossErr}`);
  assert.ok(gradErr < 1e-5, `gradient ${worst}: ${gradErr}`);
});

for (const tie of [false, true])
  test(`trained Llama weights saved as a folder load as LlamaForCausalLM with the same logits (tied: ${tie})`, () => {
    const config = llamaHFConfig({ ...F.config, tie_word_embeddings: tie, eos_token_id: 12 });
    const model = TrainableLlama.init(config, 3);
    for (const p of model.parameters())
      p.f32().forEach((v, i, a) => (a[i] = v + 0.05 * Math.cos(i * 0.7 + p.size)));
    assert.equal(model.params.has("lm_head.weight"), !tie);
    const ids = [3, 1, 4, 1, 5, 9, 2, 6];
    const train = noGrad(() => model.forward(ids, 1, 8, { training: true })).f32();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dk-llama-"));
    try {
      saveHFModel(dir, model);
      const ck = readCheckpoint(dir);
      assert.equal(ck.config["architectures"]?.toString(), "LlamaForCausalLM");
      const loaded = buildModel(ck.config, ck.tensors);
      const cache = loaded.newCache();
      const y = loaded.forward(ids.slice(0, 7), cache, { allLogits: true }).f32();
      assert.ok(relError(y, train.subarray(0, 7 * 13)) < 1e-5, `${relError(y, train)}`);
      const step = loaded.forward([ids[7]!], cache).f32(); // the 8th token through the KV cache
      assert.ok(relError(step, train.subarray(7 * 13)) < 1e-5);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

test("Llama config checks and a 2-sequence batch equals the sequences one by one", () => {
  assert.equal(llamaFfnWidth(128), 352);
  const config = llamaHFConfig({ ...F.config, attention_dropout: 0.3 });
  const model = TrainableLlama.init(config, 1);
  const ids = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const both = model.forward(ids, 2, 5).f32();
  const one = model.forward(ids.slice(5), 1, 5).f32();
  assert.ok(relError(both.subarray(5 * 13), one) < 1e-6);
  assert.notDeepEqual(model.forward(ids, 2, 5, { training: true }).f32(), both);
  assert.throws(() => model.forward([0, 13], 1, 2), /token id 13/);
  assert.throws(() => model.forward(new Array(9).fill(0), 1, 9), /exceed the context/);
  assert.throws(() => TrainableLlama.init({ ...config, attention_dropout: 1 }, 1), /attention_dropout/);
  assert.throws(() => TrainableLlama.init({ ...config, num_key_value_heads: 3 }, 1), /not divisible/);
});
