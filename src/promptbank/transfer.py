"""Prompt transfer: rank the bank's source prompts for a target task, and build the target's initial prompt.

Retrieval (which sources):
- by similarity: a briefly trained target prompt (its "task embedding", SPoT) is compared with every
  source prompt of the same backbone under a similarity metric;
- by zero-shot transfer: every source prompt is evaluated as it is on the target's dev set, many prompts
  per batched forward pass.
Initialisation (from the top k):
- best-of-k: a short probe run from each of the k sources; the best on dev is kept and continued;
- weighted-average: Σ w_i P_i with w = softmax(score_i / temperature) over the k scores;
- mixture: one prompt trained on the mixed few-shot data of the k source tasks, then used as the init.
Baselines: random, vocab, labels (see `promptbank.prompt.init_prompt`), and the bank's pre-trained prompts
(`pretrained`, `pretrained-unified`: see `promptbank.pretraining.prompts`), which are never retrieved as sources.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from promptbank import scoring
from promptbank.backbones import Backbone
from promptbank.bank import PromptBank, PromptRecord
from promptbank.errors import BadArgumentError, DataError
from promptbank.evaluate import accuracy_of_many
from promptbank.pretraining.prompts import PRETRAINED_INITS
from promptbank.prompt import SoftPrompt, init_prompt
from promptbank.tasks import few_shot, get_task, split
from promptbank.train import TrainConfig, train_prompt

STRATEGIES = ("best-of-k", "weighted-average", "mixture")
BASELINES = ("random", "vocab", "labels")
RETRIEVALS = ("similarity", "zero-shot", "staged")
WEIGHT_TEMPERATURE = 0.1  # softmax temperature over the top-k scores (similarities or zero-shot accuracies)


@dataclass(frozen=True)
class Ranked:
    """A source prompt and how well it suits the target (a similarity or a zero-shot dev accuracy)."""

    record: PromptRecord
    score: float


def sources_for(bank: PromptBank, backbone: Backbone, length: int,
                exclude_task: str | None = None) -> tuple[torch.Tensor, list[PromptRecord]]:
    """The bank's task prompts for `backbone` with at least `length` tokens (cut to it), excluding those trained
    on the target task itself (and pre-trained prompts, which are inits of their own), stacked."""
    ids = [r.id for r in bank.list(backbone=backbone.name) if r.task != exclude_task and r.length >= length
           and r.tokenizer_fingerprint == backbone.tokenizer_fingerprint and r.kind != "pretrained"]
    if not ids:
        raise DataError(f"The bank at {bank.root} has no source prompts of {length} or more tokens for backbone "
                        f"{backbone.name!r}" + (f" other than ones trained on {exclude_task!r}" if exclude_task else "")
                        + ".")
    return bank.stack(backbone.name, ids=ids, length_policy="truncate", length=length)


def rank_by_zero_shot(backbone: Backbone, prompts: torch.Tensor, records: list[PromptRecord], dev_items: list,
                      batch_rows: int = 64) -> list[Ranked]:
    """Sources ordered by their accuracy on the target's dev items, used as they are (zero-shot transfer)."""
    accuracy = accuracy_of_many(backbone, prompts, dev_items, batch_rows)
    return _ordered(records, accuracy)


def rank_by_similarity(backbone: Backbone, prompts: torch.Tensor, records: list[PromptRecord], target: torch.Tensor,
                       metric: str) -> list[Ranked]:
    """Sources ordered by the similarity of their prompt to the target's task embedding."""
    from promptbank.similarity import similarity_matrix
    scores = similarity_matrix(metric, target.unsqueeze(0), prompts, backbone=backbone)[0]
    return _ordered(records, scores)


def _ordered(records: list[PromptRecord], scores: torch.Tensor) -> list[Ranked]:
    order = sorted(range(len(records)), key=lambda i: (-float(scores[i]), records[i].id))
    return [Ranked(records[i], float(scores[i])) for i in order]


def weighted_average_init(prompts: torch.Tensor, scores: list[float],
                          temperature: float = WEIGHT_TEMPERATURE) -> tuple[torch.Tensor, list[float]]:
    """Σ w_i P_i with w = softmax(score / temperature): closer sources weigh more, none is dropped."""
    weights = torch.softmax(torch.tensor(scores) / temperature, dim=0)
    return torch.einsum("k,kld->ld", weights, prompts), weights.tolist()


def best_of_k_init(backbone: Backbone, train_items: list, dev_items: list, candidates: torch.Tensor,
                   template: SoftPrompt, config: TrainConfig, probe_steps: int) -> tuple[torch.Tensor, int, list[float]]:
    """Train briefly from each candidate; return the best probe's prompt, its index, and every probe's dev score."""
    probe = TrainConfig(**{**config.__dict__, "steps": probe_steps, "eval_every": probe_steps, "patience": 0})
    results = [train_prompt(backbone, train_items, dev_items, _like(template, tensor), probe, progress=False)
               for tensor in candidates]
    best = max(range(len(results)), key=lambda i: (results[i].best_dev, -i))
    return results[best].prompt.tensor, best, [r.best_dev for r in results]


def mixture_init(backbone: Backbone, source_tasks: list[str], shots: int, template: SoftPrompt, config: TrainConfig,
                 steps: int) -> torch.Tensor:
    """One prompt trained on the mixed few-shot data of the source tasks (each keeps its own template and
    answers; the scoring path handles the mix), to start the target from."""
    train_items, dev_items = [], []
    for name in source_tasks:
        task = get_task(name)
        parts = split(task)
        train_items += scoring.encode(backbone, task, few_shot(parts.train, shots, config.seed))
        dev_items += scoring.encode(backbone, task, few_shot(parts.validation, shots, config.seed))
    mixed = TrainConfig(**{**config.__dict__, "steps": steps, "patience": 0})
    return train_prompt(backbone, train_items, dev_items, template, mixed, progress=False).prompt.tensor


def _like(template: SoftPrompt, tensor: torch.Tensor) -> SoftPrompt:
    return SoftPrompt(tensor.clone(), template.backbone, template.tokenizer_fingerprint, template.init)


def check_choice(strategy: str, k: int, by: str) -> None:
    """A strategy, a k and a retrieval that exist, checked before any model is loaded."""
    if by not in RETRIEVALS:
        raise BadArgumentError(f"--by must be one of {', '.join(RETRIEVALS)}, not {by!r}.")
    if strategy not in STRATEGIES + BASELINES + PRETRAINED_INITS:
        raise BadArgumentError(f"Unknown strategy {strategy!r}; use one of "
                               f"{', '.join(STRATEGIES + BASELINES + PRETRAINED_INITS)}.")
    if k <= 0:
        raise BadArgumentError(f"--k must be a positive number of source prompts, not {k}.")
