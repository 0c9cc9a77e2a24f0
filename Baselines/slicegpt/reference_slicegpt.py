#!/usr/bin/env python3
"""SliceGPT reference perplexities from microsoft/TransformerCompression, on the weights and
token ids the harness uses, so that `intraslice prune --method slicegpt` can be checked
against it (issue: compression methods; README.md beside this file says how to run it).

Nothing of TransformerCompression is copied here: this script imports its `slicegpt`
package from a checkout given by --repo and drives it.

Inputs, all made by the harness:
  --model-folder  `intraslice export --model smollm2-135m --output DIR` (config.json + F32 safetensors)
  --calibration-ids  `intraslice tokenize --input wiki --output wiki.ids` (little-endian int32)
  --eval-ids  `intraslice tokenize --input wikitext2 --output wikitext2.ids`

Calibration: the first `--cal-samples` non-overlapping windows of `--cal-seqlen` ids
(the harness's `--cal-sampling sequential`). Evaluation: the first `--eval-windows`
non-overlapping windows of `--eval-seqlen` ids, each alone, predicting tokens 2..L,
ppl = exp(mean NLL) (EVALUATION.md). The final orientation is PCA (deterministic);
the reference CLI's default `random` differs only by a rotation that changes nothing in
exact arithmetic.
"""
import argparse
import json
import math
import platform
import sys
import time

import numpy as np
import torch


def read_ids(path):
    return torch.from_numpy(np.fromfile(path, dtype="<i4").astype(np.int64))


def windows(ids, count, length):
    available = ids.numel() // length
    if count > available:
        sys.exit(f"{count} windows of {length} asked for, the ids hold {available}")
    return ids[: count * length].view(count, length)


@torch.no_grad()
def perplexity(model, eval_windows, batch):
    total, tokens = 0.0, 0
    for start in range(0, eval_windows.shape[0], batch):
        x = eval_windows[start : start + batch]
        logits = model(input_ids=x).logits.double()
        nll = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1), reduction="sum"
        )
        total += nll.item()
        tokens += x[:, 1:].numel()
    return math.exp(total / tokens)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", required=True, help="checkout of microsoft/TransformerCompression")
    parser.add_argument("--model-folder", required=True)
    parser.add_argument("--calibration-ids", required=True)
    parser.add_argument("--eval-ids", required=True)
    parser.add_argument("--sparsities", type=float, nargs="+", default=[0.1, 0.2, 0.25, 0.3])
    parser.add_argument("--cal-samples", type=int, default=32)
    parser.add_argument("--cal-seqlen", type=int, default=512)
    parser.add_argument("--cal-batch", type=int, default=4)
    parser.add_argument("--eval-seqlen", type=int, default=512)
    parser.add_argument("--eval-windows", type=int, default=64)
    parser.add_argument("--eval-batch", type=int, default=8)
    parser.add_argument("--round-interval", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    sys.path.insert(0, f"{args.repo}/src")
    import transformers
    from slicegpt import layernorm_fusion, rotate
    from slicegpt.adapters.llama_adapter import LlamaModelAdapter
    from slicegpt.config import config
    from slicegpt.slicing_scheduler import ConstSlicingScheduler

    config.device = torch.device("cpu")
    config.dtype = torch.float32
    calibration = windows(read_ids(args.calibration_ids), args.cal_samples, args.cal_seqlen)
    evaluation = windows(read_ids(args.eval_ids), args.eval_windows, args.eval_seqlen)
    loader = [
        {"input_ids": calibration[i : i + args.cal_batch], "attention_mask": torch.ones_like(calibration[i : i + args.cal_batch])}
        for i in range(0, calibration.shape[0], args.cal_batch)
    ]

    def load():
        model = transformers.LlamaForCausalLM.from_pretrained(args.model_folder, torch_dtype=torch.float32)
        model.config.use_cache = False
        return model.eval()

    dense = load()
    result = {
        "tool": "microsoft/TransformerCompression (slicegpt), driven by Baselines/slicegpt/reference_slicegpt.py",
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__},
        "threads": args.threads,
        "calibration": {"ids": args.calibration_ids, "samples": args.cal_samples, "seqlen": args.cal_seqlen, "sampling": "sequential"},
        "evaluation": {"ids": args.eval_ids, "seqlen": args.eval_seqlen, "windows": args.eval_windows},
        "dense": {"ppl": perplexity(dense, evaluation, args.eval_batch), "parameters": sum(p.numel() for p in dense.parameters())},
        "sliced": [],
    }
    del dense
    print(f"dense ppl {result['dense']['ppl']:.6f}", flush=True)
    for sparsity in args.sparsities:
        start = time.time()
        model = load()
        adapter = LlamaModelAdapter(model)
        layernorm_fusion.replace_layers(adapter)
        layernorm_fusion.fuse_modules(adapter)
        fused_parameters = sum(p.numel() for p in model.parameters())
        width = int((1 - sparsity) * adapter.hidden_size)
        width -= width % args.round_interval
        rotate.rotate_and_slice(adapter, loader, ConstSlicingScheduler(width), final_orientation="pca")
        entry = {
            "sparsity": sparsity,
            "width": width,
            "ppl": perplexity(model, evaluation, args.eval_batch),
            "parameters_after_fusion": fused_parameters,
            "parameters": sum(p.numel() for p in model.parameters()),
            "seconds": time.time() - start,
        }
        print(json.dumps(entry), flush=True)
        result["sliced"].append(entry)
    with open(args.output, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
