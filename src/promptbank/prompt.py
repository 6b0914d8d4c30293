"""SoftPrompt: an L×d tensor plus the metadata that says which backbone it belongs to and where it came from."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from promptbank.atomic import atomic_dir
from promptbank.backbones import Backbone
from promptbank.errors import BadArgumentError, DataError, IncompatiblePromptError
from promptbank.tasks.task import Task

INIT_METHODS = ("random", "vocab", "text", "labels", "prompt")
VOCAB_SAMPLE_SIZE = 5000  # Lester et al. sample init tokens from the 5,000 most frequent tokens
TENSOR_FILE, META_FILE = "prompt.safetensors", "prompt.json"


@dataclass
class SoftPrompt:
    """The trainable prompt (float32, shape (length, hidden_size)) and its provenance."""

    tensor: torch.Tensor
    backbone: str
    tokenizer_fingerprint: str
    init: str
    source: str = ""  # the init text, the label words, or the prompt it was initialised from
    info: dict[str, Any] = field(default_factory=dict)  # task, training config, metrics, curve, ...

    @property
    def length(self) -> int:
        return self.tensor.shape[0]

    @property
    def hidden_size(self) -> int:
        return self.tensor.shape[1]

    def metadata(self) -> dict[str, Any]:
        return {"backbone": self.backbone, "hidden_size": self.hidden_size, "length": self.length,
                "tokenizer_fingerprint": self.tokenizer_fingerprint, "init": self.init, "source": self.source,
                **self.info}


def check_compatible(prompt: SoftPrompt, backbone: Backbone) -> None:
    """A prompt is only meaningful for a backbone with its hidden size and its tokenizer."""
    if prompt.hidden_size != backbone.hidden_size:
        raise IncompatiblePromptError(
            f"This prompt was trained on backbone {prompt.backbone!r} (hidden size {prompt.hidden_size}) and "
            f"cannot be used with {backbone.name!r} (hidden size {backbone.hidden_size}).")
    if prompt.tokenizer_fingerprint != backbone.tokenizer_fingerprint:
        raise IncompatiblePromptError(
            f"This prompt was trained on backbone {prompt.backbone!r}, whose tokenizer differs from "
            f"{backbone.name!r}'s.")


def _cycle_to(rows: torch.Tensor, length: int) -> torch.Tensor:
    repeats = -(-length // rows.shape[0])
    return rows.repeat(repeats, 1)[:length]


def _token_rows(backbone: Backbone, text: str) -> torch.Tensor:
    ids = backbone.tokenizer(text, add_special_tokens=False)["input_ids"]
    if not ids:
        raise BadArgumentError("The init text has no tokens; give a non-empty --init-text.")
    with torch.no_grad():
        return backbone.embed(torch.tensor(ids, device=backbone.device)).float().cpu()


def embedding_scale(backbone: Backbone) -> float:
    """How much the embedding module scales the rows of its table (Gemma multiplies them by sqrt(d); most
    models by 1): random inits must start at the scale of the embeddings the model actually reads."""
    ids = torch.arange(min(256, backbone.model.get_input_embeddings().weight.shape[0]), device=backbone.device)
    with torch.no_grad():
        table = backbone.model.get_input_embeddings().weight[ids].float()
        return (backbone.embed(ids).float().norm() / table.norm()).item()


def ordinary_tokens(backbone: Backbone) -> torch.Tensor:
    """The first VOCAB_SAMPLE_SIZE token ids that are neither special nor added (Gemma's thousands of unused
    and image placeholders): the frequent real tokens of a vocabulary ordered by merge frequency."""
    tokenizer = backbone.tokenizer
    excluded = set(tokenizer.all_special_ids) | set(tokenizer.get_added_vocab().values())
    size = backbone.model.get_input_embeddings().weight.shape[0]
    pool = [i for i in range(min(VOCAB_SAMPLE_SIZE + len(excluded), size)) if i not in excluded]
    return torch.tensor(pool[:VOCAB_SAMPLE_SIZE])


def init_prompt(backbone: Backbone, length: int, method: str = "random", *, seed: int = 0,
                text: str | None = None, task: Task | None = None,
                source: Path | SoftPrompt | None = None) -> SoftPrompt:
    """A new prompt for `backbone`, initialised by one of INIT_METHODS.

    random: uniform in ±sqrt(3)·std of the vocabulary embeddings as the model scales them, so it starts at the
    embeddings' scale; vocab: embeddings of tokens sampled from the first 5,000 ordinary ids (vocabularies are
    ordered by merge frequency); text: the embeddings of a text's tokens, repeated to length L;
    labels: the embeddings of the task's verbalizer words, repeated to length L; prompt: a saved prompt (its
    directory, or the prompt already loaded from a bank or a PEFT adapter).
    """
    if length <= 0:
        raise BadArgumentError(f"--prompt-length must be a positive number of tokens, not {length}.")
    generator = torch.Generator().manual_seed(seed)
    weights = backbone.model.get_input_embeddings().weight
    common = {"backbone": backbone.name, "tokenizer_fingerprint": backbone.tokenizer_fingerprint, "init": method}
    if method == "random":
        bound = 3 ** 0.5 * weights.float().std().item() * embedding_scale(backbone)
        tensor = (torch.rand(length, backbone.hidden_size, generator=generator) * 2 - 1) * bound
        return SoftPrompt(tensor, **common)
    if method == "vocab":
        pool = ordinary_tokens(backbone)
        ids = pool[torch.randint(len(pool), (length,), generator=generator)]
        with torch.no_grad():
            tensor = backbone.embed(ids.to(backbone.device)).float().cpu()
        return SoftPrompt(tensor, **common, source=f"{len(pool)} most frequent tokens")
    if method == "text":
        if not text:
            raise BadArgumentError("--init text needs --init-text with the words to start from.")
        return SoftPrompt(_cycle_to(_token_rows(backbone, text), length), **common, source=text)
    if method == "labels":
        if task is None or not task.verbalizer:
            raise BadArgumentError("--init labels needs a task with verbalizer words (not a multiple-choice task).")
        words = " " + " ".join(task.verbalizer)
        return SoftPrompt(_cycle_to(_token_rows(backbone, words), length), **common, source=words.strip())
    if method == "prompt":
        if source is None:
            raise BadArgumentError("--init prompt needs --init-prompt: a saved prompt directory, a PEFT prompt-tuning "
                                   "adapter directory or a bank id.")
        if isinstance(source, SoftPrompt):  # from a bank (its id) or a PEFT adapter (its directory)
            loaded, origin = source, source.info.get("bank_id") or source.source
        else:
            loaded, origin = load_prompt(source), str(source)
        check_compatible(loaded, backbone)
        if loaded.length != length:
            raise BadArgumentError(f"The prompt {origin} has length {loaded.length}, not --prompt-length {length}.")
        return SoftPrompt(loaded.tensor.clone(), **common, source=origin)
    raise BadArgumentError(f"Unknown init method {method!r}; use one of {', '.join(INIT_METHODS)}.")


def save_prompt(prompt: SoftPrompt, directory: Path) -> None:
    """Write prompt.safetensors + prompt.json into `directory`, atomically: it appears whole or not at all."""
    with atomic_dir(directory) as partial:
        save_file({"prompt": prompt.tensor.detach().float().contiguous().cpu()}, partial / TENSOR_FILE)
        (partial / META_FILE).write_text(json.dumps(prompt.metadata(), indent=1))


def load_prompt(directory: Path) -> SoftPrompt:
    """Read a prompt saved by `save_prompt` (safetensors + JSON only; nothing is unpickled)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory} is not a saved prompt directory (one holding {TENSOR_FILE} and {META_FILE}).")
    try:
        meta = json.loads((directory / META_FILE).read_text())
        tensor = load_file(directory / TENSOR_FILE)["prompt"]
    except FileNotFoundError:
        raise DataError(f"{directory} is not a saved prompt (it needs {TENSOR_FILE} and {META_FILE}).") from None
    except (json.JSONDecodeError, UnicodeDecodeError, SafetensorError, KeyError):
        raise DataError(f"The prompt in {directory} is damaged and cannot be read.") from None
    if tensor.dim() != 2 or tensor.shape[1] != meta.get("hidden_size"):
        raise DataError(f"The prompt in {directory} is damaged: its tensor does not match its metadata.")
    core = {"backbone", "tokenizer_fingerprint", "init", "source", "hidden_size", "length"}
    return SoftPrompt(tensor.float(), meta["backbone"], meta["tokenizer_fingerprint"], meta["init"],
                      meta.get("source", ""), {k: v for k, v in meta.items() if k not in core})
