"""Content-addressed prompt tensors: one safetensors file per prompt, named by the sha256 of its bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from promptbank.atomic import TEMP_PREFIX, write_atomic
from promptbank.errors import DataError

SUFFIX = ".safetensors"


def encode(tensor: torch.Tensor, init: torch.Tensor | None = None) -> tuple[bytes, str]:
    """The blob bytes of a prompt tensor and, where known, the exact tensor its training began from (float32, no
    metadata, so equal tensors give equal bytes), and their sha256."""
    tensors = {"prompt": tensor} | ({} if init is None else {"init": init})
    data = save({key: value.detach().float().contiguous().cpu() for key, value in tensors.items()})
    return data, hashlib.sha256(data).hexdigest()


def path_of(root: Path, digest: str) -> Path:
    return root / digest[:2] / f"{digest}{SUFFIX}"


def write(root: Path, data: bytes, digest: str) -> Path:
    """Store the bytes under their digest: written to a temp file, flushed to disk, renamed into place.

    A process killed half-way leaves at most a temp file, never a partial blob under a digest name.
    """
    final = path_of(root, digest)
    if not final.exists():
        write_atomic(final, data, durable=True)
    return final


def read(root: Path, digest: str, check: bool = True) -> torch.Tensor:
    """The prompt tensor of a blob; a missing, altered or unreadable blob is a DataError naming its file."""
    return read_all(root, digest, check)["prompt"]


def read_all(root: Path, digest: str, check: bool = True) -> dict[str, torch.Tensor]:
    """Every tensor of a blob: "prompt", and "init" where the prompt records the tensor it began from."""
    path = path_of(root, digest)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"The blob {path} is missing from the bank; run `promptbank bank verify`.") from None
    if check and hashlib.sha256(data).hexdigest() != digest:
        raise DataError(f"The blob {path} is corrupted (its checksum does not match); run `promptbank bank verify`.")
    try:
        tensors = load(data)
    except SafetensorError:
        tensors = {}
    if "prompt" not in tensors or ("init" in tensors and tensors["init"].shape != tensors["prompt"].shape):
        raise DataError(f"The blob {path} is not a readable prompt tensor.")
    return tensors


def all_digests(root: Path) -> set[str]:
    return {p.name[:-len(SUFFIX)] for p in root.glob(f"??/*{SUFFIX}") if not p.name.startswith(TEMP_PREFIX)}


def temp_files(root: Path) -> list[Path]:
    return sorted(root.glob(f"??/{TEMP_PREFIX}*"))
