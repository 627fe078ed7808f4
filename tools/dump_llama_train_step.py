# One training step of a tiny Llama in PyTorch, for decoderkit's golden test (the llm.c method): writes
# test/fixtures/llama-train-step.json with the initial parameters, a batch, the loss, logits and every parameter
# gradient. Run with Debian's /usr/bin/python3 (python3-torch 1.13).
#
# The model is written here from the Llama definition (RMSNorm, rotary q/k in Hugging Face's rotate-half layout,
# grouped-query attention, SwiGLU MLP, no biases, untied classifier), weights in Hugging Face names and (out, in)
# layout. Initial weights are float32 values from a fixed seed; the step runs in float64.
# Arrays are stored as base64 little-endian float32.
import base64
import json
import math
import torch
import torch.nn.functional as F

V, L, H, KV, D, FF, P = 13, 2, 4, 2, 16, 24, 8
HD = D // H
B, T = 2, 7
EPS, THETA = 1e-5, 10000.0
torch.manual_seed(4321)


def shapes():
    out = [("model.embed_tokens.weight", (V, D))]
    for l in range(L):
        h = f"model.layers.{l}"
        out += [(f"{h}.input_layernorm.weight", (D,)),
                (f"{h}.self_attn.q_proj.weight", (D, D)), (f"{h}.self_attn.k_proj.weight", (KV * HD, D)),
                (f"{h}.self_attn.v_proj.weight", (KV * HD, D)), (f"{h}.self_attn.o_proj.weight", (D, D)),
                (f"{h}.post_attention_layernorm.weight", (D,)),
                (f"{h}.mlp.gate_proj.weight", (FF, D)), (f"{h}.mlp.up_proj.weight", (FF, D)),
                (f"{h}.mlp.down_proj.weight", (D, FF))]
    return out + [("model.norm.weight", (D,)), ("lm_head.weight", (V, D))]


params = {}
for name, shape in shapes():
    t = 1 + 0.1 * torch.randn(shape) if len(shape) == 1 else 0.3 * torch.randn(shape)
    params[name] = t.float().double().requires_grad_()

ids = torch.randint(0, V, (B, T))
targets = torch.randint(0, V, (B, T))


def rms_norm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w


inv_freq = 1.0 / (THETA ** (torch.arange(0, HD, 2, dtype=torch.float32) / HD))
ang = torch.arange(T, dtype=torch.float32)[:, None] * inv_freq[None, :]  # (T, hs/2), float32 as ours
cos = torch.cat([ang.cos(), ang.cos()], -1).double()
sin = torch.cat([ang.sin(), ang.sin()], -1).double()


def rope(x):  # (B, nh, T, hs)
    x1, x2 = x[..., : HD // 2], x[..., HD // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def forward(p, idx):
    x = p["model.embed_tokens.weight"][idx]
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(L):
        g = lambda s: p[f"model.layers.{l}.{s}"]
        h = rms_norm(x, g("input_layernorm.weight"))
        q = (h @ g("self_attn.q_proj.weight").T).reshape(B, T, H, HD).transpose(1, 2)  # (B, nh, T, hs)
        k = (h @ g("self_attn.k_proj.weight").T).reshape(B, T, KV, HD).transpose(1, 2)  # (B, nkv, T, hs)
        v = (h @ g("self_attn.v_proj.weight").T).reshape(B, T, KV, HD).transpose(1, 2)
        q, k = rope(q), rope(k)
        k = k.repeat_interleave(H // KV, dim=1)
        v = v.repeat_interleave(H // KV, dim=1)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(HD)
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, D)
        x = x + y @ g("self_attn.o_proj.weight").T
        h = rms_norm(x, g("post_attention_layernorm.weight"))
        m = F.silu(h @ g("mlp.gate_proj.weight").T) * (h @ g("mlp.up_proj.weight").T)
        x = x + m @ g("mlp.down_proj.weight").T
    x = rms_norm(x, p["model.norm.weight"])
    return x @ p["lm_head.weight"].T  # (B, T, V)


def b64(t):
    return base64.b64encode(t.detach().float().contiguous().numpy().tobytes()).decode()


init = {n: b64(t) for n, t in params.items()}
logits = forward(params, ids)
loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
loss.backward()
fixture = {
    "config": {"vocab_size": V, "hidden_size": D, "intermediate_size": FF, "num_hidden_layers": L,
               "num_attention_heads": H, "num_key_value_heads": KV, "max_position_embeddings": P,
               "rope_theta": THETA, "rms_norm_eps": EPS, "tie_word_embeddings": False},
    "B": B, "T": T, "ids": ids.flatten().tolist(), "targets": targets.flatten().tolist(),
    "shapes": {n: list(s) for n, s in shapes()},
    "loss": float(loss), "logits": b64(logits),
    "init": init, "grads": {n: b64(t.grad) for n, t in params.items()},
}
with open("test/fixtures/llama-train-step.json", "w") as f:
    json.dump(fixture, f, separators=(",", ":"))
    f.write("\n")
print(f"loss {float(loss):.6f}; wrote test/fixtures/llama-train-step.json")
