#!/usr/bin/env python3
"""Second, independent tokenization of WikiText-2 for gemma3-270m with the `sentencepiece` package.

Gemma's own tokenizer is a SentencePiece BPE model. This rebuilds that model from the GGUF's
tokenizer metadata (tokens, scores, token types; GGUF token types use SentencePiece's piece-type
numbers) and encodes the whole file with `sentencepiece`, then compares the ids with the
HuggingFace stream written by reference_ids.py (/work/ref-out/gemma3-270m.nospecial.ids).

Model spec used: BPE, byte_fallback, unk 3 / bos 2 / eos 1 / pad 0, normalizer "identity"
with add_dummy_prefix=False (the GGUF says add_space_prefix=false),
remove_extra_whitespaces=False, escape_whitespaces=True.
One detail matters: llama.cpp's converter writes USER_DEFINED pieces with "\u2581" turned back
into plain spaces (pieces 138..: runs of spaces). SentencePiece matches user-defined pieces
after whitespace escaping, so they are turned back into "\u2581" here; without that, the
streams diverge at id 252,054 (a double space) and sentencepiece gives 295,164 ids.

Usage: python gemma_spm_check.py  (writes gemma_spm_check.json beside this script)
"""
import hashlib
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference_ids as R  # noqa: E402


def field(reader, key):
    f = reader.fields[key]
    return [f.parts[i] for i in f.data]


def build(user_defined_spaces_as_meta=True):
    from gguf import GGUFReader
    from sentencepiece import sentencepiece_model_pb2 as pb
    import sentencepiece as spm
    r = GGUFReader(R.gguf_path("gemma3-270m"))
    toks = [bytes(x).decode("utf-8") for x in field(r, "tokenizer.ggml.tokens")]
    scores = [float(x[0]) for x in field(r, "tokenizer.ggml.scores")]
    types = [int(x[0]) for x in field(r, "tokenizer.ggml.token_type")]
    m = pb.ModelProto()
    m.trainer_spec.model_type = pb.TrainerSpec.BPE
    m.trainer_spec.vocab_size = len(toks)
    m.trainer_spec.byte_fallback = True
    m.trainer_spec.unk_id, m.trainer_spec.bos_id, m.trainer_spec.eos_id, m.trainer_spec.pad_id = 3, 2, 1, 0
    m.normalizer_spec.name = "identity"
    m.normalizer_spec.add_dummy_prefix = False
    m.normalizer_spec.remove_extra_whitespaces = False
    m.normalizer_spec.escape_whitespaces = True
    for t, s, ty in zip(toks, scores, types):
        if ty == 4 and user_defined_spaces_as_meta:
            t = t.replace(" ", "\u2581")
        p = m.pieces.add()
        p.piece, p.score, p.type = t, s, ty
    return spm.SentencePieceProcessor(model_proto=m.SerializeToString())


def main():
    import sentencepiece
    text = R.read_text()
    out = {"versions": {"sentencepiece": sentencepiece.__version__}}
    hf_path = "/work/ref-out/gemma3-270m.nospecial.ids"
    hf = np.fromfile(hf_path, dtype="<i4") if os.path.exists(hf_path) else None
    for variant in (True, False):
        sp = build(variant)
        ids = np.asarray(sp.encode(text), dtype="<i4")
        rec = {"count": int(len(ids)), "sha256": hashlib.sha256(ids.tobytes()).hexdigest(),
               "decode_roundtrip_exact": sp.decode(ids.tolist()) == text}
        if hf is not None:
            n = min(len(ids), len(hf))
            d = np.nonzero(ids[:n] != hf[:n])[0]
            rec["equal_to_hf_nospecial"] = bool(len(ids) == len(hf) and len(d) == 0)
            rec["first_divergence_from_hf"] = int(d[0]) if len(d) else None
        out["user_defined_spaces_as_meta" if variant else "user_defined_pieces_as_in_gguf"] = rec
        print(variant, rec, flush=True)
    with open(os.path.join(HERE, "gemma_spm_check.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
