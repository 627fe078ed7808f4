# Dumps every tensor of ../shared/models/tiny-random-t5/pytorch_model.bin (name -> shape, dtype, sum,
# first 4 values) with PyTorch itself, as an independent reference for test/pytorch.test.ts.
# Run from the repo root: /usr/bin/python3 tools/dump_t5_tensors.py
import json
import os

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "..", "shared", "models", "tiny-random-t5", "pytorch_model.bin")
DST = os.path.join(ROOT, "test", "fixtures", "t5-tensors.json")


def main():
    state = torch.load(SRC, map_location="cpu")
    out = {}
    for name, t in state.items():
        flat = t.detach().reshape(-1)
        out[name] = {
            "shape": list(t.shape),
            "dtype": str(t.dtype).replace("torch.", ""),
            "sum": float(flat.double().sum().item()),
            "first": [float(v) for v in flat[:4].double().tolist()],
        }
    os.makedirs(os.path.dirname(DST), exist_ok=True)
    with open(DST, "w") as f:
        json.dump({"source": "tiny-random-t5/pytorch_model.bin", "torch": torch.__version__, "tensors": out}, f, indent=1)
        f.write("\n")
    print(f"wrote {len(out)} tensors to {DST}")


if __name__ == "__main__":
    main()
