# Writes test/fixtures/sacrebleu-reference.json: sentence and corpus BLEU and chrF from sacreBLEU (pip install
# sacrebleu==2.6.0) with its defaults, the oracle for src/eval/bleu.ts and src/eval/chrf.ts.
import json
import sys

import sacrebleu
from sacrebleu.metrics import BLEU, CHRF

SENTENCES = [
    ("the cat sat on the mat", ["the cat is on the mat"]),
    ("The cat is on the mat.", ["The cat is on the mat."]),
    ("a b c d e", ["x y z"]),
    ("the the the the", ["the cat"]),
    ("It costs $3,000.50 -- or 12-15 euros, right?", ["It costs 3,000 dollars, or 12-15 euros."]),
    ("Once upon a time, there was a little girl named Lily.", [
        "Once upon a time there was a girl called Lily.",
        "Once upon a time, a little girl named Lily lived in a house.",
    ]),
    ("short", ["a much longer reference sentence here"]),
    ("", ["something"]),
    ("Tom &amp; Jerry &quot;ran&quot; <skipped>home", ["Tom & Jerry \"ran\" home"]),
    ("Ça coûte 5€ — naïve café déjà-vu", ["Ça coûte 5 € — café naïf déjà vu"]),
    ("He said: \"no!\" (twice)", ["He said \"no\" twice."]),
    ("one two three four five six", ["one two three four five six seven eight"]),
]

CORPUS = (
    ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."],
    [
        ["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
        ["The dog had bitten the man.", "No one was surprised.", "The man had bitten the dog."],
    ],
)

out = {"sacrebleu": sacrebleu.__version__, "sentences": [], "corpus": {}}
for hyp, refs in SENTENCES:
    b = sacrebleu.sentence_bleu(hyp, refs)
    c = CHRF().sentence_score(hyp, refs)
    out["sentences"].append({
        "hyp": hyp,
        "refs": refs,
        "bleu": b.score,
        "bleu_precisions": b.precisions,
        "bleu_bp": b.bp,
        "bleu_sys_len": b.sys_len,
        "bleu_ref_len": b.ref_len,
        "chrf": c.score,
    })
hyps, refs = CORPUS
out["corpus"] = {
    "hyps": hyps,
    "refs": refs,
    "bleu": sacrebleu.corpus_bleu(hyps, refs).score,
    "bleu_none": BLEU(smooth_method="none").corpus_score(hyps, refs).score,
    "chrf": sacrebleu.corpus_chrf(hyps, refs).score,
}
json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
sys.stdout.write("\n")
