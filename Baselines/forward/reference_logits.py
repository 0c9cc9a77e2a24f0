#!/usr/bin/env python3
"""Reference logits for the first 32 WikiText-2 ids, from HuggingFace transformers.

The model is the GGUF loaded by transformers' GGUF import
(`AutoModelForCausalLM.from_pretrained(folder, gguf_file=..., dtype=torch.float32)`):
every tensor is dequantized by gguf-py to float32; for arch `llama` the import un-permutes
the rows of attn_q/attn_k (back to HF's half-split RoPE); for arch `gemma3` it subtracts 1
from every `*norm.weight` because HF's Gemma RMSNorm multiplies by (1 + w) (net effect: the
GGUF norm weights are used as stored). The ids come from ../tokenizers/reference_ids.py
(the model's tokenizer with ASSETS.md's fixes), default special-token mode.

For positions 0, 1, 15, 31 it writes the top-10 ids with their logits and the log-sum-exp
of the row; for every position it writes the logit and NLL of the next id; plus the mean NLL
of predicting ids 1..31. One JSON per model: forward/<model>.logits.json.

Usage: python reference_logits.py [model ...] [--threads 2]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tokenizers"))
import reference_ids as R  # noqa: E402

POSITIONS = [0, 1, 15, 31]
N_IDS = 32


def load_model(model):
    from transformers import AutoModelForCausalLM
    folder, name = os.path.split(R.gguf_path(model))
    m = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    m.eval()
    return m


def config_summary(m):
    c = m.config
    d = c.to_dict()
    head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    out = {
        "hf_class": type(m).__name__,
        "model_type": c.model_type,
        "n_layers": c.num_hidden_layers,
        "hidden": c.hidden_size,
        "intermediate": c.intermediate_size,
        "heads": c.num_attention_heads,
        "kv_heads": c.num_key_value_heads,
        "head_dim": head_dim,
        "vocab": c.vocab_size,
        "rope": d.get("rope_parameters") or {"rope_theta": d.get("rope_theta")},
        "sliding_window": d.get("sliding_window"),
        "layer_types": d.get("layer_types"),
        "norm_eps": d.get("rms_norm_eps"),
        "tied_embeddings": bool(d.get("tie_word_embeddings")),
        "hidden_act": d.get("hidden_act") or d.get("hidden_activation"),
        "attention_bias": d.get("attention_bias"),
        "query_pre_attn_scalar": d.get("query_pre_attn_scalar"),
        "final_logit_softcapping": d.get("final_logit_softcapping"),
        "attn_logit_softcapping": d.get("attn_logit_softcapping"),
        "attn_implementation": c._attn_implementation,
        "n_params": sum(p.numel() for p in m.parameters()),
    }
    return out


def gguf_norm_check(model, m):
    """Compare a few stored GGUF norm weights with the HF parameters (Gemma: HF = stored - 1)."""
    from gguf import GGUFReader, dequantize
    reader = GGUFReader(R.gguf_path(model))
    want = {"blk.0.attn_norm.weight": "model.layers.0.input_layernorm.weight",
            "output_norm.weight": "model.norm.weight"}
    if model == "gemma3-270m":
        want["blk.0.attn_q_norm.weight"] = "model.layers.0.self_attn.q_norm.weight"
        want["blk.0.post_attention_norm.weight"] = "model.layers.0.post_attention_layernorm.weight"
    params = dict(m.named_parameters())
    out = {}
    for t in reader.tensors:
        if t.name in want:
            stored = torch.from_numpy(np.array(dequantize(t.data, t.tensor_type), dtype=np.float32)).reshape(-1)
            hf = params[want[t.name]].detach().reshape(-1)
            out[t.name] = {"hf_param": want[t.name], "stored_first4": stored[:4].tolist(),
                           "hf_first4": hf[:4].tolist(),
                           "hf_minus_stored_mean": float((hf - stored).mean())}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*", default=list(R.MODELS))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import transformers
    import gguf
    text = R.read_text()
    for model in args.models:
        t0 = time.time()
        tok = R.load_tokenizer(model)
        ids = R.encode(tok, text[:4000], True)[:N_IDS]
        # the prefix of the whole-file encoding must agree
        full = np.fromfile(os.path.join("/work/ref-out", f"{model}.default.ids"), dtype="<i4") \
            if os.path.exists(os.path.join("/work/ref-out", f"{model}.default.ids")) else None
        if full is not None:
            assert list(full[:N_IDS]) == ids, (list(full[:N_IDS]), ids)
        m = load_model(model)
        with torch.no_grad():
            logits = m(torch.tensor([ids])).logits[0].double()  # [32, vocab]
        lse = torch.logsumexp(logits, dim=-1)
        logp = logits - lse[:, None]
        tgt = torch.tensor(ids[1:])
        nll = -logp[:-1].gather(1, tgt[:, None])[:, 0]
        positions = {}
        for p in POSITIONS:
            v, i = logits[p].topk(10)
            positions[str(p)] = {"input_id": ids[p], "top10_ids": i.tolist(), "top10_logits": v.tolist(),
                                 "logsumexp": float(lse[p]), "argmax": int(i[0])}
        out = {
            "model": model, "gguf": os.path.basename(R.gguf_path(model)),
            "implementation": f"transformers {transformers.__version__} GGUF import, dequantized to float32, torch {torch.__version__}",
            "versions": {"transformers": transformers.__version__, "torch": torch.__version__,
                         "gguf": getattr(gguf, "__version__", None) or _pkg_version("gguf"),
                         "numpy": np.__version__},
            "threads": args.threads,
            "input": "first 32 ids of wikitext2-test.raw tokenized whole with default special tokens",
            "input_ids": ids,
            "config": config_summary(m),
            "positions": positions,
            "next_id_logit": [float(logits[p, ids[p + 1]]) for p in range(N_IDS - 1)],
            "next_id_nll": nll.tolist(),
            "mean_nll_1_to_31": float(nll.mean()),
            "logits_dtype": "float32 model, logits cast to float64 for top-k/logsumexp",
            "gguf_norm_check": gguf_norm_check(model, m),
            "seconds": round(time.time() - t0, 1),
        }
        path = os.path.join(HERE, f"{model}.logits.json")
        with open(path, "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
        print(model, "mean NLL", out["mean_nll_1_to_31"], "argmax@31", positions["31"]["argmax"],
              "bytes", os.path.getsize(path), "s", out["seconds"], flush=True)
        del m


def _pkg_version(name):
    from importlib.metadata import version
    return version(name)


if __name__ == "__main__":
    main()
