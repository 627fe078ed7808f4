# PyTorch's side of the training speed comparison (issue 5; `decoderkit bench --train` runs it beside
# decoderkit's own loop): nanoGPT's character-level Shakespeare model for CPU (n_layer 4, n_head 4, n_embd 128,
# block 64, batch 12, vocab 65, dropout 0, tied classifier, tanh GELU as decoderkit's GPT-2) trained with AdamW
# on random batches of a fixed random corpus, reporting milliseconds per iteration (forward, backward, clip,
# AdamW step) after a warm-up. Run with Debian's /usr/bin/python3 (python3-torch with libopenblas0-pthread);
# threads: torch.set_num_threads(N) and OPENBLAS_NUM_THREADS=N, as the argument says.
#
#   /usr/bin/python3 tools/nanogpt_torch_speed.py [--threads N] [--iters N] [--warmup N] [--seed S]
#
# Prints one JSON line: {"engine": "pytorch", "torch", "threads", "iters", "ms_per_iter", "tokens_per_s",
# "first_loss", "last_loss", "params"}.
import argparse
import json
import math
import os
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--iters", type=int, default=20)
ap.add_argument("--warmup", type=int, default=3)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--layers", type=int, default=4)
ap.add_argument("--heads", type=int, default=4)
ap.add_argument("--dim", type=int, default=128)
ap.add_argument("--context", type=int, default=64)
ap.add_argument("--batch", type=int, default=12)
ap.add_argument("--vocab", type=int, default=65)
a = ap.parse_args()
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(a.threads))

import torch  # noqa: E402  (after OPENBLAS_NUM_THREADS)
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)
L, H, D, T, B, V = a.layers, a.heads, a.dim, a.context, a.batch, a.vocab


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(D)
        self.c_attn = nn.Linear(D, 3 * D)
        self.c_proj = nn.Linear(D, D)
        self.ln_2 = nn.LayerNorm(D)
        self.c_fc = nn.Linear(D, 4 * D)
        self.mlp_proj = nn.Linear(4 * D, D)

    def forward(self, x):
        h = self.ln_1(x)
        q, k, v = self.c_attn(h).split(D, dim=2)
        q, k, v = (t.view(B, T, H, D // H).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True) if hasattr(F, "scaled_dot_product_attention") \
            else self._attn(q, k, v)
        x = x + self.c_proj(y.transpose(1, 2).contiguous().view(B, T, D))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))

    @staticmethod
    def _attn(q, k, v):
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
        return att.masked_fill(~mask, float("-inf")).softmax(-1) @ v


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, D)
        self.wpe = nn.Embedding(T, D)
        self.h = nn.ModuleList(Block() for _ in range(L))
        self.ln_f = nn.LayerNorm(D)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for b in self.h:
            x = b(x)
        logits = self.ln_f(x) @ self.wte.weight.T  # tied classifier
        return F.cross_entropy(logits.view(-1, V), targets.view(-1))


model = GPT()
for name, p in model.named_parameters():  # nanoGPT's initialisation
    if name.endswith("bias"):
        nn.init.zeros_(p)
    elif p.dim() >= 2:
        std = 0.02 / math.sqrt(2 * L) if name.endswith("c_proj.weight") or name.endswith("mlp_proj.weight") else 0.02
        nn.init.normal_(p, 0.0, std)
decay = [p for p in model.parameters() if p.dim() >= 2]
no_decay = [p for p in model.parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                        lr=1e-3, betas=(0.9, 0.99))
data = torch.randint(0, V, (100_000,))


def batch():
    ix = torch.randint(len(data) - T - 1, (B,))
    return torch.stack([data[i:i + T] for i in ix]), torch.stack([data[i + 1:i + T + 1] for i in ix])


losses = []
t0 = 0.0
for it in range(a.warmup + a.iters):
    if it == a.warmup:
        t0 = time.perf_counter()
    x, y = batch()
    loss = model(x, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    losses.append(loss.item())
ms = (time.perf_counter() - t0) * 1000 / a.iters
json.dump({
    "engine": "pytorch", "torch": torch.__version__, "threads": a.threads, "iters": a.iters,
    "ms_per_iter": round(ms, 3), "tokens_per_s": round(B * T / (ms / 1000), 1),
    "first_loss": round(losses[0], 4), "last_loss": round(losses[-1], 4),
    "params": sum(p.numel() for p in model.parameters()),
}, sys.stdout)
sys.stdout.write("\n")
