"""Writes Tests/ModelIOTests/Fixtures/gguf-dequant.json: raw ggml blocks and the
Float32 values gguf-py (the PyPI `gguf` package, an independent numpy port of ggml's
dequantizers) gives for them. The Swift tests decode the same bytes and compare.

Run in a throwaway venv outside the repository (see README.md):
    /work/venvs/gguf/bin/python Baselines/gguf-dequant/make_fixture.py
"""
import base64
import importlib.metadata
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize

CACHE = os.environ.get("INTRASLICE_CACHE", os.path.expanduser("~/.cache/intraslice"))
MODELS = {
    "smollm2-135m": "models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf",
    "gemma3-270m": "models/gemma3-270m/gemma-3-270m-q4_k_m.gguf",
    "qwen2.5-0.5b": "models/qwen2.5-0.5b/qwen2.5-0.5b-coder-instruct.gguf",
}
# The types our reader dequantizes, by ggml's names (as in GGMLType.swift).
TYPES = {"f32": T.F32, "f16": T.F16, "bf16": T.BF16, "q4_0": T.Q4_0, "q4_1": T.Q4_1,
         "q5_0": T.Q5_0, "q5_1": T.Q5_1, "q8_0": T.Q8_0, "q4_K": T.Q4_K, "q5_K": T.Q5_K,
         "q6_K": T.Q6_K}
NAMES = {v: k for k, v in TYPES.items()}
VALUES_PER_ENTRY = 512  # about this many values from each real tensor


def floats(values):
    # float(np.float32) is exact in a double, and json writes the shortest repr that
    # reads back to the same double, so the Swift side gets the exact float32.
    return [float(v) for v in np.asarray(values, dtype=np.float32).reshape(-1)]


def entry(type_name, raw, values, **extra):
    return {"type": type_name, "bytes": base64.b64encode(bytes(raw)).decode(), "values": floats(values), **extra}


def real_entries(model_id, path):
    reader = gguf.GGUFReader(path)
    by_type = {}
    for t in reader.tensors:
        if t.tensor_type in NAMES:
            # The smallest tensor of each type keeps the whole-tensor sums cheap.
            best = by_type.get(t.tensor_type)
            if best is None or int(t.n_elements) < int(best.n_elements):
                by_type[t.tensor_type] = t
    entries = []
    for qtype, t in sorted(by_type.items(), key=lambda kv: NAMES[kv[0]]):
        block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
        blocks = max(1, min(VALUES_PER_ENTRY // block_size, int(t.n_elements) // block_size))
        raw = np.asarray(t.data).view(np.uint8).reshape(-1)[: blocks * type_size]
        values = dequantize(raw.reshape(blocks, type_size), qtype)
        whole = dequantize(np.asarray(t.data), qtype).astype(np.float64)
        entries.append(entry(NAMES[qtype], raw, values, source=model_id, file=os.path.basename(path),
                             tensor=t.name, dimensions=[int(d) for d in t.shape],
                             sum=float(whole.sum()), sum_abs=float(np.abs(whole).sum())))
    return entries


def random_entries(rng):
    """Random blocks of every type, with sane fp16 scales so that values are finite."""
    def half(values):
        return np.asarray(values, dtype=np.float16).view(np.uint8)

    entries = []
    for name, qtype in TYPES.items():
        block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
        blocks = max(1, 256 // block_size) if block_size > 1 else 256
        if qtype == T.F32:
            raw = rng.standard_normal(blocks).astype(np.float32).view(np.uint8)
        elif qtype == T.F16:
            raw = half(rng.standard_normal(blocks) * 10)
        elif qtype == T.BF16:
            raw = (rng.standard_normal(blocks).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16).view(np.uint8)
        else:
            raw = rng.integers(0, 256, size=(blocks, type_size), dtype=np.uint8)
            scales = half(rng.uniform(-0.05, 0.05, size=(blocks, 2))).reshape(blocks, 4)
            if qtype == T.Q6_K:      # d is the last field
                raw[:, -2:] = scales[:, :2]
            elif qtype in (T.Q4_0, T.Q5_0, T.Q8_0):  # d only
                raw[:, :2] = scales[:, :2]
            else:                    # d then m / dmin
                raw[:, :4] = scales
        raw = np.ascontiguousarray(raw).reshape(-1)
        values = dequantize(raw if block_size == 1 else raw.reshape(blocks, type_size), qtype)
        entries.append(entry(name, raw, values, source="random"))
    return entries


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                       "Tests", "ModelIOTests", "Fixtures", "gguf-dequant.json")
    entries = random_entries(np.random.default_rng(20261123))
    for model_id, rel in MODELS.items():
        path = os.path.join(CACHE, rel)
        if not os.path.exists(path):
            sys.exit(f"{path} is missing: run Scripts/fetch-assets.sh --all-models")
        entries += real_entries(model_id, path)
    fixture = {"generator": f"gguf {importlib.metadata.version('gguf')}, numpy {np.__version__}",
               "entries": entries}
    with open(out, "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
        f.write("\n")
    print(f"{out}: {len(entries)} entries, {os.path.getsize(out)} bytes")


if __name__ == "__main__":
    main()
