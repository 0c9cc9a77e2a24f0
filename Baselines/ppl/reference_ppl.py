#!/usr/bin/env python3
"""Reference WikiText-2 perplexity with HuggingFace transformers, EVALUATION.md's protocol.

- Text: wikitext2-test.raw read as exact bytes, decoded as UTF-8 (CRLF kept; the raw file,
  not HF dataset rows joined with "\\n\\n").
- Tokenized once, whole, with the tokenizer's default special tokens (add_special_tokens=True:
  Gemma3 gets one BOS at the very start of the file, SmolLM2 and Qwen2 get nothing), using
  ../tokenizers/reference_ids.py (the GGUF-imported tokenizer with ASSETS.md's fixes).
- Split into non-overlapping windows of L ids from the start; the tail is dropped; the first
  N windows are kept (N = all when not given).
- Each window is its own forward pass from an empty context; it predicts its ids 2..L.
- ppl = exp(mean NLL over all predicted ids of all windows).

Model: transformers' GGUF import dequantized to float32 (see ../forward/reference_logits.py).
The forward runs the decoder stack once per window (`model.model`), then the LM head and the
log-sum-exp in row chunks (float32 logits, NLL accumulated in float64) so a 2048 x 262144 logit
matrix is never held whole; this equals the full `model(...)` forward (checked per run against
window 0's first 31 predictions from ../forward/<model>.logits.json when that file exists).

Progress (one JSON line per window) goes to --work-dir; a rerun with the same settings resumes.
The final JSON goes to ppl/<model>.L<L>.N<N|all>.json beside this script.

Usage: python reference_ppl.py MODEL L [N] [--threads 1] [--work-dir /work/ref-out]
"""
import argparse
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tokenizers"))
import reference_ids as R  # noqa: E402

CHUNK = 256


def window_nll(m, ids):
    """Sum of NLL (float64) of ids[1:] given the prefix, one fresh forward; also per-id NLL."""
    x = torch.tensor([ids])
    h = m.model(input_ids=x).last_hidden_state[0]  # [L, hidden], final norm applied
    tgt = x[0, 1:]
    cap = getattr(m.config, "final_logit_softcapping", None)
    out = []
    for s in range(0, h.shape[0] - 1, CHUNK):
        e = min(s + CHUNK, h.shape[0] - 1)
        logits = m.lm_head(h[s:e])
        if cap:
            logits = torch.tanh(logits / cap) * cap
        lse = torch.logsumexp(logits, dim=-1)
        out.append((lse - logits.gather(1, tgt[s:e, None])[:, 0]).double())
    nll = torch.cat(out)
    return float(nll.sum()), nll


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=list(R.MODELS))
    ap.add_argument("L", type=int)
    ap.add_argument("N", type=int, nargs="?", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work-dir", default="/work/ref-out")
    ap.add_argument("--bos-each-window", action="store_true",
                    help="NOT the EVALUATION.md protocol (informational): tokenize without special "
                         "tokens, windows of L-1 text ids each preceded by BOS; all L-1 text ids predicted")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import transformers
    import tokenizers
    import gguf  # noqa: F401
    from importlib.metadata import version

    t_start = time.time()
    text = R.read_text()
    tok = R.load_tokenizer(args.model)
    ids = R.encode(tok, text, not args.bos_each_window)
    ids_sha = R.ids_sha256(ids)
    step = args.L - 1 if args.bos_each_window else args.L
    n_windows_all = len(ids) // step
    n = n_windows_all if args.N is None else min(args.N, n_windows_all)
    tag = f"{args.model}.L{args.L}.N{'all' if args.N is None else args.N}"
    if args.bos_each_window:
        tag += ".bos-each-window"
    os.makedirs(args.work_dir, exist_ok=True)
    prog_path = os.path.join(args.work_dir, f"ppl.{tag}.progress.jsonl")
    done = {}
    if os.path.exists(prog_path):
        with open(prog_path) as f:
            for line in f:
                r = json.loads(line)
                if r.get("ids_sha256") == ids_sha:
                    done[r["window"]] = r
    print(f"{tag}: {len(ids)} ids, {n_windows_all} windows of {args.L}, using {n}; "
          f"{len(done)} already done", flush=True)

    from transformers import AutoModelForCausalLM
    folder, name = os.path.split(R.gguf_path(args.model))
    t0 = time.time()
    m = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    m.eval()
    load_s = time.time() - t0

    check = None
    fx = os.path.join(HERE, "..", "forward", f"{args.model}.logits.json")
    t_eval = time.time()
    with torch.no_grad(), open(prog_path, "a") as prog:
        for w in range(n):
            if w in done:
                continue
            tw = time.time()
            win = ids[w * step:(w + 1) * step]
            if args.bos_each_window:
                win = [tok.bos_token_id] + win
            s, per = window_nll(m, win)
            r = {"window": w, "nll_sum": s, "count": args.L - 1, "seconds": round(time.time() - tw, 2),
                 "ids_sha256": ids_sha}
            done[w] = r
            prog.write(json.dumps(r) + "\n")
            prog.flush()
            if w == 0 and os.path.exists(fx) and not args.bos_each_window:
                ref = json.load(open(fx))["next_id_nll"]
                check = float(np.max(np.abs(per[:len(ref)].numpy() - np.array(ref))))
            print(f"{tag}: window {w + 1}/{n} nll/tok {s / (args.L - 1):.4f} {r['seconds']}s "
                  f"running ppl {math.exp(sum(done[i]['nll_sum'] for i in range(w + 1) if i in done) / sum(done[i]['count'] for i in range(w + 1) if i in done)):.4f}",
                  flush=True)
    eval_s = time.time() - t_eval
    total = sum(done[w]["nll_sum"] for w in range(n))
    count = sum(done[w]["count"] for w in range(n))
    mean = total / count
    res = {
        "model": args.model, "gguf": name,
        "text": "wikitext2-test.raw, exact bytes as UTF-8 (raw file, not HF rows joined with \\n\\n)",
        "text_sha256": R.TEXT_SHA256,
        "tokenization": ("whole file once, add_special_tokens=False; windows of L-1 text ids, each preceded by BOS "
                         "(NOT the EVALUATION.md protocol; informational)") if args.bos_each_window
                        else "whole file once, add_special_tokens=True (tokenizer default)",
        "bos_prepended_to_file": bool(ids[0] == tok.bos_token_id),
        "bos_each_window": args.bos_each_window,
        "ids_total": len(ids), "ids_sha256": ids_sha,
        "L": args.L, "N": n, "N_requested": args.N if args.N is not None else "all",
        "windows_available": n_windows_all,
        "predicted_tokens": count, "mean_nll": mean, "ppl": math.exp(mean),
        "per_window_mean_nll": [done[w]["nll_sum"] / done[w]["count"] for w in range(n)],
        "implementation": "transformers GGUF import, float32 dequantized weights, sdpa attention, "
                          "decoder once per window + chunked LM head/log-sum-exp",
        "versions": {"python": sys.version.split()[0], "transformers": transformers.__version__,
                     "torch": torch.__version__, "tokenizers": tokenizers.__version__,
                     "gguf": version("gguf"), "numpy": np.__version__},
        "threads": args.threads,
        "seconds": {"load": round(load_s, 1), "eval_this_run": round(eval_s, 1),
                    "eval_all_windows_sum": round(sum(done[w]["seconds"] for w in range(n)), 1),
                    "total_this_run": round(time.time() - t_start, 1)},
        "window0_vs_logits_fixture_max_abs_nll_diff": check,
        "attn_implementation": m.config._attn_implementation,
    }
    path = os.path.join(HERE, f"{tag}.json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    print(f"{tag}: ppl {res['ppl']:.4f} mean NLL {mean:.6f} over {count} tokens; wrote {path}", flush=True)


if __name__ == "__main__":
    main()
