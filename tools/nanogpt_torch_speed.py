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

from nanogpt_torch_model import GPT, adamw  # noqa: E402

torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)
L, H, D, T, B, V = a.layers, a.heads, a.dim, a.context, a.batch, a.vocab
model = GPT(L, H, D, T, V, bias=True, exact_gelu=False)
opt = adamw(model)
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
