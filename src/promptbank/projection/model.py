"""Cross-model projectors (Su et al. 2022, arXiv 2111.06719): a small network that maps a prompt trained on one
backbone into another backbone's embedding space.

Three architectures (`ARCHITECTURES`):
- per-token: Linear(d_src → hidden) → nonlinearity (tanh, as in the paper) → Linear(hidden → d_tgt), applied to
  each prompt token independently, so prompts of any length project;
- whole: Su et al.'s own, the flattened prompt L·d_src → hidden → tanh → L·d_tgt, then a LayerNorm per token
  (prompts of one length only);
- linear: one Linear(d_src → d_tgt) per token, fitted in closed form by ridge regression (the simplest baseline).

Two kinds of input (`INPUTS`): the prompt itself, or its task vector Δ = P − P_init (what training added to its
init, where the task lives when every source starts from one shared init); a projected task vector is added to the
target backbone's own random init (seed `target_init_seed`), which the projected prompt records as its init.

It works in units of each backbone's
embedding scale: a source token is divided by the source's embedding RMS before the network, and the network's
output is multiplied by the target's. Backbones differ widely in scale (Gemma multiplies its embeddings by
sqrt(d) inside the embedding module, so its prompts are ~8× larger than SmolLM2's: RMS 1.03 vs 0.12), and
without this a tanh fed Gemma prompts saturates, while an untrained projector's output would sit at the wrong
scale for the target; with it the output starts at the target's scale and one learning rate suits every pair.

Training it (two objectives, in the one training loop) is projection.train.
A projector is saved as projector.safetensors + projector.json (atomically); it is only applied to prompts of
its source backbone and onto its target backbone (same name, width, tokenizer, and for the target the same
embedding weights).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from promptbank.atomic import atomic_dir
from promptbank.backbones import Backbone
from promptbank.errors import BadArgumentError, DataError
from promptbank.tuning.init import init_prompt
from promptbank.tuning.prompt import SoftPrompt

TENSOR_FILE, META_FILE = "projector.safetensors", "projector.json"
METHODS = ("distance", "task", "ridge")
ARCHITECTURES = ("per-token", "whole", "linear")
INPUTS = ("prompt", "delta")
NONLINEARITIES = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "gelu": torch.nn.GELU}
FINGERPRINT_ROWS = 256  # embedding rows hashed into a weights fingerprint, evenly spaced over the vocabulary
# what a projected prompt keeps of its source's metadata: facts about the task, not about the source's training
KEPT = ("task", "task_format", "task_category", "task_kind", "labels", "shots", "data_fingerprint")


@dataclass(frozen=True)
class BackboneId:
    """What a projector needs to recognise a backbone again: its name, width, tokenizer and embedding weights."""

    name: str
    hidden_size: int
    tokenizer_fingerprint: str
    weights_fingerprint: str


@dataclass
class Projector:
    """The network and the two backbones it connects; `info` holds method, tasks, seed, training settings,
    metrics and the creation time, as plain data."""

    network: torch.nn.Sequential
    source: BackboneId
    target: BackboneId
    source_scale: float  # the backbones' embedding RMS: the network works in units of these
    target_scale: float
    nonlinearity: str
    info: dict[str, Any] = field(default_factory=dict)
    hidden: int = 768
    architecture: str = "per-token"
    inputs: str = "prompt"
    length: int | None = None  # the prompt length a whole-prompt network reads (None: any)
    target_init_seed: int = 0  # with task-vector inputs: the seed of the target init a projection is added to

    @property
    def digest(self) -> str:
        """A short hash of the weights: the projector's id in a projected prompt's lineage."""
        return hashlib.sha256(save_tensors(_tensors(self.network))).hexdigest()[:16]

    def metadata(self) -> dict[str, Any]:
        return {"source": asdict(self.source), "target": asdict(self.target), "source_scale": self.source_scale,
                "target_scale": self.target_scale, "hidden": self.hidden, "nonlinearity": self.nonlinearity,
                "architecture": self.architecture, "inputs": self.inputs, "length": self.length,
                "target_init_seed": self.target_init_seed, "digest": self.digest, **self.info}


def weights_fingerprint(backbone: Backbone) -> str:
    """A short hash of evenly spaced rows of the embedding table, rounded to bfloat16 so that the same
    weights loaded in float32 or bfloat16 give the same fingerprint. It tells apart checkpoints that share a
    name and a tokenizer (a local directory re-saved with other weights); it does not see a change confined
    to the layers above the embeddings."""
    table = backbone.model.get_input_embeddings().weight
    ids = torch.linspace(0, table.shape[0] - 1, min(FINGERPRINT_ROWS, table.shape[0])).long()
    with torch.no_grad():
        rows = table[ids.to(table.device)].to(torch.bfloat16).cpu().contiguous()
    digest = hashlib.sha256(json.dumps(list(table.shape)).encode())
    digest.update(rows.view(torch.int16).numpy().tobytes())
    return digest.hexdigest()[:16]


def identity(backbone: Backbone) -> BackboneId:
    return BackboneId(backbone.name, backbone.hidden_size, backbone.tokenizer_fingerprint,
                      weights_fingerprint(backbone))


def make_network(d_in: int, d_out: int, hidden: int, nonlinearity: str, seed: int | None = None,
                 architecture: str = "per-token", length: int | None = None) -> torch.nn.Sequential:
    """The network of an architecture (see the module's docstring); with a seed, every Linear weight and bias uniform
    in ±1/sqrt(fan_in) (PyTorch's default Linear init) from a generator of its own, so the global random state
    neither matters nor moves."""
    if architecture not in ARCHITECTURES:
        raise BadArgumentError(f"Unknown projector architecture {architecture!r}; use one of "
                               f"{', '.join(ARCHITECTURES)}.")
    if architecture == "linear":
        network = torch.nn.Sequential(torch.nn.Linear(d_in, d_out))
    elif architecture == "per-token":
        network = torch.nn.Sequential(torch.nn.Linear(d_in, hidden), NONLINEARITIES[nonlinearity](),
                                      torch.nn.Linear(hidden, d_out))
    else:
        if not length:
            raise BadArgumentError("A whole-prompt projector needs the prompt length it reads.")
        network = torch.nn.Sequential(torch.nn.Flatten(-2), torch.nn.Linear(length * d_in, hidden),
                                      NONLINEARITIES[nonlinearity](), torch.nn.Linear(hidden, length * d_out),
                                      torch.nn.Unflatten(-1, (length, d_out)), torch.nn.LayerNorm(d_out))
    if seed is not None:
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for layer in network:
                if isinstance(layer, torch.nn.Linear):
                    bound = 1 / math.sqrt(layer.in_features)
                    for parameter in (layer.weight, layer.bias):
                        parameter.copy_((torch.rand(parameter.shape, generator=generator) * 2 - 1) * bound)
    return network


def target_init(projector: Projector, backbone: Backbone, length: int) -> torch.Tensor:
    """The target init a task-vector projection is added to (zeros for a projector of prompts)."""
    if projector.inputs != "delta":
        return torch.zeros(length, backbone.hidden_size)
    return init_prompt(backbone, length, "random", seed=projector.target_init_seed).tensor


def projector_input(projector: Projector, prompt: SoftPrompt) -> torch.Tensor:
    """What the projector reads of a prompt: the prompt, or its task vector (which needs its exact init)."""
    if projector.inputs != "delta":
        return prompt.tensor.float()
    if prompt.init_tensor is None:
        raise DataError(f"This projector reads task vectors, and the init of this {prompt.backbone} prompt is not "
                        "known; project a prompt whose init is stored (or rebuilt by the bank).")
    return prompt.delta.float()


def normalised_output(projector: Projector, prompts: torch.Tensor) -> torch.Tensor:
    """The network's output for source prompts (..., L, d_src), in units of the target's embedding scale."""
    return projector.network(prompts / projector.source_scale)


def check_source_prompt(projector: Projector, prompt: SoftPrompt) -> None:
    source, target = projector.source, projector.target
    maps = f"This projector maps prompts of backbone {source.name!r} to {target.name!r}"
    if prompt.backbone != source.name or prompt.hidden_size != source.hidden_size:
        raise BadArgumentError(f"{maps}, but this prompt is of {prompt.backbone!r} (hidden size "
                               f"{prompt.hidden_size}).")
    if prompt.tokenizer_fingerprint != source.tokenizer_fingerprint:
        raise BadArgumentError(f"{maps}, but this prompt of {prompt.backbone!r} was trained with another tokenizer.")


def _check_target(projector: Projector, backbone: Backbone) -> None:
    source, target = projector.source, projector.target
    maps = f"This projector maps prompts of backbone {source.name!r} to {target.name!r}"
    if backbone.name != target.name or backbone.hidden_size != target.hidden_size:
        raise BadArgumentError(f"{maps}, not to {backbone.name!r} (hidden size {backbone.hidden_size}).")
    if backbone.tokenizer_fingerprint != target.tokenizer_fingerprint:
        raise BadArgumentError(f"{maps}, and the {backbone.name!r} loaded here has another tokenizer.")
    if weights_fingerprint(backbone) != target.weights_fingerprint:
        raise BadArgumentError(f"{maps}, and the {backbone.name!r} loaded here has other embedding weights.")


def project(projector: Projector, prompt: SoftPrompt, target_backbone: Backbone) -> SoftPrompt:
    """`prompt` (of the projector's source backbone) mapped into `target_backbone`'s embedding space.

    The result belongs to the target (its name and tokenizer fingerprint), has init "projected", keeps the
    source's task facts (KEPT) but not its metrics or curve, which were measured on the source, and records in
    info["projection"] what a caller needs for the bank record's lineage: the projector's digest and method,
    the source backbone, and the source prompt's bank id where it came from a bank.
    """
    check_source_prompt(projector, prompt)
    _check_target(projector, target_backbone)
    if projector.length is not None and prompt.length != projector.length:
        raise BadArgumentError(f"This projector reads {projector.length}-token prompts, not {prompt.length}.")
    network = projector.network
    base = target_init(projector, target_backbone, prompt.length)
    with torch.no_grad():
        source = projector_input(projector, prompt).to(next(network.parameters()).device)
        tensor = base + (normalised_output(projector, source) * projector.target_scale).cpu()
    info = {k: prompt.info[k] for k in KEPT if k in prompt.info}
    info["projection"] = {"projector": projector.digest, "method": projector.info.get("method"),
                          "source_backbone": prompt.backbone, "source_prompt": prompt.info.get("bank_id")}
    return SoftPrompt(tensor, target_backbone.name, target_backbone.tokenizer_fingerprint, "projected",
                      source=prompt.info.get("bank_id") or f"a prompt of {prompt.backbone}", info=info,
                      init_tensor=base if projector.inputs == "delta" else None)


def _tensors(network: torch.nn.Sequential) -> dict[str, torch.Tensor]:
    return {k: v.detach().float().contiguous().cpu() for k, v in network.state_dict().items()}


def save_projector(projector: Projector, directory: Path) -> None:
    """Write projector.safetensors + projector.json into `directory`, atomically: whole or not at all."""
    with atomic_dir(Path(directory)) as partial:
        (partial / TENSOR_FILE).write_bytes(save_tensors(_tensors(projector.network)))
        (partial / META_FILE).write_text(json.dumps(projector.metadata(), indent=1))


def _read_metadata(directory: Path) -> dict[str, Any]:
    try:
        meta = json.loads((directory / META_FILE).read_text())
    except FileNotFoundError:
        raise DataError(f"{directory} is not a saved projector (it needs {TENSOR_FILE} and {META_FILE}).") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DataError(f"The projector in {directory} is damaged and cannot be read.") from None
    if not isinstance(meta, dict) or not all(isinstance(meta.get(k), dict) and "name" in meta[k]
                                             for k in ("source", "target")):
        raise DataError(f"The projector in {directory} is damaged and cannot be read.")
    return meta


def load_projector(directory: Path) -> Projector:
    """Read a projector saved by `save_projector` (safetensors + JSON only; nothing is unpickled), checking
    its weights against the digest recorded beside them."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory} is not a saved projector directory (one holding {TENSOR_FILE} and "
                        f"{META_FILE}).")
    meta = _read_metadata(directory)
    try:
        tensors = load_tensors((directory / TENSOR_FILE).read_bytes())
        source, target = BackboneId(**meta["source"]), BackboneId(**meta["target"])
        shape = {k: meta.get(k, default) for k, default in (("architecture", "per-token"), ("inputs", "prompt"),
                                                               ("length", None), ("target_init_seed", 0))}
        network = make_network(source.hidden_size, target.hidden_size, meta["hidden"], meta["nonlinearity"],
                               architecture=shape["architecture"], length=shape["length"])
        network.load_state_dict(tensors)
        projector = Projector(network.requires_grad_(False), source, target, float(meta["source_scale"]),
                              float(meta["target_scale"]), meta["nonlinearity"],
                              {k: v for k, v in meta.items() if k not in (
                                  "source", "target", "source_scale", "target_scale", "hidden", "nonlinearity",
                                  "digest", *shape)}, meta["hidden"], **shape)
    except FileNotFoundError:
        raise DataError(f"{directory} is not a saved projector (it needs {TENSOR_FILE} and {META_FILE}).") from None
    except (SafetensorError, KeyError, TypeError, ValueError, RuntimeError):
        raise DataError(f"The projector in {directory} is damaged and cannot be read.") from None
    if projector.digest != meta.get("digest"):
        raise DataError(f"The projector in {directory} is damaged: its weights do not match their recorded digest.")
    return projector


def list_projectors(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The projectors saved directly under `folder` with their metadata (read from JSON alone), by name;
    leftovers of interrupted saves (hidden directories) are skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"There is no folder {folder} to list projectors from.")
    return [(path, _read_metadata(path)) for path in sorted(folder.iterdir())
            if path.is_dir() and not path.name.startswith(".") and (path / META_FILE).exists()]
