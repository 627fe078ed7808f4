# Golden values for test/ops.test.ts from PyTorch (float64 math on float32-representable inputs): GELU (erf and
# tanh), SiLU, softmax (large and masked rows), LayerNorm and RMSNorm. Run: /usr/bin/python3 tools/dump_op_goldens.py
import json
import os

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "ops-golden.json")


def f32(values):
    """The inputs as float32 (what the engine stores), widened to float64 for the reference math."""
    return torch.tensor(values, dtype=torch.float32).double()


def listed(t):
    return [float(v) for v in t.reshape(-1).tolist()]


act_x = f32([-12.0, -6.5, -3.0, -2.25, -1.0, -0.5, -0.125, -1e-4, 0.0, 1e-4, 0.3, 0.70710677, 1.0, 1.5, 2.75, 4.0, 8.0, 20.0])
soft_rows = [
    [1.0, 2.0, 3.0, 4.0],
    [1e30, -1e30, 3e29, 1e30],
    [80.0, -80.0, 79.0, 0.0],
    [-80.0, -80.5, -81.0, -200.0],
    [0.5, float("-inf"), -0.25, float("-inf")],
]
soft = torch.softmax(f32(soft_rows), dim=-1)

g = torch.Generator().manual_seed(7)
norm_x = (torch.randn(3, 10, generator=g) * torch.tensor([[1.0], [30.0], [1e-3]])).float().double()
norm_w = torch.randn(10, generator=g).float().double()
norm_b = torch.randn(10, generator=g).float().double()
eps = 1e-5
ln = F.layer_norm(norm_x, (10,), norm_w, norm_b, eps)
rms = norm_x * torch.rsqrt(norm_x.pow(2).mean(-1, keepdim=True) + eps) * norm_w

golden = {
    "act_x": listed(act_x),
    "gelu": listed(F.gelu(act_x)),
    "gelu_tanh": listed(F.gelu(act_x, approximate="tanh")),
    "silu": listed(F.silu(act_x)),
    "softmax_x": [[v if v not in (float("inf"), float("-inf")) else ("-inf" if v < 0 else "inf") for v in r] for r in soft_rows],
    "softmax": [listed(r) for r in soft],
    "norm_x": [listed(r) for r in norm_x],
    "norm_w": listed(norm_w),
    "norm_b": listed(norm_b),
    "norm_eps": eps,
    "layer_norm": [listed(r) for r in ln],
    "rms_norm": [listed(r) for r in rms],
}
with open(OUT, "w") as f:
    json.dump(golden, f, indent=1)
    f.write("\n")
print("wrote", OUT)
