#!/usr/bin/env python3
"""Checks Gemma3's sliding-window attention past 512 tokens: transformers vs the independent
float64 forward (independent_forward.py), on the first 1024 ids of WikiText-2 (default mode).

Reports per-id NLL agreement for positions < 512 and >= 512, and how much the window matters
(the independent forward with the window switched off). Writes sliding_window_check.json.

Usage: python sliding_window_check.py [--n 1024] [--threads 1]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tokenizers"))
import reference_ids as R  # noqa: E402
import independent_forward as F  # noqa: E402

MODEL = "gemma3-270m"


def chunked_nll(h, head, tgt, chunk=128):
    out = []
    for s in range(0, len(tgt), chunk):
        lg = h[s:s + len(tgt[s:s + chunk])] @ head.T
        out.append((torch.logsumexp(lg, -1) - lg.gather(1, tgt[s:s + chunk, None])[:, 0]).double())
    return torch.cat(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ids = np.fromfile(f"/work/ref-out/{MODEL}.default.ids", dtype="<i4")[:args.n].tolist()
    tgt = torch.tensor(ids[1:])
    from transformers import AutoModelForCausalLM
    folder, name = os.path.split(R.gguf_path(MODEL))
    m = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()
    with torch.no_grad():
        h = m.model(input_ids=torch.tensor([ids])).last_hidden_state[0]
        hf = chunked_nll(h[:-1], m.lm_head.weight, tgt).numpy()
    del m, h
    g = F.G(R.gguf_path(MODEL))
    res = {"n_ids": args.n, "hf_mean_nll": float(hf.mean())}
    with torch.no_grad():
        for tag, nw in (("own_window512", False), ("own_no_window", True)):
            x, head = F.forward(g, ids, no_window=nw, return_hidden=True)
            own = chunked_nll(x[:-1], head, tgt).numpy()
            d = np.abs(own - hf)
            # prediction index j predicts id j+1 from position j
            res[tag] = {"mean_nll": float(own.mean()),
                        "max_abs_nll_diff_vs_hf_pos_lt_512": float(d[:512].max()),
                        "max_abs_nll_diff_vs_hf_pos_ge_512": float(d[512:].max()),
                        "mean_abs_nll_diff_vs_hf_pos_ge_512": float(d[512:].mean())}
            print(tag, res[tag], flush=True)
    res["hf_mean_nll_pos_ge_512"] = float(hf[512:].mean())
    with open(os.path.join(HERE, "sliding_window_check.json"), "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    print(res)


if __name__ == "__main__":
    main()
