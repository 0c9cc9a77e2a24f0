#!/usr/bin/env python3
"""Reference token ids for the three GGUF models, made with HuggingFace tokenizers.

Each model's tokenizer is rebuilt from its GGUF by transformers' GGUF import
(`AutoTokenizer.from_pretrained(folder, gguf_file=...)`), then corrected where the import
is known to differ from the model's own tokenizer (see shared/reference/ASSETS.md):

- smollm2-135m: the import drops SmolLM2's digit split; the pre-tokenizer is set back to
  Sequence([Digits(individual_digits=True), ByteLevel(add_prefix_space=False, use_regex=True)]).
- qwen2.5-0.5b: Qwen2's tokenizer applies NFC before its split; the GGUF does not say so,
  so an NFC normalizer is added.
- gemma3-270m: used as imported (SentencePiece-style BPE with byte fallback, BOS added).

The whole WikiText-2 raw test file (exact bytes decoded as UTF-8, CRLF kept) is tokenized in
one piece, once with the tokenizer's default special-token behaviour
(`add_special_tokens=True`) and once without special tokens. The full id streams go to
OUT_DIR/<model>.<mode>.ids as little-endian int32; a summary goes to reference_ids.json
beside this script.

Usage: python reference_ids.py [--out-dir /work/ref-out]
Runs in a throwaway venv with transformers, tokenizers, gguf, sentencepiece, protobuf, numpy.
"""
import argparse
import hashlib
import json
import os
import sys
import time
import unicodedata

import numpy as np

MODELS = {
    "smollm2-135m": "smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf",
    "gemma3-270m": "gemma3-270m/gemma-3-270m-q4_k_m.gguf",
    "qwen2.5-0.5b": "qwen2.5-0.5b/qwen2.5-0.5b-coder-instruct.gguf",
}
CACHE = os.environ.get("INTRASLICE_CACHE", os.path.expanduser("~/.cache/intraslice"))
MODEL_ROOT = os.path.join(CACHE, "models")
TEXT = os.path.join(CACHE, "text", "wikitext2-test.raw")
TEXT_SHA256 = "4f3e427e4aff23acff917a8a51aeae21bf12832256e26914c8fc250dcef4103c"

TRICKY = [
    " 1234567",
    "Hello world\r\n\r\n = Valkyria =",
    "naïve café",
    "nai\u0308ve cafe\u0301",  # decomposed (NFD) form of the previous string
    "日本語",
    "  multiple   spaces",
    "tab\tand\nnewline",
    "a1b22c333 3.14159 1,000,000",
    " @-@ ",
    "x\r\ny",
    "\u00e9\u0301\U0001F600 emoji",
]


def gguf_path(model):
    return os.path.join(MODEL_ROOT, MODELS[model])


def load_tokenizer(model, fixed=True):
    """The model's tokenizer as transformers imports it from the GGUF, with ASSETS.md's fixes."""
    from transformers import AutoTokenizer
    from tokenizers import normalizers, pre_tokenizers

    folder, name = os.path.split(gguf_path(model))
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    if fixed:
        bt = tok.backend_tokenizer
        if model == "smollm2-135m":
            bt.pre_tokenizer = pre_tokenizers.Sequence([
                pre_tokenizers.Digits(individual_digits=True),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
            ])
        elif model == "qwen2.5-0.5b":
            assert bt.normalizer is None, bt.normalizer
            bt.normalizer = normalizers.NFC()
    return tok


def read_text():
    with open(TEXT, "rb") as f:
        raw = f.read()
    assert hashlib.sha256(raw).hexdigest() == TEXT_SHA256, "unexpected WikiText-2 file"
    return raw.decode("utf-8")


def ids_sha256(ids):
    return hashlib.sha256(np.asarray(ids, dtype="<i4").tobytes()).hexdigest()


def encode(tok, text, special):
    return tok(text, add_special_tokens=special).input_ids


def describe_tokenizer(tok):
    bt = tok.backend_tokenizer
    def state(x):
        return json.loads(x.__getstate__()) if x is not None else None
    return {
        "class": type(tok).__name__,
        "model": type(bt.model).__name__,
        "byte_fallback": getattr(bt.model, "byte_fallback", None),
        "vocab_size": bt.get_vocab_size(with_added_tokens=True),
        "normalizer": state(bt.normalizer),
        "pre_tokenizer": state(bt.pre_tokenizer),
        "post_processor": state(bt.post_processor),
        "decoder": state(bt.decoder),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out-dir", default="/work/ref-out")
    ap.add_argument("--json", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_ids.json"))
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)

    import tokenizers
    import transformers
    text = read_text()
    result = {
        "text": {"path": "wikitext2-test.raw (WikiText-2 raw test, read as exact bytes, UTF-8, CRLF kept)",
                 "sha256": TEXT_SHA256, "bytes": len(text.encode("utf-8")), "chars": len(text)},
        "versions": {"python": sys.version.split()[0], "transformers": transformers.__version__,
                     "tokenizers": tokenizers.__version__, "numpy": np.__version__},
        "id_hash": "SHA-256 of the ids as little-endian int32 bytes",
        "models": {},
    }
    for model in MODELS:
        t0 = time.time()
        tok = load_tokenizer(model, fixed=True)
        entry = {
            "gguf": os.path.basename(gguf_path(model)),
            "fixes": {
                "smollm2-135m": "pre_tokenizer := Sequence([Digits(individual_digits=True), ByteLevel(add_prefix_space=False, use_regex=True)])",
                "qwen2.5-0.5b": "normalizer := NFC",
                "gemma3-270m": "none (used as imported)",
            }[model],
            "tokenizer": describe_tokenizer(tok),
            "bos_id": tok.bos_token_id, "bos_token": tok.bos_token,
            "eos_id": tok.eos_token_id, "eos_token": tok.eos_token,
            "modes": {}, "tricky": {},
        }
        for mode, special in (("default", True), ("nospecial", False)):
            ids = encode(tok, text, special)
            path = os.path.join(args.out_dir, f"{model}.{mode}.ids")
            np.asarray(ids, dtype="<i4").tofile(path)
            dec_raw = tok.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
            dec_skip = tok.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
            entry["modes"][mode] = {
                "add_special_tokens": special,
                "count": len(ids),
                "sha256": ids_sha256(ids),
                "first64": ids[:64],
                "last16": ids[-16:],
                "bos_added": bool(ids and ids[0] == tok.bos_token_id and special),
                "eos_added": bool(ids and ids[-1] == tok.eos_token_id),
                "decode_roundtrip_exact": dec_raw == text,
                "decode_skip_special_roundtrip_exact": dec_skip == text,
                "ids_file": path,
            }
            print(model, mode, len(ids), entry["modes"][mode]["sha256"][:16],
                  "roundtrip", dec_raw == text, dec_skip == text, flush=True)
        # what the unfixed import gives, for the record
        if model in ("smollm2-135m", "qwen2.5-0.5b"):
            raw_tok = load_tokenizer(model, fixed=False)
            ids_unfixed = encode(raw_tok, text, False)
            ids_fixed = np.fromfile(os.path.join(args.out_dir, f"{model}.nospecial.ids"), dtype="<i4")
            n = min(len(ids_fixed), len(ids_unfixed))
            diff = np.nonzero(ids_fixed[:n] != np.asarray(ids_unfixed[:n]))[0]
            entry["unfixed_import_nospecial"] = {
                "count": len(ids_unfixed), "sha256": ids_sha256(ids_unfixed),
                "first_divergence": int(diff[0]) if len(diff) else (None if len(ids_fixed) == len(ids_unfixed) else n),
            }
            print(model, "unfixed", entry["unfixed_import_nospecial"], flush=True)
        for s in TRICKY:
            d = encode(tok, s, True)
            n = encode(tok, s, False)
            entry["tricky"][s] = {
                "default": d, "nospecial": n,
                "tokens": tok.convert_ids_to_tokens(n),
                "decode_roundtrip_exact": tok.decode(n, clean_up_tokenization_spaces=False) == s,
                "nfc_changes_input": unicodedata.normalize("NFC", s) != s,
            }
        entry["seconds"] = round(time.time() - t0, 1)
        result["models"][model] = entry
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("wrote", args.json)


if __name__ == "__main__":
    main()
