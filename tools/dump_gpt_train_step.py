# One training step of a tiny GPT-2 in PyTorch, for decoderkit's golden test (the llm.c method): writes
# test/fixtures/gpt2-train-step.json with the initial parameters, a batch, the loss, logits, every parameter
# gradient, and the parameters after one AdamW step. Run with Debian's /usr/bin/python3 (python3-torch 1.13).
#
# The model is written here from the GPT-2 definition (pre-LayerNorm blocks, fused qkv, tanh GELU, tied
# classifier), with weights in Hugging Face names and (out, in) layout. Initial weights are float32 values from
# a fixed seed; the step itself runs in float64 so the fixture holds the exact result for those weights.
# Arrays are stored as base64 little-endian float32.
import base64
import json
import math
import torch
import torch.nn.functional as F

V, L, H, D, P = 11, 2, 2, 16, 8
B, T = 2, 8
LR, BETAS, EPS, WD = 1e-2, (0.9, 0.95), 1e-8, 0.1
torch.manual_seed(1234)


def shapes():
    out = [("transformer.wte.weight", (V, D)), ("transformer.wpe.weight", (P, D))]
    for l in range(L):
        h = f"transformer.h.{l}"
        out += [(f"{h}.ln_1.weight", (D,)), (f"{h}.ln_1.bias", (D,)),
                (f"{h}.attn.c_attn.weight", (3 * D, D)), (f"{h}.attn.c_attn.bias", (3 * D,)),
                (f"{h}.attn.c_proj.weight", (D, D)), (f"{h}.attn.c_proj.bias", (D,)),
                (f"{h}.ln_2.weight", (D,)), (f"{h}.ln_2.bias", (D,)),
                (f"{h}.mlp.c_fc.weight", (4 * D, D)), (f"{h}.mlp.c_fc.bias", (4 * D,)),
                (f"{h}.mlp.c_proj.weight", (D, 4 * D)), (f"{h}.mlp.c_proj.bias", (D,))]
    return out + [("transformer.ln_f.weight", (D,)), ("transformer.ln_f.bias", (D,))]


# Random (not GPT-2's init) so that norms and biases are not trivially 1 and 0.
params = {}
for name, shape in shapes():
    if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name.endswith("ln_f.weight"):
        t = 1 + 0.1 * torch.randn(shape)
    elif name.endswith(".bias"):
        t = 0.05 * torch.randn(shape)
    else:
        t = 0.2 * torch.randn(shape)
    params[name] = t.float().double().requires_grad_()

ids = torch.randint(0, V, (B, T))
targets = torch.randint(0, V, (B, T))
targets[1, 3] = -100  # one ignored position


def forward(p, idx):
    x = p["transformer.wte.weight"][idx] + p["transformer.wpe.weight"][:T]
    hd = D // H
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(L):
        g = lambda s: p[f"transformer.h.{l}.{s}"]
        h = F.layer_norm(x, (D,), g("ln_1.weight"), g("ln_1.bias"), 1e-5)
        qkv = h @ g("attn.c_attn.weight").T + g("attn.c_attn.bias")
        q, k, v = (t.reshape(B, T, H, hd).transpose(1, 2) for t in qkv.split(D, dim=-1))  # (B, nh, T, hs)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, D)
        x = x + y @ g("attn.c_proj.weight").T + g("attn.c_proj.bias")
        h = F.layer_norm(x, (D,), g("ln_2.weight"), g("ln_2.bias"), 1e-5)
        m = F.gelu(h @ g("mlp.c_fc.weight").T + g("mlp.c_fc.bias"), approximate="tanh")
        x = x + m @ g("mlp.c_proj.weight").T + g("mlp.c_proj.bias")
    x = F.layer_norm(x, (D,), p["transformer.ln_f.weight"], p["transformer.ln_f.bias"], 1e-5)
    return x @ p["transformer.wte.weight"].T  # (B, T, V)


def b64(t):
    return base64.b64encode(t.detach().float().contiguous().numpy().tobytes()).decode()


init = {n: b64(t) for n, t in params.items()}
logits = forward(params, ids)
loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=-100)
loss.backward()
grads = {n: b64(t.grad) for n, t in params.items()}
decay = [t for n, t in params.items() if t.dim() >= 2]
no_decay = [t for n, t in params.items() if t.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
                        lr=LR, betas=BETAS, eps=EPS)
opt.step()
fixture = {
    "config": {"vocab_size": V, "n_layer": L, "n_head": H, "n_embd": D, "n_positions": P,
               "activation_function": "gelu_new"},
    "adamw": {"lr": LR, "betas": list(BETAS), "eps": EPS, "weight_decay": WD},
    "B": B, "T": T, "ids": ids.flatten().tolist(), "targets": targets.flatten().tolist(),
    "shapes": {n: list(s) for n, s in shapes()},
    "loss": float(loss), "logits": b64(logits),
    "init": init, "grads": grads, "after_step": {n: b64(t) for n, t in params.items()},
}
with open("test/fixtures/gpt2-train-step.json", "w") as f:
    json.dump(fixture, f, separators=(",", ":"))
    f.write("\n")
print(f"loss {float(loss):.6f}; wrote test/fixtures/gpt2-train-step.json")
