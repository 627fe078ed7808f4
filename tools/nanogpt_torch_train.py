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

from nanogpt_torch_model import GPT, adamw  # noqa: E402

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
model = GPT(L, H, D, T, V, bias=False, exact_gelu=True)
opt = adamw(model)


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
