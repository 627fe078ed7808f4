"""Reference logits of stories260K deep into its 512-token context, from the float64 torch forward in
make_hf_stories260k.py. Writes test/fixtures/stories260k-long-context.json (run with /usr/bin/python3)."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import make_hf_stories260k as m  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
FIXTURE = os.path.join(ROOT, "test/fixtures/stories260k-long-context.json")
# The inputs are kept in the fixture itself: BOS plus the tok512 ids of story 90 of tinystories-train-head.txt
# (`decoderkit tokenize --json`), cut to 500 ids. Pass a JSON id list as argv[1] to start afresh.
IDS = json.load(open(sys.argv[1]))[:500] if len(sys.argv) > 1 else json.load(open(FIXTURE))["ids"]

cfg, w = m.read_llama2c(os.path.join(ROOT, "../shared/models/stories260K/stories260K.bin"))
sd = {k: v.double() for k, v in m.to_hf(cfg, w).items()}
out = {"ids": IDS, "lengths": [100, 300, 500], "lastLogits": []}
for n in out["lengths"]:
    lg = m.forward(sd, m.hf_config(cfg), IDS[:n])
    out["lastLogits"].append([float(m.sig6(x)) for x in lg[-1].tolist()])
json.dump(out, open(FIXTURE, "w"))
