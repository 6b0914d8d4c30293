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
from promptbank.errors import DataError, IncompatiblePromptError

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
    # the exact tensor training began from (None where unknown): the task vector is tensor - init_tensor
    init_tensor: torch.Tensor | None = None

    def __post_init__(self) -> None:
        """Every path that makes or reads a prompt passes here: a NaN or an infinity would spread silently through
        training, transfer and the bank, so it is refused where it appears."""
        for name, tensor in (("prompt", self.tensor), ("init", self.init_tensor)):
            if tensor is not None and not bool(torch.isfinite(tensor).all()):
                raise DataError(f"This {self.backbone} prompt's {name} tensor holds non-finite values (NaN or "
                                "infinity); it cannot be used.")

    @property
    def delta(self) -> torch.Tensor:
        """The task vector: what training added to the prompt it began from."""
        if self.init_tensor is None:
            raise DataError("This prompt does not record the tensor it began from, so it has no task vector.")
        return self.tensor - self.init_tensor

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


def save_prompt(prompt: SoftPrompt, directory: Path) -> None:
    """Write prompt.safetensors + prompt.json into `directory`, atomically: it appears whole or not at all."""
    with atomic_dir(directory) as partial:
        tensors = {"prompt": prompt.tensor} | ({} if prompt.init_tensor is None else {"init": prompt.init_tensor})
        save_file({k: v.detach().float().contiguous().cpu() for k, v in tensors.items()}, partial / TENSOR_FILE)
        (partial / META_FILE).write_text(json.dumps(prompt.metadata(), indent=1))


def load_prompt(directory: Path) -> SoftPrompt:
    """Read a prompt saved by `save_prompt` (safetensors + JSON only; nothing is unpickled)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory} is not a saved prompt directory (one holding {TENSOR_FILE} and {META_FILE}).")
    try:
        meta = json.loads((directory / META_FILE).read_text())
        tensors = load_file(directory / TENSOR_FILE)
        tensor, init = tensors["prompt"], tensors.get("init")
    except FileNotFoundError:
        raise DataError(f"{directory} is not a saved prompt (it needs {TENSOR_FILE} and {META_FILE}).") from None
    except (json.JSONDecodeError, UnicodeDecodeError, SafetensorError, KeyError):
        raise DataError(f"The prompt in {directory} is damaged and cannot be read.") from None
    if tensor.dim() != 2 or tensor.shape[1] != meta.get("hidden_size"):
        raise DataError(f"The prompt in {directory} is damaged: its tensor does not match its metadata.")
    core = {"backbone", "tokenizer_fingerprint", "init", "source", "hidden_size", "length"}
    if init is not None and init.shape != tensor.shape:
        raise DataError(f"The prompt in {directory} is damaged: its init tensor does not match its prompt.")
    return SoftPrompt(tensor.float(), meta["backbone"], meta["tokenizer_fingerprint"], meta["init"],
                      meta.get("source", ""), {k: v for k, v in meta.items() if k not in core},
                      None if init is None else init.float())
