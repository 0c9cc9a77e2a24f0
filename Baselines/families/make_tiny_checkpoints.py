#!/usr/bin/env python3
"""Tiny random checkpoints of every architecture family, with HuggingFace transformers' logits.

For each family the harness implements, builds a small seeded random model with transformers'
own model class, saves it as a HuggingFace folder and records the logits transformers computes
for a fixed token sequence, so the Swift forward pass can be compared number for number
(Tests/TransformerTests/FamilyReferenceTests.swift).

Each folder under Tests/TransformerTests/Fixtures/families/<name>/ holds:
  - model.safetensors  the weights as `save_pretrained` wrote them (float32);
  - config.json        the config in the layout of the published checkpoints on the Hub
                       (`rope_theta`/`rope_scaling`, Phi-3's top-level
                       `original_max_position_embeddings`, Gemma's `rope_local_base_freq`);
  - transformers5-config.json  the same config as transformers 5 `save_pretrained` writes it
                       (`rope_parameters`, nested per layer type for Gemma 3);
  - reference.json     the token ids, the full float32 logits of the eager forward pass loaded
                       from the folder, the same with each config file and with SDPA attention
                       (as differences), and what the logits become with the family's special
                       feature switched off (so that a test passing at 1e-4 shows the feature is
                       implemented, not merely too small to matter).

Usage: /work/venvs/ref/bin/python Baselines/families/make_tiny_checkpoints.py [--out DIR] [--threads 2]
"""
import argparse
import json
import math
import os
import shutil
import tempfile

import torch
import transformers
from transformers.utils import logging
from transformers import (AutoModelForCausalLM, Gemma3ForCausalLM, Gemma3TextConfig, LlamaConfig,
                          LlamaForCausalLM, MistralConfig, MistralForCausalLM, Phi3Config, Phi3ForCausalLM,
                          Qwen2Config, Qwen2ForCausalLM)

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "..", "Tests", "TransformerTests", "Fixtures", "families")

SEQUENCE_LENGTH = 32
VOCABULARY = 128
# Shared shape: hidden 64, 4 query heads of 16 sharing 2 KV heads (GQA), MLP width 64.
SHAPE = dict(hidden_size=64, num_attention_heads=4, num_key_value_heads=2, intermediate_size=64,
             vocab_size=VOCABULARY, num_hidden_layers=2)


def family_specs():
    """name -> (model class, transformers config, Hub-layout config.json, ablations).

    An ablation is (what, Hub-layout config changes) and measures how far the logits move
    when the family's special feature is switched off."""
    specs = {}

    # Llama-3.1-style `llama3` RoPE scaling. With head size 16 and base 10^4 the 8 wavelengths
    # are 6.3, 19.9, 62.8, 199, 628, ...; original_max_position_embeddings 64 with low/high
    # factors 1/4 puts the thresholds at 64 and 16: one pair is kept, two are interpolated and
    # five are slowed by `factor`.
    llama3 = dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                  original_max_position_embeddings=64)
    specs["llama3"] = (LlamaForCausalLM,
                       LlamaConfig(**SHAPE, rope_parameters=dict(rope_theta=10000.0, **llama3),
                                   max_position_embeddings=512, rms_norm_eps=1e-5, tie_word_embeddings=False),
                       dict(model_type="llama", architectures=["LlamaForCausalLM"], **SHAPE, head_dim=16,
                            hidden_act="silu", max_position_embeddings=512, rms_norm_eps=1e-5, rope_theta=10000.0,
                            rope_scaling=llama3, tie_word_embeddings=False, attention_bias=False, mlp_bias=False),
                       [("rope_scaling removed", dict(rope_scaling=None))])

    # Mistral: `sliding_window` (8) applies to every layer and is shorter than the 32 tokens.
    specs["mistral"] = (MistralForCausalLM,
                        MistralConfig(**SHAPE, sliding_window=8, rope_parameters=dict(rope_theta=10000.0),
                                      max_position_embeddings=512, rms_norm_eps=1e-5, tie_word_embeddings=False),
                        dict(model_type="mistral", architectures=["MistralForCausalLM"], **SHAPE, head_dim=16,
                             hidden_act="silu", max_position_embeddings=512, rms_norm_eps=1e-5, rope_theta=10000.0,
                             sliding_window=8, tie_word_embeddings=False),
                        [("sliding_window removed", dict(sliding_window=None))])

    # Qwen2: q/k/v biases, tied head, and the sliding window switched on from layer 1
    # (`use_sliding_window`, `max_window_layers`): layer 0 is global, layer 1 sees 8 keys.
    specs["qwen2"] = (Qwen2ForCausalLM,
                      Qwen2Config(**SHAPE, use_sliding_window=True, sliding_window=8, max_window_layers=1,
                                  rope_parameters=dict(rope_theta=1000000.0), max_position_embeddings=512,
                                  rms_norm_eps=1e-6, tie_word_embeddings=True),
                      dict(model_type="qwen2", architectures=["Qwen2ForCausalLM"], **SHAPE, hidden_act="silu",
                           max_position_embeddings=512, rms_norm_eps=1e-6, rope_theta=1000000.0,
                           use_sliding_window=True, sliding_window=8, max_window_layers=1, tie_word_embeddings=True),
                      [("use_sliding_window false", dict(use_sliding_window=False))])

    # Phi-3: fused qkv_proj and gate_up_proj, LongRoPE (the short factors, since 32 tokens do
    # not exceed original_max_position_embeddings 64; max_position_embeddings 512 makes the
    # attention factor sqrt(1 + ln 8 / ln 64) = 1.2247), and a sliding window of 16 on every
    # layer (Phi-3-mini-4k has 2047).
    short = [1.0, 1.1, 1.3, 1.7, 2.4, 3.5, 5.0, 7.0]
    long = [1.0, 1.5, 2.5, 4.0, 8.0, 16.0, 32.0, 64.0]
    longrope = dict(type="longrope", short_factor=short, long_factor=long)
    specs["phi3"] = (Phi3ForCausalLM,
                     Phi3Config(**SHAPE, rope_parameters=dict(rope_type="longrope", rope_theta=10000.0,
                                                              short_factor=short, long_factor=long,
                                                              original_max_position_embeddings=64),
                                max_position_embeddings=512, original_max_position_embeddings=64, sliding_window=16,
                                rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
                                pad_token_id=None),
                     dict(model_type="phi3", architectures=["Phi3ForCausalLM"], **SHAPE, hidden_act="silu",
                          max_position_embeddings=512, original_max_position_embeddings=64, rms_norm_eps=1e-5,
                          rope_theta=10000.0, rope_scaling=longrope, sliding_window=16, tie_word_embeddings=False,
                          bos_token_id=1, eos_token_id=2, pad_token_id=None),
                     [("rope_scaling removed", dict(rope_scaling=None)),
                      ("attention factor 1", dict(rope_scaling=dict(longrope, attention_factor=1.0))),
                      ("sliding_window removed", dict(sliding_window=None))])

    # Gemma 3 (text): q/k norms, post-attention/post-feedforward norms, (1 + w) norm weights,
    # GeGLU, embeddings times sqrt(hidden), query_pre_attn_scalar; layers 0 and 1 slide over
    # 8 keys with RoPE base 10^4, layer 2 is global with base 10^6.
    gemma_shape = dict(SHAPE, num_hidden_layers=3)
    layer_types = ["sliding_attention", "sliding_attention", "full_attention"]
    specs["gemma3"] = (Gemma3ForCausalLM,
                       Gemma3TextConfig(**gemma_shape, head_dim=16, sliding_window=8, layer_types=layer_types,
                                        query_pre_attn_scalar=16, max_position_embeddings=512, rms_norm_eps=1e-6,
                                        rope_parameters=dict(full_attention=dict(rope_type="default", rope_theta=1000000.0),
                                                             sliding_attention=dict(rope_type="default", rope_theta=10000.0)),
                                        tie_word_embeddings=True),
                       dict(model_type="gemma3_text", architectures=["Gemma3ForCausalLM"], **gemma_shape, head_dim=16,
                            hidden_activation="gelu_pytorch_tanh", max_position_embeddings=512, rms_norm_eps=1e-6,
                            rope_theta=1000000.0, rope_local_base_freq=10000.0, rope_scaling=None, sliding_window=8,
                            sliding_window_pattern=3, query_pre_attn_scalar=16, final_logit_softcapping=None,
                            attn_logit_softcapping=None, tie_word_embeddings=True),
                       [("sliding_window_pattern 1 (no sliding layer)", dict(sliding_window_pattern=1)),
                        ("rope_local_base_freq 10^6", dict(rope_local_base_freq=1000000.0))])
    return specs


def randomize(model, seed, gemma):
    """Weights of a size that makes every part matter: projections with entries of variance
    1/fan_in (queries and keys of unit scale, so attention is far from uniform and RoPE
    errors show), embeddings likewise (a tied head gives logits of unit scale), biases N(0, 0.25), norm scales 1 ± 0.2 (Gemma stores
    the scale minus 1)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if name.endswith("norm.weight"):
                values = 0.4 * torch.rand(p.shape, generator=generator) - 0.2 + (0.0 if gemma else 1.0)
            elif name.endswith(".bias"):
                values = 0.5 * torch.randn(p.shape, generator=generator)
            elif "embed_tokens" in name:
                values = torch.randn(p.shape, generator=generator) / math.sqrt(p.shape[1])
            else:
                values = torch.randn(p.shape, generator=generator) / math.sqrt(p.shape[1])
            p.copy_(values)


def logits_of(folder, tokens, attention):
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation=attention)
    model.eval()
    with torch.no_grad():
        return model(torch.tensor([tokens])).logits[0]


def relative(a, b):
    """max |a - b| / max |b|: the tolerance definition the Swift test uses."""
    return float((a - b).abs().max() / b.abs().max())


def write_config(folder, config):
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")


def make(name, spec, out, seed):
    cls, config, hub_config, ablations = spec
    torch.manual_seed(seed)
    config._attn_implementation = "eager"
    model = cls(config).eval()
    randomize(model, seed, gemma=config.model_type.startswith("gemma"))
    folder = os.path.join(out, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    tokens = torch.randint(0, VOCABULARY, (SEQUENCE_LENGTH,), generator=torch.Generator().manual_seed(seed)).tolist()
    with torch.no_grad():
        in_memory = model(torch.tensor([tokens])).logits[0]

    with tempfile.TemporaryDirectory() as saved:
        model.save_pretrained(saved, safe_serialization=True)
        shutil.copy(os.path.join(saved, "model.safetensors"), folder)
        shutil.copy(os.path.join(saved, "config.json"), os.path.join(folder, "transformers5-config.json"))
        transformers5 = logits_of(saved, tokens, "eager")
    hub_config = dict(hub_config, torch_dtype="float32")
    write_config(folder, hub_config)
    eager = logits_of(folder, tokens, "eager")
    sdpa = logits_of(folder, tokens, "sdpa")

    effects = {}
    for what, change in ablations:
        with tempfile.TemporaryDirectory() as variant:
            shutil.copy(os.path.join(folder, "model.safetensors"), variant)
            write_config(variant, dict(hub_config, **change))
            effects[what] = relative(logits_of(variant, tokens, "eager"), eager)

    reference = {
        "family": name,
        "model_type": hub_config["model_type"],
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "seed": seed,
        "attention": "eager",
        "dtype": "float32",
        "tolerance_definition": "max |harness - reference| / max |reference| over all logits",
        "tokens": tokens,
        # 8 significant digits: 5e-9 relative, far below the tolerance.
        "logits": [[float(f"{x:.8g}") for x in row] for row in eager.tolist()],
        "max_abs_logit": float(eager.abs().max()),
        "relative_difference": {
            "in_memory_model_vs_folder": relative(in_memory, eager),
            "transformers5_config_vs_hub_config": relative(transformers5, eager),
            "sdpa_vs_eager": relative(sdpa, eager),
        },
        "relative_change_when_switched_off": effects,
    }
    with open(os.path.join(folder, "reference.json"), "w") as f:
        json.dump(reference, f, indent=1)
        f.write("\n")
    print(f"{name}: max|logit| {reference['max_abs_logit']:.3f}, "
          + ", ".join(f"{k} {v:.2e}" for k, v in reference["relative_difference"].items()) + "; switched off: "
          + ", ".join(f"{k} {v:.3f}" for k, v in effects.items()))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.disable_progress_bar()
    for index, (name, spec) in enumerate(family_specs().items()):
        make(name, spec, os.path.abspath(args.out), args.seed + index)


if __name__ == "__main__":
    main()
