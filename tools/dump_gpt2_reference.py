# PyTorch reference for the tiny random GPT-2 ONNX export: Hugging Face GPT2LMHeadModel's forward pass written out
# in plain torch (float64) from past.onnx's initializers; writes test/fixtures/gpt2-reference.json. Run: /usr/bin/python3 tools/dump_gpt2_reference.py
import json
import math
import os
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_DIR = os.path.join(ROOT, "..", "shared", "models", "tiny-random-gpt2-onnx")
OUT = os.path.join(ROOT, "test", "fixtures", "gpt2-reference.json")
N_NEW = 20
PROMPTS = [
    [98, 10, 20, 30, 500, 999, 7],
    [98],
    [98] + [(37 * i + 11) % 1000 for i in range(1, 40)],
]


def hf_weights(graph, inits, n_layer):
    """Hugging Face parameter names → arrays. The exported graph is fused (EmbedLayerNormalization, Attention,
    SkipLayerNormalization, FastGelu) and its optimizer merged identical initializers, so most LayerNorm and bias
    tensors exist once under one layer's name; each parameter is found through the node that consumes it."""
    nodes = {n.name: n for n in graph.node}
    src = {}
    emb = nodes["EmbedLayerNormalization_0"]
    src["transformer.wte.weight"], src["transformer.wpe.weight"] = emb.input[2], emb.input[3]
    src["transformer.h.0.ln_1.weight"], src["transformer.h.0.ln_1.bias"] = emb.input[5], emb.input[6]
    for i in range(n_layer):
        p = f"transformer.h.{i}."
        att = nodes[f"GptAttention_{i}"]
        src[p + "attn.c_attn.weight"], src[p + "attn.c_attn.bias"] = att.input[1], att.input[2]
        src[p + "attn.c_proj.weight"] = nodes[f"GptAttention_{i}_matmul"].input[1]
        # SkipLayerNormalization inputs: (x, skip, gamma, beta, bias); output = LN(x + skip + bias).
        sln = nodes[f"SkipLayerNorm_AddBias_{2 * i}"]
        src[p + "ln_2.weight"], src[p + "ln_2.bias"], src[p + "attn.c_proj.bias"] = sln.input[2:5]
        src[p + "mlp.c_fc.weight"] = nodes[f"FullyConnect_MatMul_{2 * i}"].input[1]
        src[p + "mlp.c_fc.bias"] = nodes[f"FastGelu_AddBias_{i}"].input[1]
        src[p + "mlp.c_proj.weight"] = nodes[f"FullyConnect_MatMul_{2 * i + 1}"].input[1]
        sln = nodes[f"SkipLayerNorm_AddBias_{2 * i + 1}"]
        nxt = f"transformer.h.{i + 1}.ln_1." if i + 1 < n_layer else "transformer.ln_f."
        src[nxt + "weight"], src[nxt + "bias"], src[p + "mlp.c_proj.bias"] = sln.input[2:5]
    lm_head = nodes["/lm_head/MatMul"].input[1]
    # lm_head is tied to wte: the export stores wte transposed as a separate MatMul operand.
    assert np.array_equal(inits[lm_head].T, inits[src["transformer.wte.weight"]]), "lm_head is not tied to wte"
    src["lm_head.weight"] = lm_head + " (transposed)"
    weights = {k: torch.from_numpy(inits[v].astype(np.float64)) for k, v in src.items() if k != "lm_head.weight"}
    return weights, src


def layer_norm(x, w, b, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gpt2_forward(W, cfg, ids):
    """Logits (T, vocab) for one sequence; Conv1D is x @ W + b with W stored [in, out]."""
    T, C, nh, eps = len(ids), cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    hs = C // nh
    idx = torch.tensor(ids)
    x = W["transformer.wte.weight"][idx] + W["transformer.wpe.weight"][torch.arange(T)]  # (T, C)
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}."
        h = layer_norm(x, W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
        qkv = h @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]  # (T, 3C)
        q, k, v = (t.view(T, nh, hs).transpose(0, 1) for t in qkv.split(C, dim=1))  # (nh, T, hs)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)  # (nh, T, T)
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(0, 1).reshape(T, C)
        x = x + y @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
        h = layer_norm(x, W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
        h = gelu_new(h @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"])
        x = x + h @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
    x = layer_norm(x, W["transformer.ln_f.weight"], W["transformer.ln_f.bias"], eps)
    return x @ W["transformer.wte.weight"].T  # (T, vocab)


def run_onnx_graph(graph, inits, ids, past_len_split):
    """Executes the exported graph's contrib ops in numpy (onnxruntime is not available) twice: the first
    `past_len_split` tokens from an empty cache, then the rest with the returned present_* as past_*.
    Returns (logits of all positions, present tensors)."""
    n_layer = sum(1 for i in graph.input if i.name.startswith("past_"))
    nh = next(a.i for a in graph.node[3].attribute if a.name == "num_heads")
    C = inits["transformer.wte.weight"].shape[1]
    past = [np.zeros((2, 1, nh, 0, C // nh), np.float32) for _ in range(n_layer)]
    logits = []
    for lo, hi in ((0, past_len_split), (past_len_split, len(ids))):
        if hi <= lo:
            continue
        feeds = {
            "input_ids": np.array([ids[lo:hi]], np.int64),
            "position_ids": np.arange(lo, hi, dtype=np.int64)[None],
            "attention_mask": np.ones((1, hi), np.int64),
            **{f"past_{i}": past[i] for i in range(n_layer)},
        }
        env = run_nodes(graph, {**inits, **feeds})
        logits.append(env["logits"][0])
        past = [env[f"present_{i}"] for i in range(n_layer)]
    return np.concatenate(logits, 0), past


def ln_np(x, g, b, eps):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * g + b


def run_nodes(graph, env):
    env = {k: (v.astype(np.float64) if v.dtype == np.float32 else v) for k, v in env.items()}
    for n in graph.node:
        a = {x.name: onnx.helper.get_attribute_value(x) for x in n.attribute}
        I = [env[i] if i else None for i in n.input]
        if n.op_type == "Cast":
            out = [I[0].astype(np.int32)]
        elif n.op_type == "MatMul":
            out = [I[0] @ I[1]]
        elif n.op_type == "EmbedLayerNormalization":
            s = I[2][I[0]] + I[3][I[8]]
            out = [ln_np(s, I[5], I[6], a["epsilon"]), None, s]
        elif n.op_type == "SkipLayerNormalization":
            s = I[0] + I[1] + (I[4] if len(I) > 4 and I[4] is not None else 0)
            out = [ln_np(s, I[2], I[3], a["epsilon"]), None, None, s]
        elif n.op_type == "FastGelu":
            out = [gelu_new(torch.from_numpy(I[0] + I[1])).numpy()]
        elif n.op_type == "Attention":
            x, w, b, mask, past = I[0], I[1], I[2], I[3], I[4]
            B, S, C = x.shape
            nh = a["num_heads"]
            hs = C // nh
            qkv = x @ w + b
            q, k, v = (t.reshape(B, S, nh, hs).transpose(0, 2, 1, 3) for t in np.split(qkv, 3, -1))
            k = np.concatenate([past[0], k], 2)
            v = np.concatenate([past[1], v], 2)
            P = k.shape[2] - S
            att = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hs)  # (B, nh, S, P+S)
            allowed = (np.arange(P + S)[None, :] <= P + np.arange(S)[:, None]) & (mask[:, None, None, :] != 0)
            att = np.where(allowed, att, -np.inf)
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            y = (att @ v).transpose(0, 2, 1, 3).reshape(B, S, C)
            out = [y, np.stack([k, v])]
        else:
            raise SystemExit(f"unhandled op {n.op_type}")
        for name, val in zip(n.output, out):
            if name:
                env[name] = val
    return env


def sig7(x):
    return [float(f"{v:.7g}") for v in x]


def main():
    with open(os.path.join(MODEL_DIR, "config.json")) as f:
        raw = json.load(f)
    # onnxruntime-genai's config.json nests the sizes under "model" (whose "hidden_size" 8 is the head size).
    hf = {**raw, **raw["model"]}
    cfg = {k: hf[k] for k in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head", "layer_norm_epsilon",
                              "activation_function", "bos_token_id", "eos_token_id")}
    model = onnx.load(os.path.join(MODEL_DIR, "past.onnx"))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    W, sources = hf_weights(model.graph, inits, cfg["n_layer"])
    assert W["transformer.wte.weight"].shape == (cfg["vocab_size"], cfg["n_embd"])

    cases = []
    for prompt in PROMPTS:
        logits = gpt2_forward(W, cfg, prompt)
        # Cross-check against the exported graph itself, with the KV cache path exercised when T > 1.
        split = max(1, len(prompt) // 2)
        g_logits, presents = run_onnx_graph(model.graph, inits, prompt, split)
        diff = float(np.abs(g_logits - logits.numpy()).max())
        assert diff < 1e-9, f"torch forward and ONNX graph differ by {diff}"
        hs = cfg["n_embd"] // cfg["n_head"]
        assert all(p.shape == (2, 1, cfg["n_head"], len(prompt), hs) for p in presents)

        seq, margins = list(prompt), []
        for _ in range(N_NEW):
            last = gpt2_forward(W, cfg, seq)[-1]
            top2 = torch.topk(last, 2).values
            margins.append(float(f"{float(top2[0] - top2[1]):.4g}"))
            seq.append(int(last.argmax()))
        cases.append({
            "prompt": prompt,
            "logits": [sig7(row.tolist()) for row in logits],
            "greedy": seq[len(prompt):],
            "greedyMargins": margins,
        })
        print(f"prompt of {len(prompt)}: greedy {seq[len(prompt):]}, min margin {min(margins):.3g}, graph diff {diff:.1e}")

    fixture = {
        "description": "Hugging Face GPT-2 forward pass in plain PyTorch (float64) over the initializers of "
                       "../shared/models/tiny-random-gpt2-onnx/past.onnx: logits at every prompt position "
                       "(7 significant digits) and greedy continuations by full recompute.",
        "model": "../shared/models/tiny-random-gpt2-onnx/past.onnx",
        "torchVersion": torch.__version__,
        "config": cfg,
        "weightSources": sources,
        "nNew": N_NEW,
        "cases": cases,
    }
    text = json.dumps(fixture, separators=(",", ":"))
    with open(OUT, "w") as f:
        f.write(text + "\n")
    print(f"wrote {OUT} ({len(text)} bytes)")


if __name__ == "__main__":
    sys.exit(main())
