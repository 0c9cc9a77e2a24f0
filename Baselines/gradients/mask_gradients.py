#!/usr/bin/env python3
"""Reference mask gradients from PyTorch autograd, in float64.

The model is loaded as ../forward/reference_logits.py loads it (transformers' GGUF import,
dequantized to float32), then cast to float64. A channel mask of ones is put in front of
every layer's o_proj and mlp.down_proj by a forward pre-hook (input * mask), as the
IntraSlice code's global ratio estimator does; the loss is transformers' causal-LM loss
with labels = input_ids on the 32 ids of ../forward/<model>.logits.json (mean over the 31
predicted positions);
autograd gives d loss / d mask. For the first, middle and last layer the script writes
every channel's gradient, and the loss. One JSON per model: gradients/<model>.mask_gradients.json.

Usage: python mask_gradients.py [model ...] [--threads 2]
"""
import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "forward"))
sys.path.insert(0, os.path.join(HERE, "..", "tokenizers"))
import reference_logits as F  # noqa: E402


def mask_gradients(model):
    m = F.load_model(model).to(torch.float64)
    for p in m.parameters():
        p.requires_grad_(False)
    with open(os.path.join(HERE, "..", "forward", f"{model}.logits.json")) as f:
        ids = torch.tensor([json.load(f)["input_ids"]])
    layers = m.model.layers
    masks = []
    for layer in layers:
        pair = []
        for module in (layer.self_attn.o_proj, layer.mlp.down_proj):
            mask = torch.ones(module.in_features, dtype=torch.float64, requires_grad=True)
            module.register_forward_pre_hook(lambda _, inputs, mask=mask: (inputs[0] * mask,))
            pair.append(mask)
        masks.append(pair)
    out = m(input_ids=ids, labels=ids)
    out.loss.backward()
    chosen = [0, len(layers) // 2, len(layers) - 1]
    return {
        "model": model,
        "input_ids": ids[0].tolist(),
        "dtype": "float64",
        "torch": torch.__version__,
        "loss": out.loss.item(),
        "layers": {str(i): {"wo_input": masks[i][0].grad.tolist(), "wdown_input": masks[i][1].grad.tolist()} for i in chosen},
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="*", default=["smollm2-135m", "qwen2.5-0.5b", "gemma3-270m"])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for model in args.models:
        result = mask_gradients(model)
        with open(os.path.join(HERE, f"{model}.mask_gradients.json"), "w") as f:
            json.dump(result, f)
        print(model, "loss", result["loss"])


if __name__ == "__main__":
    main()
