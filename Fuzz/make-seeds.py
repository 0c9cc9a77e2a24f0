#!/usr/bin/env python3
"""Writes the committed seed inputs of the fuzz targets into Fuzz/Seeds/<target>/.

Small valid files of every kind each reader takes, so that fuzzing starts from inputs that
reach deep into the code instead of from nothing: tiny GGUF files (both tokenizer kinds,
tensors of every dequantizable type), safetensors files (single and sharded), HuggingFace
config.json and tokenizer.json files of the supported families, task-file lines. When the
asset cache holds the real models and task files, the heads of those are added too.
Run from the repository root: python3 Fuzz/make-seeds.py
"""
import gzip, json, os, pathlib, random, struct

ROOT = pathlib.Path("Fuzz/Seeds")
CACHE = pathlib.Path(os.environ.get("INTRASLICE_CACHE", pathlib.Path.home() / ".cache/intraslice"))
rng = random.Random(13)


def put(target, name, data):
    folder = ROOT / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())


# --- GGUF (gguf.h: header, key/values, tensor infos, aligned data) -------------------------
def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


TYPES = {"u32": 4, "i32": 5, "f32": 6, "bool": 7, "str": 8, "arr": 9}


def gguf_value(kind, v):
    if kind == "u32": return struct.pack("<I", v)
    if kind == "i32": return struct.pack("<i", v)
    if kind == "f32": return struct.pack("<f", v)
    if kind == "bool": return bytes([1 if v else 0])
    if kind == "str": return gguf_string(v)
    element, values = v
    return struct.pack("<IQ", TYPES[element], len(values)) + b"".join(gguf_value(element, x) for x in values)


def gguf(metadata, tensors, alignment=32):
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata))
    for key, kind, value in metadata:
        out += gguf_string(key) + struct.pack("<I", TYPES[kind]) + gguf_value(kind, value)
    offset, data = 0, b""
    for name, dims, type_id, payload in tensors:
        out += gguf_string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", type_id, offset)
        padded = payload + bytes(-len(payload) % alignment)
        data += padded
        offset += len(padded)
    return out + bytes(-len(out) % alignment) + data


def f16_bytes(n):
    return b"".join(struct.pack("<e", rng.uniform(-1, 1)) for _ in range(n))


def block(type_id):
    """One block of a quantized type with a sane f16 scale and random quants."""
    scale = struct.pack("<e", 0.01)
    sizes = {2: 16, 3: 16, 6: 20, 7: 20, 8: 32}
    if type_id in (2, 6, 8): return scale + rng.randbytes(sizes[type_id])
    if type_id in (3, 7): return scale + scale + rng.randbytes(sizes[type_id])
    if type_id == 12: return scale + scale + rng.randbytes(12 + 128)
    if type_id == 13: return scale + scale + rng.randbytes(12 + 32 + 128)
    if type_id == 14: return rng.randbytes(128 + 64 + 16) + scale


TENSORS = [
    ("token_embd.weight", [4, 3], 0, b"".join(struct.pack("<f", rng.uniform(-1, 1)) for _ in range(12))),
    ("f16", [8], 1, f16_bytes(8)),
    ("bf16", [4], 30, rng.randbytes(8)),
] + [(f"q{t}", [32], t, block(t)) for t in (2, 3, 6, 7, 8)] + [(f"k{t}", [256], t, block(t)) for t in (12, 13, 14)]


def byte_level_alphabet():
    printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    table, extra = {}, 256
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(extra)
            extra += 1
    return table


ALPHABET = byte_level_alphabet()


def spell(text):
    return "".join(ALPHABET[b] for b in text.encode())


words = ["Hello", ",", " world", "!", " 1", "2", "3", " e", "t", "é", "\n"]
merges = [("H", "e"), ("He", "l"), ("Hel", "l"), ("Hell", "o"), (" ", "w"), (" w", "o"), (" wo", "r"), (" wor", "l"), (" worl", "d")]
bpe_tokens = [ALPHABET[b] for b in range(256)] + [spell(a + b) for a, b in merges] + ["<|im_end|>", "<s>"]
gpt2_meta = [
    ("general.architecture", "str", "llama"),
    ("general.alignment", "u32", 32),
    ("tokenizer.ggml.model", "str", "gpt2"),
    ("tokenizer.ggml.pre", "str", "smollm"),
    ("tokenizer.ggml.tokens", "arr", ("str", bpe_tokens)),
    ("tokenizer.ggml.token_type", "arr", ("i32", [1] * (len(bpe_tokens) - 2) + [3, 3])),
    ("tokenizer.ggml.merges", "arr", ("str", [f"{spell(a)} {spell(b)}" for a, b in merges])),
    ("tokenizer.ggml.bos_token_id", "u32", len(bpe_tokens) - 1),
    ("tokenizer.ggml.eos_token_id", "u32", len(bpe_tokens) - 2),
    ("tokenizer.ggml.add_bos_token", "bool", False),
]
put("gguf", "tiny-gpt2-smollm.gguf", gguf(gpt2_meta, TENSORS))
for pre in ("llama-bpe", "qwen2", "gpt2"):
    meta = [(k, t, pre if k == "tokenizer.ggml.pre" else v) for k, t, v in gpt2_meta]
    put("gguf", f"tiny-gpt2-{pre}.gguf", gguf(meta, TENSORS[:2]))

pieces = ["▁", "a", "b", "▁a", "ab", "▁ab", "H", "e", "l", "o", "He", "ll", "Hell", "Hello", "▁w", "or", "ld"]
sp_tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + pieces + ["<start_of_turn>"]
sp_meta = [
    ("general.architecture", "str", "gemma3"),
    ("tokenizer.ggml.model", "str", "llama"),
    ("tokenizer.ggml.tokens", "arr", ("str", sp_tokens)),
    ("tokenizer.ggml.scores", "arr", ("f32", [0.0] * 259 + [-float(i) for i in range(len(pieces))] + [0.0])),
    ("tokenizer.ggml.token_type", "arr", ("i32", [2, 3, 3] + [6] * 256 + [1] * len(pieces) + [4])),
    ("tokenizer.ggml.bos_token_id", "u32", 1),
    ("tokenizer.ggml.eos_token_id", "u32", 2),
    ("tokenizer.ggml.unknown_token_id", "u32", 0),
    ("tokenizer.ggml.add_space_prefix", "bool", True),
]
put("gguf", "tiny-llama-spm.gguf", gguf(sp_meta, TENSORS[:1]))
put("gguf", "nested-arrays.gguf", gguf([("a", "arr", ("arr", [("u32", [1, 2]), ("u32", [3])]))], []))
for model in sorted((CACHE / "models").glob("*/*.gguf")):
    put("gguf", f"head-of-{model.parent.name}.gguf", model.read_bytes()[:8192])


# --- safetensors ------------------------------------------------------------------------
def safetensors(tensors, metadata=None):
    header, data = {}, b""
    if metadata: header["__metadata__"] = metadata
    for name, dtype, shape, payload in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


SEPARATOR = b"\x0c\x0cFILE\x0c\x0c"  # Fuzz/Safetensors/FuzzSafetensors.swift
floats = struct.pack("<6f", *[rng.uniform(-1, 1) for _ in range(6)])
put("safetensors", "single.safetensors", safetensors([
    ("model.embed_tokens.weight", "F32", [2, 3], floats), ("model.norm.weight", "BF16", [4], rng.randbytes(8)),
    ("h", "F16", [2], f16_bytes(2)), ("ids", "I64", [1], bytes(8)), ("empty", "F32", [0, 4], b""),
], {"format": "pt"}))
index = {"metadata": {"total_size": 40},
         "weight_map": {"a.weight": "1.safetensors", "b.weight": "1.safetensors", "c.weight": "2.safetensors"}}
put("safetensors", "sharded.input", json.dumps(index).encode() + SEPARATOR
    + safetensors([("a.weight", "F32", [2, 2], floats[:16]), ("b.weight", "F16", [2], f16_bytes(2))]) + SEPARATOR
    + safetensors([("c.weight", "BF16", [2, 2], rng.randbytes(8))]))

# --- config.json (the real checkpoints' configurations, and a pruned one) ----------------
configs = {
    "smollm2-135m": {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 576,
                     "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9,
                     "num_key_value_heads": 3, "vocab_size": 49152, "rms_norm_eps": 1e-05, "rope_theta": 100000,
                     "rope_scaling": None, "tie_word_embeddings": True, "max_position_embeddings": 8192,
                     "hidden_act": "silu", "attention_bias": False, "torch_dtype": "bfloat16"},
    "qwen2.5-0.5b": {"model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
                     "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936, "rms_norm_eps": 1e-06,
                     "rope_theta": 1000000.0, "tie_word_embeddings": True, "max_position_embeddings": 32768,
                     "sliding_window": 32768, "hidden_act": "silu"},
    "gemma3-270m": {"model_type": "gemma3_text", "hidden_size": 640, "intermediate_size": 2048, "num_hidden_layers": 18,
                    "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 256, "vocab_size": 262144,
                    "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0,
                    "sliding_window": 512, "query_pre_attn_scalar": 256, "hidden_activation": "gelu_pytorch_tanh",
                    "layer_types": (["sliding_attention"] * 5 + ["full_attention"]) * 3, "rope_scaling": None},
    "llama3-scaled": {"model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
                      "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256, "rms_norm_eps": 1e-05,
                      "rope_theta": 500000.0, "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0,
                      "low_freq_factor": 1.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"}},
    "phi3-mini": {"model_type": "phi3", "hidden_size": 3072, "intermediate_size": 8192, "num_hidden_layers": 32,
                  "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 32064, "rms_norm_eps": 1e-05,
                  "rope_theta": 10000.0, "tie_word_embeddings": False, "hidden_act": "silu"},
    "pruned": {"model_type": "llama", "hidden_size": 24, "intermediate_size": 40, "num_hidden_layers": 2,
               "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 6, "vocab_size": 50,
               "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "rms_norm_divisor": 32,
               "intraslice_norms_include_offset": True, "intraslice_tokenizer_source": "smollm2-135m",
               "intraslice_pruned_layers": [
                   {"num_attention_heads": 3, "num_key_value_heads": 2, "kv_head_of_query_head": [0, 0, 1],
                    "qk_head_dim": 4, "v_head_dim": 5, "rope_inverse_frequencies": [1.0, 0.0464],
                    "attention_scale": 0.5, "intermediate_size": 32},
                   {"num_attention_heads": 4, "num_key_value_heads": 2, "kv_head_of_query_head": [0, 0, 1, 1],
                    "qk_head_dim": 6, "v_head_dim": 6, "rope_inverse_frequencies": [1.0, 0.1, 0.01],
                    "attention_scale": 0.408, "intermediate_size": 40}]},
}
for name, config in configs.items():
    put("config", f"{name}.json", json.dumps(config, indent=2))

# --- tokenizer.json (the supported families' configurations on a small vocabulary) -------
vocab = {t: i for i, t in enumerate(bpe_tokens[:-2])}
byte_level = {
    "version": "1.0",
    "added_tokens": [{"id": len(vocab), "content": "<|im_end|>", "special": True},
                     {"id": len(vocab) + 1, "content": "<s>", "special": True}],
    "normalizer": None,
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True},
                                                            {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True}]},
    "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                                                {"Sequence": {"id": "A", "type_id": 0}}]},
    "model": {"type": "BPE", "dropout": None, "byte_fallback": False, "ignore_merges": False,
              "vocab": vocab, "merges": [f"{spell(a)} {spell(b)}" for a, b in merges]},
}
put("tokenizer-json", "smollm.json", json.dumps(byte_level, ensure_ascii=False))
llama3_regex = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
llama3 = dict(byte_level, normalizer={"type": "NFC"},
              pre_tokenizer={"type": "Sequence", "pretokenizers": [
                  {"type": "Split", "pattern": {"Regex": llama3_regex}, "behavior": "Isolated", "invert": False},
                  {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False}]},
              post_processor={"type": "ByteLevel"},
              model=dict(byte_level["model"], ignore_merges=True, merges=[[spell(a), spell(b)] for a, b in merges]))
put("tokenizer-json", "llama3.json", json.dumps(llama3, ensure_ascii=False))
sp_vocab = {t: i for i, t in enumerate(sp_tokens)}
sentencepiece = {
    "added_tokens": [{"id": 0, "content": "<unk>", "special": True}, {"id": 1, "content": "<s>", "special": True},
                     {"id": len(sp_tokens) - 1, "content": "<start_of_turn>", "special": False}],
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                                                       {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
    "pre_tokenizer": None,
    "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                                                {"Sequence": {"id": "A", "type_id": 0}},
                                                                {"SpecialToken": {"id": "</s>", "type_id": 0}}]},
    "model": {"type": "BPE", "byte_fallback": True, "unk_token": "<unk>", "vocab": sp_vocab,
              "merges": ["▁ a", "a b", "▁a b", "H e", "l l", "He ll", "Hell o", "▁ w", "o r", "l d"]},
}
put("tokenizer-json", "llama2.json", json.dumps(sentencepiece, ensure_ascii=False))
gemma = dict(sentencepiece, normalizer={"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
             pre_tokenizer={"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": False})
put("tokenizer-json", "gemma.json", json.dumps(gemma, ensure_ascii=False))
metaspace = dict(sentencepiece, normalizer=None,
                 pre_tokenizer={"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False})
put("tokenizer-json", "metaspace.json", json.dumps(metaspace, ensure_ascii=False))

# --- task files: first byte = task index (ZeroShotTask.allCases order) | 8 for JSON lines -
TASKS = ["piqa", "hellaswag", "winogrande", "arc_easy", "arc_challenge", "boolq", "openbookqa", "lambada"]
for index, task in enumerate(TASKS):
    files = sorted((CACHE / "tasks" / task).glob("*/requests.jsonl.gz"))
    if not files: continue
    with gzip.open(files[0], "rb") as f:
        lines = [f.readline() for _ in range(2)]
    put("taskfile", f"{task}.lines", bytes([index | 8]) + b"".join(lines))
    if task == "winogrande":  # the raw-file mode: a real gzip file of two members
        put("taskfile", f"{task}.two-members", bytes([index]) + gzip.compress(lines[0], mtime=0) + gzip.compress(lines[1], mtime=0))
