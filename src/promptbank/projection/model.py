"""Cross-model projectors (Su et al. 2022, arXiv 2111.06719): a small network that maps a prompt trained on one
backbone into another backbone's embedding space, token by token.

The network is Linear(d_src → hidden) → nonlinearity (tanh, as in the paper) → Linear(hidden → d_tgt), applied
to each prompt token independently, so prompts of any length project. It works in units of each backbone's
embedding scale: a source token is divided by the source's embedding RMS before the network, and the network's
output is multiplied by the target's. Backbones differ widely in scale (Gemma multiplies its embeddings by
sqrt(d) inside the embedding module, so its prompts are ~8× larger than SmolLM2's: RMS 1.03 vs 0.12), and
without this a tanh fed Gemma prompts saturates, while an untrained projector's output would sit at the wrong
scale for the target; with it the output starts at the target's scale and one learning rate suits every pair.

Two ways to train it, both with AdamW on the projector's parameters alone, seeded and deterministic:
- distance: from pairs (the source backbone's prompt, the target backbone's prompt) of the same tasks,
  minimise the per-token mean squared error between projection and target prompt, in target-scale units;
- task: through the frozen target model, minimise the task loss of the projected source prompts on the
  tasks' training items, encoded for the target.
A projector is saved as projector.safetensors + projector.json (atomically); it is only applied to prompts of
its source backbone and onto its target backbone (same name, width, tokenizer, and for the target the same
embedding weights).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from tqdm.auto import tqdm

from promptbank import scoring
from promptbank.atomic import atomic_dir
from promptbank.backbones import Backbone
from promptbank.errors import BadArgumentError, DataError
from promptbank.scoring.evaluate import length_batches
from promptbank.tuning.init import ordinary_tokens
from promptbank.tuning.loop import epoch_batches
from promptbank.tuning.prompt import SoftPrompt

TENSOR_FILE, META_FILE = "projector.safetensors", "projector.json"
METHODS = ("distance", "task")
NONLINEARITIES = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "gelu": torch.nn.GELU}
FINGERPRINT_ROWS = 256  # embedding rows hashed into a weights fingerprint, evenly spaced over the vocabulary
# what a projected prompt keeps of its source's metadata: facts about the task, not about the source's training
KEPT = ("task", "task_format", "task_category", "task_kind", "labels", "shots", "data_fingerprint")


@dataclass(frozen=True)
class ProjectorConfig:
    hidden: int = 768
    nonlinearity: str = "tanh"
    steps: int = 500
    lr: float = 1e-3
    weight_decay: float = 0.01  # AdamW's usual default for a small network
    batch_size: int = 8  # training items per step (task method; the distance method uses all pairs every step)
    max_grad_norm: float = 1.0
    seed: int = 0
    eval_batch_size: int = 32
    # training items per task whose loss and accuracy are measured before and after training (task method): the
    # whole pool would cost more forward passes than the training itself
    measure_size: int = 250

    def __post_init__(self) -> None:
        for name in ("hidden", "steps", "batch_size", "eval_batch_size", "measure_size"):
            if getattr(self, name) <= 0:
                raise BadArgumentError(f"The projector's {name.replace('_', ' ')} must be positive, not "
                                       f"{getattr(self, name)}.")
        if not self.lr > 0 or self.weight_decay < 0 or not self.max_grad_norm > 0:
            raise BadArgumentError("The projector's learning rate and gradient clip must be positive and its "
                                   "weight decay ≥ 0.")
        if self.nonlinearity not in NONLINEARITIES:
            raise BadArgumentError(f"Unknown nonlinearity {self.nonlinearity!r}; use one of "
                                   f"{', '.join(NONLINEARITIES)}.")


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

    @property
    def hidden(self) -> int:
        return self.network[0].out_features

    @property
    def digest(self) -> str:
        """A short hash of the weights: the projector's id in a projected prompt's lineage."""
        return hashlib.sha256(save_tensors(_tensors(self.network))).hexdigest()[:16]

    def metadata(self) -> dict[str, Any]:
        return {"source": asdict(self.source), "target": asdict(self.target), "source_scale": self.source_scale,
                "target_scale": self.target_scale, "hidden": self.hidden, "nonlinearity": self.nonlinearity,
                "digest": self.digest, **self.info}


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


def embedding_rms(backbone: Backbone) -> float:
    """Root mean square of the ordinary tokens' embeddings as the model reads them (Gemma's sqrt(d) included)."""
    with torch.no_grad():
        rows = backbone.embed(ordinary_tokens(backbone).to(backbone.device)).float()
    return rows.pow(2).mean().sqrt().item()


def _network(d_in: int, d_out: int, hidden: int, nonlinearity: str, seed: int | None = None) -> torch.nn.Sequential:
    """The two-layer network; with a seed, every weight and bias uniform in ±1/sqrt(fan_in) (PyTorch's
    default Linear init) from a generator of its own, so the global random state neither matters nor moves."""
    network = torch.nn.Sequential(torch.nn.Linear(d_in, hidden), NONLINEARITIES[nonlinearity](),
                                  torch.nn.Linear(hidden, d_out))
    if seed is not None:
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for layer in (network[0], network[2]):
                bound = 1 / math.sqrt(layer.in_features)
                for parameter in (layer.weight, layer.bias):
                    parameter.copy_((torch.rand(parameter.shape, generator=generator) * 2 - 1) * bound)
    return network


def new_projector(source: Backbone, target: Backbone, config: ProjectorConfig = ProjectorConfig()) -> Projector:
    """An untrained projector from `source` to `target`, initialised from `config.seed`: where training starts."""
    network = _network(source.hidden_size, target.hidden_size, config.hidden, config.nonlinearity, config.seed)
    return Projector(network, identity(source), identity(target), embedding_rms(source), embedding_rms(target),
                     config.nonlinearity, {"seed": config.seed})


def _normalised(projector: Projector, prompts: torch.Tensor) -> torch.Tensor:
    """The network's output for source prompts (..., L, d_src), in units of the target's embedding scale."""
    return projector.network(prompts / projector.source_scale)


def _check_prompt(projector: Projector, prompt: SoftPrompt) -> None:
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
    _check_prompt(projector, prompt)
    _check_target(projector, target_backbone)
    network = projector.network
    with torch.no_grad():
        source = prompt.tensor.float().to(next(network.parameters()).device)
        tensor = (_normalised(projector, source) * projector.target_scale).cpu()
    info = {k: prompt.info[k] for k in KEPT if k in prompt.info}
    info["projection"] = {"projector": projector.digest, "method": projector.info.get("method"),
                          "source_backbone": prompt.backbone, "source_prompt": prompt.info.get("bank_id")}
    return SoftPrompt(tensor, target_backbone.name, target_backbone.tokenizer_fingerprint, "projected",
                      source=prompt.info.get("bank_id") or f"a prompt of {prompt.backbone}", info=info)


def _stack(prompts: list[SoftPrompt], role: str) -> torch.Tensor:
    if len({p.length for p in prompts}) > 1:
        raise BadArgumentError(f"The {role} prompts have lengths {sorted({p.length for p in prompts})}; a "
                               "projector is trained on prompts of one length.")
    return torch.stack([p.tensor.float() for p in prompts])


def _finish(projector: Projector, method: str, tasks: list[str], config: ProjectorConfig,
            metrics: dict[str, Any]) -> tuple[Projector, dict[str, Any]]:
    projector.network.cpu()
    projector.network.requires_grad_(False)
    settings = {k: v for k, v in asdict(config).items() if k not in ("hidden", "nonlinearity", "seed")}
    projector.info = {"method": method, "tasks": tasks, "seed": config.seed, "training": settings,
                      "metrics": metrics, "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    return projector, metrics


def _optimise(projector: Projector, config: ProjectorConfig, loss_at_step, progress: bool) -> list[float]:
    """AdamW with clipping on the projector's parameters for config.steps steps; the loss of every step."""
    parameters = list(projector.network.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
    curve = []
    with tqdm(total=config.steps, desc="training projector", unit="step", disable=not progress) as bar:
        for step in range(config.steps):
            loss = loss_at_step(step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, config.max_grad_norm)
            optimizer.step()
            curve.append(loss.item())
            bar.set_postfix(loss=f"{curve[-1]:.4f}", refresh=False)
            bar.update()
    return curve


def train_by_distance(source: Backbone, target: Backbone, pairs: Mapping[str, tuple[SoftPrompt, SoftPrompt]],
                      config: ProjectorConfig = ProjectorConfig(), progress: bool = True
                      ) -> tuple[Projector, dict[str, Any]]:
    """A projector fitted to map each task's source prompt onto the same task's target prompt.

    `pairs` maps a task name to (its prompt on `source`, its prompt on `target`), all of one length. The
    distance is the mean over tokens and dimensions of the squared error in units of the target's embedding
    RMS (so 1.0 is a token's typical squared size): MSE, as a regression onto the target prompt, scale-free
    across targets. Every step uses every pair (a few hundred token vectors at most). Returns the projector
    and its metrics: the distance before and after training and the loss of every step.
    """
    if not pairs:
        raise BadArgumentError("Distance training needs at least one pair of source and target prompts.")
    projector = new_projector(source, target, config)
    sources, targets = zip(*pairs.values())
    for prompt in sources:
        _check_prompt(projector, prompt)
    for prompt in targets:
        if (prompt.backbone, prompt.hidden_size, prompt.tokenizer_fingerprint) != (
                target.name, target.hidden_size, target.tokenizer_fingerprint):
            raise BadArgumentError(f"The target prompts must be of backbone {target.name!r}, not "
                                   f"{prompt.backbone!r}.")
    x, y = _stack(list(sources), "source"), _stack(list(targets), "target") / projector.target_scale
    if x.shape[1] != y.shape[1]:
        raise BadArgumentError(f"The source prompts have {x.shape[1]} tokens and the target prompts "
                               f"{y.shape[1]}; distance training pairs them token by token.")

    def distance() -> torch.Tensor:
        return torch.nn.functional.mse_loss(_normalised(projector, x), y)

    with torch.no_grad():
        initial = distance().item()
    curve = _optimise(projector, config, lambda step: distance(), progress)
    with torch.no_grad():
        final = distance().item()
    return _finish(projector, "distance", list(pairs), config,
                   {"initial_distance": initial, "final_distance": final, "loss_curve": curve})


def _task_loss(projector: Projector, target: Backbone, prompts: torch.Tensor, task_of: torch.Tensor, items: list,
               labels: torch.Tensor, batch: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy of the items in `batch` under their tasks' projected prompts, and their predictions.
    Only the tasks present are projected, so a causal target reads each of those prompts once."""
    used, prompt_of = torch.unique(task_of[batch], return_inverse=True)
    projected = _normalised(projector, prompts[used.to(prompts.device)]) * projector.target_scale
    scores = scoring.score(target, projected, [items[i] for i in batch], prompt_of)
    return torch.nn.functional.cross_entropy(scores, labels[batch]), scores.argmax(-1)


def _measure(projector: Projector, target: Backbone, prompts: torch.Tensor, task_of: torch.Tensor, items: list,
             labels: torch.Tensor, measured: list[int], batch_size: int, progress: bool) -> tuple[float, float]:
    """Mean task loss and accuracy over the items at the indices `measured`."""
    total, correct = 0.0, 0
    batches = [[measured[i] for i in batch] for batch in length_batches([items[i] for i in measured], batch_size)]
    with torch.no_grad():
        for batch in tqdm(batches, desc="measuring projector", unit="batch", disable=not progress):
            loss, predicted = _task_loss(projector, target, prompts, task_of, items, labels, batch)
            total += loss.item() * len(batch)
            correct += int((predicted == labels[batch]).sum())
    return total / len(measured), correct / len(measured)


def train_by_task(source: Backbone, target: Backbone, tasks: Mapping[str, tuple[SoftPrompt, list]],
                  config: ProjectorConfig = ProjectorConfig(), progress: bool = True
                  ) -> tuple[Projector, dict[str, Any]]:
    """A projector trained so that each task's projected source prompt solves that task on the frozen target.

    `tasks` maps a task name to (its prompt on `source`, its training items from `scoring.encode(target, ...)`);
    the source prompts share one length. The items of all tasks are pooled and batched as prompt tuning
    batches them (`train.epoch_batches`, from the seed); each item is scored under its own task's projected
    prompt and the loss is the cross-entropy over its candidates. Only the projector's parameters get
    gradients. Returns the projector and its metrics: loss and accuracy before and after training over the first
    config.measure_size training items of each task, and the loss of every step.
    """
    if not tasks:
        raise BadArgumentError("Task training needs at least one task with a source prompt and training items.")
    projector = new_projector(source, target, config)
    for name, (prompt, items) in tasks.items():
        _check_prompt(projector, prompt)
        if not items:
            raise DataError(f"Task {name!r} has no training items for the projector.")
    device = target.device
    projector.network.to(device)
    prompts = _stack([prompt for prompt, _ in tasks.values()], "source").to(device)
    items = [item for _, task_items in tasks.values() for item in task_items]
    task_of = torch.tensor([t for t, (_, task_items) in enumerate(tasks.values()) for _ in task_items])
    labels = scoring.labels_of(items, device)
    measured, offset = [], 0  # the first measure_size items of each task
    for _, task_items in tasks.values():
        measured += range(offset, offset + min(len(task_items), config.measure_size))
        offset += len(task_items)
    batches_per_epoch = math.ceil(len(items) / config.batch_size)
    epochs: dict[int, list[list[int]]] = {}

    def loss_at(step: int) -> torch.Tensor:
        epoch, offset = divmod(step, batches_per_epoch)
        if epoch not in epochs:
            epochs.clear()
            epochs[epoch] = epoch_batches(items, config.batch_size, config.seed, epoch)
        return _task_loss(projector, target, prompts, task_of, items, labels, epochs[epoch][offset])[0]

    initial_loss, initial_accuracy = _measure(projector, target, prompts, task_of, items, labels, measured,
                                              config.eval_batch_size, progress)
    curve = _optimise(projector, config, loss_at, progress)
    final_loss, final_accuracy = _measure(projector, target, prompts, task_of, items, labels, measured,
                                          config.eval_batch_size, progress)
    return _finish(projector, "task", list(tasks), config,
                   {"initial_loss": initial_loss, "final_loss": final_loss, "initial_accuracy": initial_accuracy,
                    "final_accuracy": final_accuracy, "loss_curve": curve})


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
    if not isinstance(meta, dict):
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
        network = _network(source.hidden_size, target.hidden_size, meta["hidden"], meta["nonlinearity"])
        network.load_state_dict(tensors)
        projector = Projector(network.requires_grad_(False), source, target, float(meta["source_scale"]),
                              float(meta["target_scale"]), meta["nonlinearity"],
                              {k: v for k, v in meta.items() if k not in (
                                  "source", "target", "source_scale", "target_scale", "hidden", "nonlinearity",
                                  "digest")})
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
