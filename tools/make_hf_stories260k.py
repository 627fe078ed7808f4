# Builds test/fixtures/hf-stories260k, a Hugging Face Llama folder (config.json, pytorch_model.bin via torch.save,
# tokenizer.json), from llama2.c's stories260K.bin and tok512.bin, the way transformers' convert_llama_weights_to_hf.py
# and LlamaConverter do, plus test/fixtures/hf-stories260k-reference.json from an independent float64 torch forward.
# Run: /usr/bin/python3 tools/make_hf_stories260k.py   (torch only; no transformers or tokenizers package needed)
import json
import os
import struct

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "..", "shared", "models", "stories260K")
OUT_DIR = os.path.join(ROOT, "test", "fixtures", "hf-stories260k")
REF = os.path.join(ROOT, "test", "fixtures", "hf-stories260k-reference.json")
N_NEW = 64
LOGITS_PROMPT = [1, 403, 407, 261, 378]
EXPECTED_START = "Once upon a time, there was a little girl named Lily."
SPIECE = "\u2581"


def read_llama2c(path):
    """llama2.c v0 (run.c memory_map_weights): 7 int32 header, then float32 blocks in file order."""
    raw = open(path, "rb").read()
    dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len = struct.unpack_from("<7i", raw, 0)
    shared = vocab > 0
    vocab = abs(vocab)
    hd = dim // n_heads
    kv_dim = n_kv_heads * hd
    f = np.frombuffer(raw, dtype="<f4", offset=28)
    at = 0

    def take(*shape):
        nonlocal at
        n = int(np.prod(shape))
        t = torch.from_numpy(f[at : at + n].copy()).reshape(*shape)
        at += n
        return t

    w = {}
    w["tok"] = take(vocab, dim)
    w["rms_att"] = take(n_layers, dim)
    w["wq"] = take(n_layers, dim, dim)
    w["wk"] = take(n_layers, kv_dim, dim)
    w["wv"] = take(n_layers, kv_dim, dim)
    w["wo"] = take(n_layers, dim, dim)
    w["rms_ffn"] = take(n_layers, dim)
    w["w1"] = take(n_layers, hidden, dim)
    w["w2"] = take(n_layers, dim, hidden)
    w["w3"] = take(n_layers, hidden, dim)
    w["rms_final"] = take(dim)
    take(seq_len, hd // 2)  # freq_cis_real
    take(seq_len, hd // 2)  # freq_cis_imag
    if not shared:
        w["wcls"] = take(vocab, dim)
    assert at == f.size, f"{path}: {f.size - at} floats left over"
    cfg = dict(dim=dim, hidden=hidden, n_layers=n_layers, n_heads=n_heads, n_kv_heads=n_kv_heads, vocab=vocab,
               seq_len=seq_len, shared=shared)
    return cfg, w


def permute(w, n_heads, dim1, dim2):
    """convert_llama_weights_to_hf.py's permute: Meta's interleaved rotary rows → rotate-half rows."""
    return w.view(n_heads, dim1 // n_heads // 2, 2, dim2).transpose(1, 2).reshape(dim1, dim2)


def to_hf(cfg, w):
    dim, nh, nkv = cfg["dim"], cfg["n_heads"], cfg["n_kv_heads"]
    kv_dim = nkv * (dim // nh)
    inv_freq = 1.0 / (10000.0 ** (torch.arange(0, dim // nh, 2).float() / (dim // nh)))
    sd = {"model.embed_tokens.weight": w["tok"]}
    for l in range(cfg["n_layers"]):
        p = f"model.layers.{l}."
        sd[p + "self_attn.q_proj.weight"] = permute(w["wq"][l], nh, dim, dim)
        sd[p + "self_attn.k_proj.weight"] = permute(w["wk"][l], nkv, kv_dim, dim)
        sd[p + "self_attn.v_proj.weight"] = w["wv"][l]
        sd[p + "self_attn.o_proj.weight"] = w["wo"][l]
        sd[p + "mlp.gate_proj.weight"] = w["w1"][l]
        sd[p + "mlp.down_proj.weight"] = w["w2"][l]
        sd[p + "mlp.up_proj.weight"] = w["w3"][l]
        sd[p + "input_layernorm.weight"] = w["rms_att"][l]
        sd[p + "post_attention_layernorm.weight"] = w["rms_ffn"][l]
        # The conversion script of the Llama-2 era stored this buffer; loaders must ignore it.
        sd[p + "self_attn.rotary_emb.inv_freq"] = inv_freq
    sd["model.norm.weight"] = w["rms_final"]
    if not cfg["shared"]:
        sd["lm_head.weight"] = w["wcls"]
    # With tie_word_embeddings the classifier is the embedding: save_pretrained leaves lm_head.weight out.
    return {k: v.contiguous().clone() for k, v in sd.items()}


def hf_config(cfg):
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": cfg["dim"],
        "intermediate_size": cfg["hidden"],
        "num_hidden_layers": cfg["n_layers"],
        "num_attention_heads": cfg["n_heads"],
        "num_key_value_heads": cfg["n_kv_heads"],
        "vocab_size": cfg["vocab"],
        "max_position_embeddings": 512,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "hidden_act": "silu",
        "tie_word_embeddings": cfg["shared"],
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "float32",
    }


def read_tok512(path, vocab_size):
    """llama2.c tokenizer.bin: int32 max_token_length, then per token float32 score, int32 length, bytes."""
    raw = open(path, "rb").read()
    at = 4
    pieces, scores = [], []
    for _ in range(vocab_size):
        score, n = struct.unpack_from("<fi", raw, at)
        at += 8
        pieces.append(raw[at : at + n].decode("utf-8"))
        scores.append(score)
        at += n
    assert at == len(raw), f"{path}: {len(raw) - at} bytes left over"
    return pieces, scores


def merges_from_scores(vocab, scores):
    """transformers' SentencePieceExtractor / generate_merges with vocab_scores: every split of a piece into two
    vocab pieces is a merge, collected per piece in (id_l, id_r) order, then sorted by the merged piece's score,
    highest first, ties by longer left then longer right piece (a stable sort keeps vocab order beyond that)."""
    merges = []
    for piece, score in scores.items():
        local = []
        for i in range(1, len(piece)):
            l, r = piece[:i], piece[i:]
            if l in vocab and r in vocab:
                local.append((l, r, score))
        local.sort(key=lambda m: (vocab[m[0]], vocab[m[1]]))
        merges.extend(local)
    merges.sort(key=lambda m: (m[2], len(m[0]), len(m[1])), reverse=True)
    return [[l, r] for l, r, _ in merges]


def hf_tokenizer(pieces, scores):
    """tokenizer.json as LlamaConverter (legacy, add_prefix_space) + LlamaTokenizerFast's BOS template write it."""
    names = ["<unk>", "<s>", "</s>"] + [p.replace(" ", SPIECE) for p in pieces[3:]]
    vocab = {}
    for i, n in enumerate(names):
        assert n not in vocab, f"duplicate piece {n!r}"
        vocab[n] = i
    merges = merges_from_scores(vocab, {n: s for n, s in zip(names, scores)})
    added = [
        {"id": i, "content": names[i], "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
         "special": True}
        for i in range(3)
    ]
    bos = {"SpecialToken": {"id": "<s>", "type_id": 0}}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {
            "type": "Sequence",
            "normalizers": [
                {"type": "Prepend", "prepend": SPIECE},
                {"type": "Replace", "pattern": {"String": " "}, "content": SPIECE},
            ],
        },
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [bos, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [bos, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}},
        },
        "decoder": {
            "type": "Sequence",
            "decoders": [
                {"type": "Replace", "pattern": {"String": SPIECE}, "content": " "},
                {"type": "ByteFallback"},
                {"type": "Fuse"},
                {"type": "Strip", "content": " ", "start": 1, "stop": 0},
            ],
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": "<unk>",
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": True,
            "byte_fallback": True,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": merges,
        },
    }


TOKENIZER_CONFIG = {
    "add_bos_token": True,
    "add_eos_token": False,
    "bos_token": "<s>",
    "eos_token": "</s>",
    "unk_token": "<unk>",
    "clean_up_tokenization_spaces": False,
    "legacy": True,
    "model_max_length": 512,
    "tokenizer_class": "LlamaTokenizer",
}


# --- An independent Llama forward on the Hugging Face layout (float64, full recompute) ---

def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(sd, c, ids):
    """Logits (T, vocab) for ids, as transformers' LlamaForCausalLM computes them."""
    D, H, KV = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    hd, eps, T = D // H, c["rms_norm_eps"], len(ids)
    inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq)  # (T, hd/2)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[None], emb.sin()[None]  # (1, T, hd)
    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    x = sd["model.embed_tokens.weight"][ids]  # (T, D)
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms_norm(x, sd[p + "input_layernorm.weight"], eps)
        q = (h @ sd[p + "self_attn.q_proj.weight"].T).view(T, H, hd).transpose(0, 1)  # (nh, T, hs)
        k = (h @ sd[p + "self_attn.k_proj.weight"].T).view(T, KV, hd).transpose(0, 1)  # (nkv, T, hs)
        v = (h @ sd[p + "self_attn.v_proj.weight"].T).view(T, KV, hd).transpose(0, 1)  # (nkv, T, hs)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // KV, dim=0)  # (nh, T, hs)
        v = v.repeat_interleave(H // KV, dim=0)
        att = torch.softmax(q @ k.transpose(1, 2) / hd**0.5 + mask, dim=-1)  # (nh, T, T)
        y = (att @ v).transpose(0, 1).reshape(T, D)
        x = x + y @ sd[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, sd[p + "post_attention_layernorm.weight"], eps)
        g = torch.nn.functional.silu(h @ sd[p + "mlp.gate_proj.weight"].T)
        x = x + (g * (h @ sd[p + "mlp.up_proj.weight"].T)) @ sd[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, sd["model.norm.weight"], eps)
    head = sd.get("lm_head.weight", sd["model.embed_tokens.weight"])
    return x @ head.T


def greedy(sd, c, ids, n):
    ids = list(ids)
    for _ in range(n):
        ids.append(int(forward(sd, c, ids)[-1].argmax()))
    return ids


def sig6(x):
    return float(f"{x:.6g}")


def decode_llama2c(pieces, ids):
    """run.c decode(): a leading space is dropped after BOS; <0xXX> pieces are raw bytes."""
    out = b""
    for prev, i in zip([None] + ids[:-1], ids):
        if i < 3:
            continue
        p = pieces[i]
        if prev == 1 and p.startswith(" "):
            p = p[1:]
        if len(p) == 6 and p.startswith("<0x") and p.endswith(">"):
            out += bytes([int(p[3:5], 16)])
        else:
            out += p.encode("utf-8")
    return out.decode("utf-8", errors="replace")


def main():
    cfg, w = read_llama2c(os.path.join(SRC, "stories260K.bin"))
    os.makedirs(OUT_DIR, exist_ok=True)
    sd = to_hf(cfg, w)
    torch.save(sd, os.path.join(OUT_DIR, "pytorch_model.bin"))
    config = hf_config(cfg)
    with open(os.path.join(OUT_DIR, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    pieces, scores = read_tok512(os.path.join(SRC, "tok512.bin"), cfg["vocab"])
    with open(os.path.join(OUT_DIR, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(hf_tokenizer(pieces, scores), f, ensure_ascii=False, indent=1)
        f.write("\n")
    with open(os.path.join(OUT_DIR, "tokenizer_config.json"), "w") as f:
        json.dump(TOKENIZER_CONFIG, f, indent=2)
        f.write("\n")

    # The reference runs on what was saved, read back by torch.
    loaded = torch.load(os.path.join(OUT_DIR, "pytorch_model.bin"))
    ref_sd = {k: v.double() for k, v in loaded.items()}
    ids = greedy(ref_sd, config, [1], N_NEW)
    text = decode_llama2c(pieces, ids)
    assert text.startswith(EXPECTED_START), text
    logits = forward(ref_sd, config, LOGITS_PROMPT)[-1]
    ref = {
        "source": "tools/make_hf_stories260k.py: float64 torch Llama forward on the saved pytorch_model.bin",
        "greedy": {"prompt": [1], "ids": ids[1:], "text": text},
        "logits": {"prompt": LOGITS_PROMPT, "last": [sig6(x) for x in logits.tolist()]},
    }
    with open(REF, "w") as f:
        json.dump(ref, f)
        f.write("\n")
    print(text)


if __name__ == "__main__":
    main()
