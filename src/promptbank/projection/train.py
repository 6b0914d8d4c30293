"""Training a projector, in the one training loop (tuning.loop): the projector is a prompt parameterisation,
`ProjectedPrompts`, whose prompts are its network applied to frozen source prompts.

Three methods. Two train with AdamW on the projector's parameters alone, a constant learning rate, seeded and
deterministic; the third is a closed-form fit:
- distance: from pairs (the source backbone's prompt, the target backbone's prompt) of the same tasks,
  minimise the per-token mean squared error between projection and target prompt, in target-scale units
  (the module's penalty; the job has no items);
- task: through the frozen target model, minimise the task loss of the projected source prompts on the
  tasks' training items, encoded for the target (each item reads its own task's projected prompt); optionally
  plus `distance_weight` times the distance to the target's native prompts, and `contrast_weight` times a
  contrastive term: on a few items of each task, the task's own projection must have a lower loss than every
  other task's (softplus of the difference). A task loss alone is as low for one prompt that serves every task as
  for prompts that carry each task, and near-identical inputs make the first the easy optimum; the contrastive term
  rewards only the second;
- ridge: a per-token linear map, the least-squares fit of the pairs with an L2 penalty `ridge`.
With task-vector inputs (`inputs="delta"`) every method reads the sources' task vectors and produces the target's
(the pairs' targets are the native prompts' task vectors), added to the target's own init.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

import torch
from tqdm.auto import tqdm

from promptbank import scoring
from promptbank.backbones import Backbone
from promptbank.errors import BadArgumentError, DataError
from promptbank.projection.model import (
    ARCHITECTURES,
    INPUTS,
    NONLINEARITIES,
    Projector,
    check_source_prompt,
    identity,
    make_network,
    normalised_output,
    projector_input,
    target_init,
)
from promptbank.scoring.evaluate import length_batches
from promptbank.tuning.config import Schedule, TrainConfig
from promptbank.tuning.init import embedding_rms
from promptbank.tuning.loop import Job, train_many
from promptbank.tuning.params import PromptParams
from promptbank.tuning.prompt import SoftPrompt


@dataclass(frozen=True)
class ProjectorConfig:
    hidden: int = 768
    nonlinearity: str = "tanh"
    architecture: str = "per-token"
    inputs: str = "prompt"  # or delta: the sources' task vectors, projected onto the target's init
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
    distance_weight: float = 0.0  # task method: weight of the distance to the target's native prompts
    contrast_weight: float = 0.0  # task method: weight of the contrastive term
    contrast_items: int = 2  # items per task the contrastive term scores under every task's projection, each step
    ridge: float = 1.0  # ridge method: the L2 penalty, in units of the source embeddings' squared RMS per element

    def __post_init__(self) -> None:
        for name in ("hidden", "steps", "batch_size", "eval_batch_size", "measure_size", "contrast_items"):
            if getattr(self, name) <= 0:
                raise BadArgumentError(f"The projector's {name.replace('_', ' ')} must be positive, not "
                                       f"{getattr(self, name)}.")
        if not self.lr > 0 or self.weight_decay < 0 or not self.max_grad_norm > 0:
            raise BadArgumentError("The projector's learning rate and gradient clip must be positive and its "
                                   "weight decay ≥ 0.")
        if self.distance_weight < 0 or self.contrast_weight < 0 or self.ridge < 0:
            raise BadArgumentError("The distance and contrast weights and the ridge penalty must be ≥ 0.")
        if self.nonlinearity not in NONLINEARITIES:
            raise BadArgumentError(f"Unknown nonlinearity {self.nonlinearity!r}; use one of "
                                   f"{', '.join(NONLINEARITIES)}.")
        if self.architecture not in ARCHITECTURES:
            raise BadArgumentError(f"Unknown projector architecture {self.architecture!r}; use one of "
                                   f"{', '.join(ARCHITECTURES)}.")
        if self.inputs not in INPUTS:
            raise BadArgumentError(f"Unknown projector inputs {self.inputs!r}; use one of {', '.join(INPUTS)}.")

    def train_config(self) -> TrainConfig:
        """The loop's settings: every step's loss on the curve (no dev set: the last state is kept)."""
        return TrainConfig(steps=self.steps, batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
                           warmup=0.0, max_grad_norm=self.max_grad_norm, eval_every=1, patience=0, seed=self.seed,
                           eval_batch_size=self.eval_batch_size, schedule=Schedule.CONSTANT)


@dataclass
class Contrast:
    """The contrastive term's items: a few training items of each task, scored under every task's projection."""

    target: Backbone
    items: list  # each task's items in turn
    task_of: torch.Tensor  # each item's task (row)
    labels: torch.Tensor

    def loss(self, prompts: torch.Tensor) -> torch.Tensor:
        """Mean softplus(own loss − other's loss) over the items and the other tasks' projections `prompts`."""
        tasks = len(prompts)
        repeated = [item for item in self.items for _ in range(tasks)]
        prompt_of = torch.arange(tasks).repeat(len(self.items))
        scores = scoring.score(self.target, prompts, repeated, prompt_of)
        losses = torch.nn.functional.cross_entropy(scores, self.labels.repeat_interleave(tasks),
                                                   reduction="none").view(len(self.items), tasks)
        own = losses.gather(1, self.task_of[:, None])
        others = torch.arange(tasks)[None, :] != self.task_of[:, None]
        return torch.nn.functional.softplus(own - losses)[others.to(losses.device)].mean()


class ProjectedPrompts(PromptParams):
    """The projector as a parameterisation: row t is source input t (a prompt, or a task vector) projected into the
    target backbone and added to `base` (the target's init for task vectors, else zero). With `targets` (the target
    backbone's prompts, or task vectors, of the same tasks), the penalty includes `distance_weight` times the
    distance to them; with `contrast`, `contrast_weight` times the contrastive term."""

    def __init__(self, projector: Projector, sources: torch.Tensor, targets: torch.Tensor | None = None,
                 base: torch.Tensor | None = None, distance_weight: float = 1.0, contrast: Contrast | None = None,
                 contrast_weight: float = 0.0) -> None:
        super().__init__()
        self.projector = projector
        self.network = projector.network
        self.distance_weight, self.contrast, self.contrast_weight = distance_weight, contrast, contrast_weight
        self.register_buffer("sources", sources)
        self.register_buffer("targets", None if targets is None else targets / projector.target_scale)
        self.register_buffer("base", torch.zeros(sources.shape[1:-1] + (projector.target.hidden_size,))
                             if base is None else base.float())

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.base + normalised_output(self.projector, self.sources[rows]) * self.projector.target_scale

    def distance(self) -> torch.Tensor:
        return torch.nn.functional.mse_loss(normalised_output(self.projector, self.sources), self.targets)

    def penalty(self) -> torch.Tensor | None:
        terms = []
        if self.targets is not None and self.distance_weight > 0:
            terms.append(self.distance_weight * self.distance())
        if self.contrast is not None and self.contrast_weight > 0:
            terms.append(self.contrast_weight * self.contrast.loss(self(torch.arange(len(self.sources)))))
        return sum(terms) if terms else None


def new_projector(source: Backbone, target: Backbone, config: ProjectorConfig = ProjectorConfig(),
                  length: int | None = None) -> Projector:
    """An untrained projector from `source` to `target`, initialised from `config.seed`: where training starts.
    `length`: the prompt length, which a whole-prompt network is built for."""
    length = length if config.architecture == "whole" else None
    network = make_network(source.hidden_size, target.hidden_size, config.hidden, config.nonlinearity, config.seed,
                           config.architecture, length)
    return Projector(network, identity(source), identity(target), embedding_rms(source), embedding_rms(target),
                     config.nonlinearity, {"seed": config.seed}, config.hidden, config.architecture, config.inputs,
                     length)


def _stack(prompts: list[SoftPrompt], role: str, read=lambda prompt: prompt.tensor.float()) -> torch.Tensor:
    if len({p.length for p in prompts}) > 1:
        raise BadArgumentError(f"The {role} prompts have lengths {sorted({p.length for p in prompts})}; a "
                               "projector is trained on prompts of one length.")
    return torch.stack([read(p) for p in prompts])


def _inputs(projector: Projector, prompts: list[SoftPrompt]) -> torch.Tensor:
    """The source prompts as the projector reads them (prompts, or task vectors), checked."""
    for prompt in prompts:
        check_source_prompt(projector, prompt)
    return _stack(prompts, "source", partial(projector_input, projector))


def _targets(projector: Projector, target: Backbone, prompts: list[SoftPrompt]) -> torch.Tensor:
    """The target backbone's own prompts as the projector should produce them (prompts, or task vectors)."""
    for prompt in prompts:
        if (prompt.backbone, prompt.hidden_size, prompt.tokenizer_fingerprint) != (
                target.name, target.hidden_size, target.tokenizer_fingerprint):
            raise BadArgumentError(f"The target prompts must be of backbone {target.name!r}, not "
                                   f"{prompt.backbone!r}.")
    return _stack(prompts, "target", lambda prompt: projector_input(projector, prompt))


def _paired(source: Backbone, target: Backbone, pairs: Mapping[str, tuple[SoftPrompt, SoftPrompt]],
            config: ProjectorConfig) -> tuple[Projector, torch.Tensor, torch.Tensor]:
    if not pairs:
        raise BadArgumentError("Fitting a projector to the target's prompts needs at least one pair of source and "
                               "target prompts.")
    sources, targets = zip(*pairs.values())
    projector = new_projector(source, target, config, sources[0].length)
    x, y = _inputs(projector, list(sources)), _targets(projector, target, list(targets))
    if x.shape[1] != y.shape[1]:
        raise BadArgumentError(f"The source prompts have {x.shape[1]} tokens and the target prompts "
                               f"{y.shape[1]}; distance training pairs them token by token.")
    return projector, x, y


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
    settings = {k: v for k, v in asdict(config).items() if k not in ("hidden", "nonlinearity", "seed",
                                                                     "architecture", "inputs")}
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
    projector, x, y = _paired(source, target, pairs, config)
    module = ProjectedPrompts(projector, x, y)
    with torch.no_grad():
        initial = module.distance().item()
    curve = _train(target, module, config, [], None, progress)
    with torch.no_grad():
        final = module.distance().item()
    return _finish(projector, "distance", list(pairs), config,
                   {"initial_distance": initial, "final_distance": final, "loss_curve": curve})


def kept_share(centred: torch.Tensor, penalty: float) -> float:
    """The share of a ridge fit's least-squares weights its penalty keeps: λ / (λ + penalty) over the eigenvalues λ of
    the centred inputs' Gram (rows: input vectors), weighted by λ."""
    eigen = torch.linalg.eigvalsh(centred.T @ centred).clamp(min=0)
    return float((eigen * eigen / (eigen + penalty)).sum() / eigen.sum()) if eigen.sum() > 0 else 0.0


def train_by_ridge(source: Backbone, target: Backbone, pairs: Mapping[str, tuple[SoftPrompt, SoftPrompt]],
                   config: ProjectorConfig = ProjectorConfig(architecture="linear")
                   ) -> tuple[Projector, dict[str, Any]]:
    """The ridge regression baseline: a per-token linear map W, b minimising ‖X W + b − Y‖² + ridge·n·‖W‖² over
    every token of every pair (inputs and outputs in their backbones' units), in closed form; b is not penalised.
    Its metrics hold `kept_share`, the share of the least-squares weights the penalty keeps (eigenvalue-weighted over
    the centred inputs' Gram): near 0, the map is its bias and sends every input to one prompt (task vectors far
    smaller than the embeddings, e.g. Gemma's at 0.1 of them, want a smaller ridge)."""
    if config.architecture != "linear":
        raise BadArgumentError("A ridge fit is a linear projector; pass --architecture linear.")
    projector, x, y = _paired(source, target, pairs, config)
    inputs = (x / projector.source_scale).reshape(-1, x.shape[-1]).double()
    outputs = (y / projector.target_scale).reshape(-1, y.shape[-1]).double()
    mean_in, mean_out = inputs.mean(0), outputs.mean(0)
    centred = inputs - mean_in
    penalty = config.ridge * len(inputs)
    gram = centred.T @ centred + penalty * torch.eye(inputs.shape[1], dtype=torch.float64)
    weight = torch.linalg.solve(gram, centred.T @ (outputs - mean_out))
    layer = projector.network[0]
    with torch.no_grad():
        initial = torch.nn.functional.mse_loss(normalised_output(projector, x), y / projector.target_scale).item()
        layer.weight.copy_(weight.T.float())
        layer.bias.copy_((mean_out - mean_in @ weight).float())
        final = torch.nn.functional.mse_loss(normalised_output(projector, x), y / projector.target_scale).item()
    return _finish(projector, "ridge", list(pairs), config,
                   {"initial_distance": initial, "final_distance": final,
                    "kept_share": kept_share(centred, penalty)})


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
                  config: ProjectorConfig = ProjectorConfig(), progress: bool = True,
                  natives: Mapping[str, SoftPrompt] | None = None) -> tuple[Projector, dict[str, Any]]:
    """A projector trained so that each task's projected source prompt solves that task on the frozen target.

    `tasks` maps a task name to (its prompt on `source`, its training items from `scoring.encode(target, ...)`);
    the source prompts share one length. The items of all tasks are pooled and batched as prompt tuning
    batches them (`tuning.loop.epoch_batches`, from the seed); each item is scored under its own task's
    projected prompt and the loss is the cross-entropy over its candidates. Only the projector's parameters get
    gradients. With `config.distance_weight`, `natives` (the target's own prompt of every task) add the distance to
    them; with `config.contrast_weight`, the first `contrast_items` items of each task make the contrastive term.
    Returns the projector and its metrics: loss and accuracy before and after training over the first
    config.measure_size training items of each task, the loss of every step, and the mean pairwise cosine of the
    projector's outputs for the tasks (and of its inputs) after training.
    """
    if not tasks:
        raise BadArgumentError("Task training needs at least one task with a source prompt and training items.")
    for name, (_, items) in tasks.items():
        if not items:
            raise DataError(f"Task {name!r} has no training items for the projector.")
    if config.distance_weight > 0 and (natives is None or set(natives) != set(tasks)):
        raise BadArgumentError("The distance term needs the target backbone's own prompt of every training task.")
    prompts = [prompt for prompt, _ in tasks.values()]
    projector = new_projector(source, target, config, prompts[0].length)
    device = target.device
    sources = _inputs(projector, prompts)
    targets = _targets(projector, target, [natives[t] for t in tasks]) if config.distance_weight > 0 else None
    contrast = None
    if config.contrast_weight > 0:
        chosen = [(t, item) for t, (_, items) in enumerate(tasks.values()) for item in items[:config.contrast_items]]
        contrast = Contrast(target, [item for _, item in chosen], torch.tensor([t for t, _ in chosen], device=device),
                            scoring.labels_of([item for _, item in chosen], device))
    module = ProjectedPrompts(projector, sources, targets, target_init(projector, target, sources.shape[1]),
                              config.distance_weight, contrast, config.contrast_weight).to(device)
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
    with torch.no_grad():
        outputs = normalised_output(projector, module.sources).flatten(1)
    return _finish(projector, "task", list(tasks), config,
                   {"initial_loss": initial_loss, "final_loss": final_loss, "initial_accuracy": initial_accuracy,
                    "final_accuracy": final_accuracy, "loss_curve": curve,
                    "output_cosine": mean_pairwise_cosine(outputs),
                    "input_cosine": mean_pairwise_cosine(module.sources.flatten(1))})


def mean_pairwise_cosine(rows: torch.Tensor) -> float | None:
    """The mean cosine over distinct pairs of rows (None for fewer than two): near 1, the rows are one vector."""
    if len(rows) < 2:
        return None
    unit = torch.nn.functional.normalize(rows.float(), dim=-1)
    cosines = unit @ unit.T
    return ((cosines.sum() - cosines.diagonal().sum()) / (len(rows) * (len(rows) - 1))).item()
