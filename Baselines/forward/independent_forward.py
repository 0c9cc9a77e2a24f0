#!/usr/bin/env python3
"""Cross-check of the transformers logits fixture with a second, independent forward pass.

This is a plain float64 torch forward written from llama.cpp's conventions, reading the GGUF
directly with gguf-py (no transformers modeling code, no name mapping, no un-permutation):

- llama (SmolLM2): attn_q/attn_k as stored, RoPE rotating adjacent pairs (2i, 2i+1)
  ("normal" mode; the GGUF rows are permuted for that), SwiGLU, RMSNorm, tied output.
- qwen2: q/k/v biases, RoPE on halves (i, i + d/2) ("neox"), untied output.weight.
- gemma3: embeddings x sqrt(hidden); norm weights used as stored (no +1); q/k RMSNorm per
  head; post-attention and post-FFN norms; GeGLU with tanh-GELU; attention scale
  1/sqrt(head_dim); layers with (i + 1) % 6 != 0 use a 512 sliding window and RoPE base
  10000, the others RoPE base from the GGUF (1e6).

It takes the input ids from ../forward/<model>.logits.json, computes the logits and compares
them with the stored transformers numbers (top-10 logits and log-sum-exp at 0/1/15/31, the
next-id NLLs). Writes independent_forward.json beside this script.

Usage: python independent_forward.py [model ...] [--threads 2]
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tokenizers"))
import reference_ids as R  # noqa: E402

DT = torch.float64


class G:
    def __init__(self, path):
        from gguf import GGUFReader
        self.r = GGUFReader(path)
        self.arch = self.meta("general.architecture")
        self.t = {t.name: t for t in self.r.tensors}

    def meta(self, key, default=None):
        if key not in self.r.fields:
            return default
        f = self.r.fields[key]
        v = [f.parts[i] for i in f.data]
        if len(v) == 1:
            x = v[0]
            if x.dtype == np.uint8:
                return bytes(x).decode("utf-8")
            return x.tolist()[0]
        return v

    def a(self, key, default=None):
        return self.meta(f"{self.arch}.{key}", default)

    def w(self, name):
        from gguf import dequantize
        t = self.t[name]
        x = np.array(dequantize(t.data, t.tensor_type), dtype=np.float64)
        shape = [int(s) for s in reversed(t.shape.tolist())]  # ne reversed: [rows, cols]
        return torch.from_numpy(x.reshape(shape)).to(DT)

    def has(self, name):
        return name in self.t


def rms(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def rope(x, pos, base, mode):
    # x: [T, H, D]
    d = x.shape[-1]
    inv = base ** (-torch.arange(0, d, 2, dtype=DT) / d)  # [d/2]
    ang = pos[:, None].to(DT) * inv[None, :]  # [T, d/2]
    c, s = torch.cos(ang)[:, None, :], torch.sin(ang)[:, None, :]
    if mode == "normal":
        x0, x1 = x[..., 0::2], x[..., 1::2]
        out = torch.empty_like(x)
        out[..., 0::2] = x0 * c - x1 * s
        out[..., 1::2] = x0 * s + x1 * c
        return out
    h = d // 2
    x0, x1 = x[..., :h], x[..., h:]
    return torch.cat([x0 * c - x1 * s, x0 * s + x1 * c], dim=-1)


def forward(g, ids, no_window=False, return_hidden=False):
    arch = g.arch
    n_layer = g.a("block_count")
    n_embd = g.a("embedding_length")
    n_head = g.a("attention.head_count")
    n_kv = g.a("attention.head_count_kv")
    eps = g.a("attention.layer_norm_rms_epsilon")
    base = g.a("rope.freq_base", 10000.0)
    head_dim = g.a("attention.key_length", n_embd // n_head)
    swa = g.a("attention.sliding_window") if arch == "gemma3" else None
    mode = "normal" if arch == "llama" else "neox"
    T = len(ids)
    pos = torch.arange(T)
    emb = g.w("token_embd.weight")
    x = emb[torch.tensor(ids)]
    if arch == "gemma3":
        x = x * math.sqrt(n_embd)
    for i in range(n_layer):
        p = f"blk.{i}."
        h = rms(x, g.w(p + "attn_norm.weight"), eps)
        q = h @ g.w(p + "attn_q.weight").T
        k = h @ g.w(p + "attn_k.weight").T
        v = h @ g.w(p + "attn_v.weight").T
        if g.has(p + "attn_q.bias"):
            q = q + g.w(p + "attn_q.bias")
            k = k + g.w(p + "attn_k.bias")
            v = v + g.w(p + "attn_v.bias")
        q = q.view(T, n_head, head_dim)
        k = k.view(T, n_kv, head_dim)
        v = v.view(T, n_kv, head_dim)
        layer_base, window = base, None
        if arch == "gemma3":
            q = rms(q, g.w(p + "attn_q_norm.weight"), eps)
            k = rms(k, g.w(p + "attn_k_norm.weight"), eps)
            if (i + 1) % 6 != 0:
                layer_base, window = 10000.0, (None if no_window else swa)
        q = rope(q, pos, layer_base, mode)
        k = rope(k, pos, layer_base, mode)
        rep = n_head // n_kv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        scores = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(head_dim)
        qi, ki = pos[:, None], pos[None, :]
        allowed = ki <= qi
        if window:
            allowed = allowed & (ki > qi - window)
        scores = scores.masked_fill(~allowed[None], float("-inf"))
        att = torch.softmax(scores, dim=-1)
        o = torch.einsum("hqk,khd->qhd", att, v).reshape(T, n_head * head_dim)
        o = o @ g.w(p + "attn_output.weight").T
        if arch == "gemma3":
            o = rms(o, g.w(p + "post_attention_norm.weight"), eps)
        x = x + o
        h = rms(x, g.w(p + "ffn_norm.weight"), eps)
        gate = h @ g.w(p + "ffn_gate.weight").T
        up = h @ g.w(p + "ffn_up.weight").T
        act = torch.nn.functional.gelu(gate, approximate="tanh") if arch == "gemma3" else torch.nn.functional.silu(gate)
        f = (act * up) @ g.w(p + "ffn_down.weight").T
        if arch == "gemma3":
            f = rms(f, g.w(p + "post_ffw_norm.weight"), eps)
        x = x + f
    x = rms(x, g.w("output_norm.weight"), eps)
    out = g.w("output.weight") if g.has("output.weight") else emb
    if return_hidden:
        return x, out
    return x @ out.T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*", default=list(R.MODELS))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import gguf  # noqa: F401
    from importlib.metadata import version
    res = {"implementation": "own float64 torch forward from gguf-py dequantized tensors, llama.cpp conventions",
           "versions": {"torch": torch.__version__, "gguf": version("gguf")}, "models": {}}
    path_out = os.path.join(HERE, "independent_forward.json")
    if os.path.exists(path_out):
        res["models"] = json.load(open(path_out)).get("models", {})
    for model in args.models:
        fx = json.load(open(os.path.join(HERE, f"{model}.logits.json")))
        ids = fx["input_ids"]
        g = G(R.gguf_path(model))
        with torch.no_grad():
            logits = forward(g, ids)
        lse = torch.logsumexp(logits, -1)
        nll = (lse[:-1] - logits[:-1].gather(1, torch.tensor(ids[1:])[:, None])[:, 0])
        rec = {"mean_nll_1_to_31": float(nll.mean()), "hf_mean_nll_1_to_31": fx["mean_nll_1_to_31"],
               "max_abs_next_id_nll_diff": float(np.max(np.abs(nll.numpy() - np.array(fx["next_id_nll"])))),
               "positions": {}}
        worst = 0.0
        for p, e in fx["positions"].items():
            p_i = int(p)
            own = logits[p_i, torch.tensor(e["top10_ids"])]
            top = logits[p_i].topk(10).indices.tolist()
            d = float(np.max(np.abs(own.numpy() - np.array(e["top10_logits"]))))
            worst = max(worst, d)
            rec["positions"][p] = {"top10_ids_equal": top == e["top10_ids"], "max_abs_top10_logit_diff": d,
                                   "logsumexp": float(lse[p_i]), "hf_logsumexp": e["logsumexp"]}
        rec["max_abs_logit_diff_over_checked"] = worst
        res["models"][model] = rec
        print(model, json.dumps(rec)[:600], flush=True)
        with open(path_out, "w") as f:
            json.dump(res, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
