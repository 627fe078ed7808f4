# Dumps PyTorch reference values for decoderkit's losses, optimizers and gradient clipping into
# test/fixtures/train-reference.json (run with Debian's /usr/bin/python3, python3-torch 1.13).
# Inputs are float32 values; PyTorch computes in float64 from them.
import json
import torch
import torch.nn.functional as F

torch.manual_seed(0)


def f32(shape, scale=1.0):
    return (torch.randn(*shape) * scale).float().double()


def lst(t):
    return [float(v) for v in t.detach().flatten().tolist()]


out = {}

# Losses: value and gradient of each input.
logits = f32((4, 5), 2.0)
targets = [1, -100, 4, 0]
ce = {}
for name, kw in {
    "mean": {},
    "sum": {"reduction": "sum"},
    "smooth": {"label_smoothing": 0.1},
    "smooth_ignore4": {"label_smoothing": 0.25, "ignore_index": 4},
}.items():
    x = logits.clone().requires_grad_()
    t = torch.tensor([1, 2, 4, 0] if name == "smooth_ignore4" else targets)
    loss = F.cross_entropy(x, t, **kw)
    loss.backward()
    ce[name] = {"targets": t.tolist(), "loss": float(loss), "grad": lst(x.grad)}
x = logits.clone().requires_grad_()
nll = F.nll_loss(F.log_softmax(x, -1), torch.tensor(targets))
nll.backward()
out["losses"] = {"logits": lst(logits), "shape": [4, 5], "cross_entropy": ce,
                 "nll": {"targets": targets, "loss": float(nll), "grad": lst(x.grad)}}

pred, tgt = f32((3, 4)), f32((3, 4))
p = pred.clone().requires_grad_()
l = F.mse_loss(p, tgt)
l.backward()
out["losses"]["mse"] = {"pred": lst(pred), "target": lst(tgt), "loss": float(l), "grad": lst(p.grad)}
z, y = f32((3, 4), 3.0), torch.rand(3, 4).float().double()
zz = z.clone().requires_grad_()
l = F.binary_cross_entropy_with_logits(zz, y)
l.backward()
out["losses"]["bce"] = {"logits": lst(z), "target": lst(y), "loss": float(l), "grad": lst(zz.grad)}
mu, logvar = f32((3, 4)), f32((3, 4), 0.5)
m, lv = mu.clone().requires_grad_(), logvar.clone().requires_grad_()
l = (-0.5 * (1 + lv - m.pow(2) - lv.exp()).sum()) / 3
l.backward()
out["losses"]["kl"] = {"mu": lst(mu), "logvar": lst(logvar), "loss": float(l),
                       "grad_mu": lst(m.grad), "grad_logvar": lst(lv.grad)}

# Optimizers: a matrix and a vector parameter, three steps of fixed gradients.
p0 = {"w": f32((3, 4)), "b": f32((4,))}
grads = [{"w": f32((3, 4)), "b": f32((4,))} for _ in range(3)]
out["optim"] = {"init": {k: lst(v) for k, v in p0.items()}, "grads": [{k: lst(v) for k, v in g.items()} for g in grads]}


def run(make, groups=False):
    w = p0["w"].clone().requires_grad_()
    b = p0["b"].clone().requires_grad_()
    opt = make([w, b]) if not groups else make(w, b)
    for g in grads:
        w.grad, b.grad = g["w"].clone(), g["b"].clone()
        opt.step()
    return {"w": lst(w), "b": lst(b)}


out["optim"]["sgd"] = run(lambda ps: torch.optim.SGD(ps, lr=0.1))
out["optim"]["sgd_momentum_wd"] = run(lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01))
out["optim"]["sgd_nesterov"] = run(lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01))
out["optim"]["adam_wd"] = run(lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.01))
out["optim"]["adamw"] = run(
    lambda w, b: torch.optim.AdamW([{"params": [w], "weight_decay": 0.1}, {"params": [b], "weight_decay": 0.0}],
                                   lr=0.01, betas=(0.9, 0.95), eps=1e-8), groups=True)

w = p0["w"].clone().requires_grad_()
b = p0["b"].clone().requires_grad_()
w.grad, b.grad = grads[0]["w"].clone(), grads[0]["b"].clone()
norm = torch.nn.utils.clip_grad_norm_([w, b], 1.0)
out["clip"] = {"max_norm": 1.0, "total_norm": float(norm), "w": lst(w.grad), "b": lst(b.grad)}

with open("test/fixtures/train-reference.json", "w") as f:
    json.dump(out, f, indent=None, separators=(",", ":"))
    f.write("\n")
print("wrote test/fixtures/train-reference.json")
