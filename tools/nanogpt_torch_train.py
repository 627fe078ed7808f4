# PyTorch's own run of nanoGPT's CPU recipe for character-level tiny-shakespeare (issue 5's quality target),
# so the validation loss decoderkit reaches can be compared with what PyTorch reaches here, on the same data,
# rather than only with the 1.88 nanoGPT's README reports. Mirrors nanoGPT's model.py/train.py for
#   python train.py config/train_shakespeare_char.py --device=cpu --compile=False --eval_iters=20
#     --log_interval=1 --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128
#     --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0
# (bias False, exact GELU, tied classifier, AdamW lr 1e-3 betas (0.9, 0.99) weight decay 0.1 on matrices,
# warmup 100 then cosine to 1e-4, clip 1.0, 90/10 split, random windows). Run with Debian's /usr/bin/python3:
#
#   /usr/bin/python3 tools/nanogpt_torch_train.py --data ../shared/data/tinyshakespeare/input.txt [--seed S]
#
# Prints one JSON line: {"engine": "pytorch", "seed", "iters", "train_loss", "val_loss_20", "val_loss_200",
# "ms_per_iter"}; the losses are means over random batches of the split (20 as nanoGPT's eval_iters, and 200).
import argparse
import json
import math
import os
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--data", required=True)
ap.add_argument("--seed", type=int, default=1337)
ap.add_argument("--iters", type=int, default=2000)
ap.add_argument("--threads", type=int, default=1)
a = ap.parse_args()
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(a.threads))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)
L, H, D, T, B = 4, 4, 128, 64, 12
text = open(a.data, encoding="utf-8").read()
chars = sorted(set(text))
V = len(chars)
stoi = {c: i for i, c in enumerate(chars)}
ids = torch.tensor([stoi[c] for c in text], dtype=torch.long)
n = int(len(ids) * 0.9)
splits = {"train": ids[:n], "val": ids[n:]}


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(D, bias=False) if "bias" in nn.LayerNorm.__init__.__code__.co_varnames else None
        if self.ln_1 is None:  # torch < 2.1: LayerNorm without a bias by hand
            self.ln_1, self.ln_2 = NoBiasLN(), NoBiasLN()
        else:
            self.ln_2 = nn.LayerNorm(D, bias=False)
        self.c_attn = nn.Linear(D, 3 * D, bias=False)
        self.c_proj = nn.Linear(D, D, bias=False)
        self.c_fc = nn.Linear(D, 4 * D, bias=False)
        self.mlp_proj = nn.Linear(4 * D, D, bias=False)

    def forward(self, x):
        b, t, _ = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(D, dim=2)
        q, k, v = (z.view(b, t, H, D // H).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(D // H))
        mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
        y = att.masked_fill(~mask, float("-inf")).softmax(-1) @ v
        x = x + self.c_proj(y.transpose(1, 2).contiguous().view(b, t, D))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class NoBiasLN(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(D))

    def forward(self, x):
        return F.layer_norm(x, (D,), self.weight, None, 1e-5)


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, D)
        self.wpe = nn.Embedding(T, D)
        self.h = nn.ModuleList(Block() for _ in range(L))
        self.ln_f = NoBiasLN()

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for blk in self.h:
            x = blk(x)
        logits = self.ln_f(x) @ self.wte.weight.T
        return F.cross_entropy(logits.view(-1, V), targets.view(-1))


model = GPT()
for name, p in model.named_parameters():  # nanoGPT's _init_weights plus the scaled c_proj init
    if p.dim() >= 2:
        std = 0.02 / math.sqrt(2 * L) if name.endswith("c_proj.weight") or name.endswith("mlp_proj.weight") else 0.02
        nn.init.normal_(p, 0.0, std)
decay = [p for p in model.parameters() if p.dim() >= 2]
no_decay = [p for p in model.parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                        lr=1e-3, betas=(0.9, 0.99))


def batch(split):
    d = splits[split]
    ix = torch.randint(len(d) - T, (B,))
    return torch.stack([d[i:i + T] for i in ix]), torch.stack([d[i + 1:i + T + 1] for i in ix])


def get_lr(it, warmup=100, decay_iters=2000, lr=1e-3, min_lr=1e-4):
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    if it > decay_iters:
        return min_lr
    ratio = (it - warmup) / (decay_iters - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)


@torch.no_grad()
def estimate(split, k):
    model.eval()
    out = sum(model(*batch(split)).item() for _ in range(k)) / k
    model.train()
    return out


t0 = time.perf_counter()
for it in range(a.iters):
    for g in opt.param_groups:
        g["lr"] = get_lr(it)
    x, y = batch("train")
    loss = model(x, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
ms = (time.perf_counter() - t0) * 1000 / a.iters
json.dump({
    "engine": "pytorch", "torch": torch.__version__, "seed": a.seed, "iters": a.iters,
    "train_loss": round(estimate("train", 200), 4), "val_loss_20": round(estimate("val", 20), 4),
    "val_loss_200": round(estimate("val", 200), 4), "ms_per_iter": round(ms, 2),
}, sys.stdout)
sys.stdout.write("\n")
