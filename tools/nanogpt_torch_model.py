# nanoGPT's GPT (model.py) for the PyTorch sides of issue 5's comparisons (tools/nanogpt_torch_speed.py and
# tools/nanogpt_torch_train.py): pre-norm blocks, causal attention, tied classifier, nanoGPT's initialisation and
# its AdamW groups (weight decay on matrices only). Import it after setting OPENBLAS_NUM_THREADS.
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (nanoGPT's bias=False has none; torch 1.13's nn.LayerNorm cannot drop it)."""

    def __init__(self, d, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class Block(nn.Module):
    def __init__(self, h, d, bias, exact_gelu):
        super().__init__()
        self.h, self.d, self.exact_gelu = h, d, exact_gelu
        self.ln_1 = LayerNorm(d, bias)
        self.c_attn = nn.Linear(d, 3 * d, bias=bias)
        self.c_proj = nn.Linear(d, d, bias=bias)
        self.ln_2 = LayerNorm(d, bias)
        self.c_fc = nn.Linear(d, 4 * d, bias=bias)
        self.mlp_proj = nn.Linear(4 * d, d, bias=bias)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.h, d // self.h).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d // self.h))
        mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
        y = att.masked_fill(~mask, float("-inf")).softmax(-1) @ v
        x = x + self.c_proj(y.transpose(1, 2).contiguous().view(b, t, d))
        f = self.c_fc(self.ln_2(x))
        return x + self.mlp_proj(F.gelu(f) if self.exact_gelu else F.gelu(f, approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, layers, heads, dim, context, vocab, bias=True, exact_gelu=False):
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)
        self.wpe = nn.Embedding(context, dim)
        self.h = nn.ModuleList(Block(heads, dim, bias, exact_gelu) for _ in range(layers))
        self.ln_f = LayerNorm(dim, bias)
        for name, p in self.named_parameters():  # nanoGPT's _init_weights plus the scaled c_proj init
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.dim() >= 2:
                scaled = name.endswith("c_proj.weight") or name.endswith("mlp_proj.weight")
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * layers) if scaled else 0.02)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for blk in self.h:
            x = blk(x)
        logits = self.ln_f(x) @ self.wte.weight.T  # tied classifier
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def adamw(model, lr=1e-3):
    """nanoGPT's AdamW: betas (0.9, 0.99), weight decay 0.1 on matrices, none on vectors."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.99))
