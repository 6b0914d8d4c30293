"""Training a projector, in the one training loop (tuning.loop): the projector is a prompt parameterisation,
`ProjectedPrompts`, whose prompts are its network applied to frozen source prompts.

Two objectives, both with AdamW on the projector's parameters alone, a constant learning rate, seeded and
deterministic:
- distance: from pairs (the source backbone's prompt, the target backbone's prompt) of the same tasks,
  minimise the per-token mean squared error between projection and target prompt, in target-scale units
  (the module's penalty; the job has no items);
- task: through the frozen target model, minimise the task loss of the projected source prompts on the
  tasks' training items, encoded for the target (each item reads its own task's projected prompt).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

import torch
from tqdm.auto import tqdm

from promptbank import scoring
from promptbank.backbones import Backbone
from promptbank.errors import BadArgumentError, DataError
from promptbank.projection.model import NONLINEARITIES, Projector, check_source_prompt, make_network, normalised_output, embedding_rms, identity
from promptbank.scoring.evaluate import length_batches
from promptbank.tuning.config import Schedule, TrainConfig
from promptbank.tuning.loop import Job, train_many
from promptbank.tuning.params import PromptParams
from promptbank.tuning.prompt import SoftPrompt


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

    def train_config(self) -> TrainConfig:
        """The loop's settings: every step's loss on the curve (no dev set: the last state is kept)."""
        return TrainConfig(steps=self.steps, batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
                           warmup=0.0, max_grad_norm=self.max_grad_norm, eval_every=1, patience=0, seed=self.seed,
                           eval_batch_size=self.eval_batch_size, schedule=Schedule.CONSTANT)


class ProjectedPrompts(PromptParams):
    """The projector as a parameterisation: row t is source prompt t projected into the target backbone. With
    `targets` (the target backbone's prompts of the same tasks), the penalty is the distance to them."""

    def __init__(self, projector: Projector, sources: torch.Tensor, targets: torch.Tensor | None = None) -> None:
        super().__init__()
        self.projector = projector
        self.network = projector.network
        self.register_buffer("sources", sources)
        self.register_buffer("targets", None if targets is None else targets / projector.target_scale)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return normalised_output(self.projector, self.sources[rows]) * self.projector.target_scale

    def penalty(self) -> torch.Tensor | None:
        if self.targets is None:
            return None
        return torch.nn.functional.mse_loss(normalised_output(self.projector, self.sources), self.targets)


def new_projector(source: Backbone, target: Backbone, config: ProjectorConfig = ProjectorConfig()) -> Projector:
    """An untrained projector from `source` to `target`, initialised from `config.seed`: where training starts."""
    network = make_network(source.hidden_size, target.hidden_size, config.hidden, config.nonlinearity, config.seed)
    return Projector(network, identity(source), identity(target), embedding_rms(source), embedding_rms(target),
                     config.nonlinearity, {"seed": config.seed})


def _stack(prompts: list[SoftPrompt], role: str) -> torch.Tensor:
    if len({p.length for p in prompts}) > 1:
        raise BadArgumentError(f"The {role} prompts have lengths {sorted({p.length for p in prompts})}; a "
                               "projector is trained on prompts of one length.")
    return torch.stack([p.tensor.float() for p in prompts])


def _train(target: Backbone, module: ProjectedPrompts, config: ProjectorConfig, items: list,
           rows: tuple[int, ...] | None, progress: bool) -> list[float]:
    """Train the projector in the loop; the loss of every step. With no dev set the loop keeps the last state,
    which the module already holds."""
    result = train_many(target, [Job(items, [], module, rows=rows)], config.train_config(), progress=progress,
                        desc="training projector")[0]
    return [point["train_loss"] for point in result.curve[1:]]


def _finish(projector: Projector, method: str, tasks: list[str], config: ProjectorConfig,
            metrics: dict[str, Any]) -> tuple[Projector, dict[str, Any]]:
    projector.network.cpu()
    projector.network.requires_grad_(False)
    settings = {k: v for k, v in asdict(config).items() if k not in ("hidden", "nonlinearity", "seed")}
    projector.info = {"method": method, "tasks": tasks, "seed": config.seed, "training": settings,
                      "metrics": metrics, "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    return projector, metrics


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
        check_source_prompt(projector, prompt)
    for prompt in targets:
        if (prompt.backbone, prompt.hidden_size, prompt.tokenizer_fingerprint) != (
                target.name, target.hidden_size, target.tokenizer_fingerprint):
            raise BadArgumentError(f"The target prompts must be of backbone {target.name!r}, not "
                                   f"{prompt.backbone!r}.")
    x, y = _stack(list(sources), "source"), _stack(list(targets), "target")
    if x.shape[1] != y.shape[1]:
        raise BadArgumentError(f"The source prompts have {x.shape[1]} tokens and the target prompts "
                               f"{y.shape[1]}; distance training pairs them token by token.")
    module = ProjectedPrompts(projector, x, y)
    with torch.no_grad():
        initial = module.penalty().item()
    curve = _train(target, module, config, [], None, progress)
    with torch.no_grad():
        final = module.penalty().item()
    return _finish(projector, "distance", list(pairs), config,
                   {"initial_distance": initial, "final_distance": final, "loss_curve": curve})


@torch.no_grad()
def _measure(target: Backbone, module: ProjectedPrompts, task_of: torch.Tensor, items: list, labels: torch.Tensor,
             measured: list[int], batch_size: int, progress: bool) -> tuple[float, float]:
    """Mean task loss and accuracy over the items at the indices `measured`, each under its task's projection."""
    total, correct = 0.0, 0
    batches = [[measured[i] for i in batch] for batch in length_batches([items[i] for i in measured], batch_size)]
    for batch in tqdm(batches, desc="measuring projector", unit="batch", disable=not progress):
        used, prompt_of = torch.unique(task_of[batch], return_inverse=True)
        scores = scoring.score(target, module(used.to(module.sources.device)), [items[i] for i in batch], prompt_of)
        total += torch.nn.functional.cross_entropy(scores, labels[batch]).item() * len(batch)
        correct += int((scores.argmax(-1) == labels[batch]).sum())
    return total / len(measured), correct / len(measured)


def train_by_task(source: Backbone, target: Backbone, tasks: Mapping[str, tuple[SoftPrompt, list]],
                  config: ProjectorConfig = ProjectorConfig(), progress: bool = True
                  ) -> tuple[Projector, dict[str, Any]]:
    """A projector trained so that each task's projected source prompt solves that task on the frozen target.

    `tasks` maps a task name to (its prompt on `source`, its training items from `scoring.encode(target, ...)`);
    the source prompts share one length. The items of all tasks are pooled and batched as prompt tuning
    batches them (`tuning.loop.epoch_batches`, from the seed); each item is scored under its own task's
    projected prompt and the loss is the cross-entropy over its candidates. Only the projector's parameters get
    gradients. Returns the projector and its metrics: loss and accuracy before and after training over the first
    config.measure_size training items of each task, and the loss of every step.
    """
    if not tasks:
        raise BadArgumentError("Task training needs at least one task with a source prompt and training items.")
    projector = new_projector(source, target, config)
    for name, (prompt, items) in tasks.items():
        check_source_prompt(projector, prompt)
        if not items:
            raise DataError(f"Task {name!r} has no training items for the projector.")
    device = target.device
    module = ProjectedPrompts(projector, _stack([prompt for prompt, _ in tasks.values()], "source")).to(device)
    items = [item for _, task_items in tasks.values() for item in task_items]
    rows = tuple(t for t, (_, task_items) in enumerate(tasks.values()) for _ in task_items)
    task_of, labels = torch.tensor(rows), scoring.labels_of(items, device)
    measured, offset = [], 0  # the first measure_size items of each task
    for _, task_items in tasks.values():
        measured += range(offset, offset + min(len(task_items), config.measure_size))
        offset += len(task_items)

    def measure() -> tuple[float, float]:
        return _measure(target, module, task_of, items, labels, measured, config.eval_batch_size, progress)

    initial_loss, initial_accuracy = measure()
    curve = _train(target, module, config, items, rows, progress)
    final_loss, final_accuracy = measure()
    return _finish(projector, "task", list(tasks), config,
                   {"initial_loss": initial_loss, "final_loss": final_loss, "initial_accuracy": initial_accuracy,
                    "final_accuracy": final_accuracy, "loss_curve": curve})
