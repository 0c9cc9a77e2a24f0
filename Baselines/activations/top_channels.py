#!/usr/bin/env python3
"""Top outlier channels of the dense residual stream, from HuggingFace transformers.

The independent side of `intraslice activations`' check: the same weights (the GGUF
imported by transformers and dequantized to float32, see ../forward/reference_logits.py),
the same tokens (the first WINDOWS windows of SEQLEN ids of the whole-file WikiText-2
tokenization, ../tokenizers/reference_ids.py, default special tokens), each window its own
forward pass. `output_hidden_states` gives the residual stream entering every layer
(hidden_states[l] for layer l: the harness's `residual_in`). Per layer, over all tokens of
all windows: each channel's largest magnitude, the TOP channels with the largest ones
(descending), and each channel's mean (float64 sums).

Writes activations/<model>.top_channels.json beside this script.

Usage: python top_channels.py [--model smollm2-135m] [--windows 4] [--seqlen 512] [--top 16] [--threads 2]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tokenizers"))
import reference_ids as R  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--windows", type=int, default=4)
    parser.add_argument("--seqlen", type=int, default=512)
    parser.add_argument("--top", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from transformers import AutoModelForCausalLM
    folder, name = os.path.split(R.gguf_path(args.model))
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    model.eval()
    ids = R.encode(R.load_tokenizer(args.model), R.read_text(), True)
    tokens = ids[: args.windows * args.seqlen]
    assert len(tokens) == args.windows * args.seqlen, "the text is too short"

    layers = model.config.num_hidden_layers
    largest = [None] * layers
    sums = [None] * layers
    with torch.no_grad():
        for w in range(args.windows):
            window = torch.tensor([tokens[w * args.seqlen:(w + 1) * args.seqlen]])
            hidden = model.model(window, output_hidden_states=True).hidden_states
            for layer in range(layers):
                x = hidden[layer][0].double()
                peak = x.abs().max(dim=0).values.numpy()
                total = x.sum(dim=0).numpy()
                largest[layer] = peak if largest[layer] is None else np.maximum(largest[layer], peak)
                sums[layer] = total if sums[layer] is None else sums[layer] + total

    per_layer = []
    for layer in range(layers):
        order = np.argsort(-largest[layer], kind="stable")[: args.top]
        per_layer.append({
            "layer": layer,
            "top_channels": [int(c) for c in order],
            "top_magnitudes": [float(largest[layer][c]) for c in order],
            "mean": [float(v) for v in sums[layer] / len(tokens)],
        })
    out = {
        "model": args.model,
        "site": "residual_in",
        "windows": args.windows,
        "seqlen": args.seqlen,
        "ids_sha256": R.ids_sha256(tokens),
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__},
        "threads": args.threads,
        "layers": per_layer,
    }
    path = os.path.join(HERE, f"{args.model}.top_channels.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {path}: layer 10's top channels {per_layer[10]['top_channels'][:5]}")


if __name__ == "__main__":
    main()
