"""Transfer initialisation: the target's starting prompt built from the top k retrieved sources.

- best-of-k: a short probe run from each of the k sources; the best on dev is kept and continued;
- weighted-average: Σ w_i P_i with w = softmax(score_i / temperature) over the k scores;
- mixture: one prompt trained on the mixed few-shot data of the k source tasks, then used as the init;
- learned-mixture: the target's own prompt plus a trained softmax mixture of the k sources' frozen task vectors
  (`promptbank.transfer.mixture`), trained on the target's data on the same budget;
- attention-mixture: the learned mixture with weights for each input (ATTEMPT's per-example attention);
- delta-average: P_base + λ·Σ wᵢΔᵢ, the weighted average of the sources' task vectors (weights as weighted-average's)
  added to a base: the target's own random init, the sources' own init (their mean, which is the one init a bank
  built from one seed shares), or the bank's PPT prompt for the target's format (PPT plus transfer); λ is chosen on
  dev among `LAMBDAS` by the start's zero-shot dev accuracy;
- delta-best: P_base + λ·Δ_best, the top source's task vector on the base, λ chosen alike.
With one shared init and weights summing to 1, weighted-average equals delta-average with the sources' base and
λ = 1: what the task-vector forms change is the base and λ.
Baselines: random, vocab, labels (see `promptbank.tuning.init.init_prompt`), and the bank's pre-trained prompts
(`pretrained`, `pretrained-unified`: see `promptbank.pretraining.run`), which are never retrieved as sources.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from promptbank import scoring
from promptbank.backbones import Backbone
from promptbank.errors import BadArgumentError
from promptbank.scoring.evaluate import accuracy_of_many
from promptbank.pretraining.run import PRETRAINED_INITS
from promptbank.tasks import few_shot, get_task, split
from promptbank.transfer.retrieval import RETRIEVALS
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.loop import Job, train_many, train_prompt
from promptbank.tuning.prompt import SoftPrompt

STRATEGIES = ("best-of-k", "weighted-average", "mixture", "learned-mixture", "attention-mixture", "delta-average",
              "delta-best")
TASK_VECTOR_STRATEGIES = ("learned-mixture", "attention-mixture", "delta-average", "delta-best")
# what a task-vector init adds to: the target's own init, the sources' init, or the target format's pre-trained prompt
BASES = ("target", "sources", "pretrained")
LAMBDAS = (0.5, 1.0, 1.5, 2.0)
BASELINES = ("random", "vocab", "labels")
WEIGHT_TEMPERATURE = 0.1  # softmax temperature over the top-k scores (similarities or zero-shot accuracies)


def weighted_average_init(prompts: torch.Tensor, scores: list[float],
                          temperature: float = WEIGHT_TEMPERATURE) -> tuple[torch.Tensor, list[float]]:
    """Σ w_i P_i with w = softmax(score / temperature): closer sources weigh more, none is dropped."""
    weights = torch.softmax(torch.tensor(scores) / temperature, dim=0)
    return torch.einsum("k,kld->ld", weights, prompts), weights.tolist()


def delta_init(backbone: Backbone, base: torch.Tensor, vector: torch.Tensor, dev_items: list,
               lambdas: tuple[float, ...] = LAMBDAS) -> tuple[torch.Tensor, float, list[float]]:
    """base + λ·vector for the λ whose start scores best zero-shot on the dev items (the smallest, on a tie): the
    start, λ, and every λ's dev accuracy. A task vector learnt from one start need not carry to another (the model
    is not linear), so its step is measured, not assumed."""
    starts = torch.stack([base + lam * vector for lam in lambdas])
    accuracy = accuracy_of_many(backbone, starts, dev_items).tolist()
    best = max(range(len(lambdas)), key=lambda i: (accuracy[i], -i))
    return starts[best], lambdas[best], accuracy


def best_of_k_init(backbone: Backbone, train_items: list, dev_items: list, candidates: torch.Tensor,
                   template: SoftPrompt, config: TrainConfig, probe_steps: int,
                   progress: bool = False) -> tuple[torch.Tensor, int, list[float]]:
    """Train briefly from each candidate (the k probes together, in shared passes); return the best probe's
    prompt, its index, and every probe's dev score."""
    probe = replace(config, steps=probe_steps, eval_every=probe_steps, patience=0)
    jobs = [Job(train_items, dev_items, _like(template, tensor), name=f"probe {i}")
            for i, tensor in enumerate(candidates)]
    results = train_many(backbone, jobs, probe, progress=progress, desc=f"best-of-{len(jobs)} probes")
    best = max(range(len(results)), key=lambda i: (results[i].best_dev, -i))
    return results[best].prompt.tensor, best, [r.best_dev for r in results]


def mixture_init(backbone: Backbone, source_tasks: list[str], shots: int, template: SoftPrompt, config: TrainConfig,
                 steps: int, progress: bool = False) -> torch.Tensor:
    """One prompt trained on the mixed few-shot data of the source tasks (each keeps its own template and
    answers; the scoring path handles the mix), to start the target from."""
    train_items, dev_items = [], []
    for name in source_tasks:
        task = get_task(name)
        parts = split(task)
        train_items += scoring.encode(backbone, task, few_shot(parts.train, shots, config.seed))
        dev_items += scoring.encode(backbone, task, few_shot(parts.validation, shots, config.seed))
    mixed = replace(config, steps=steps, patience=0)
    return train_prompt(backbone, train_items, dev_items, template, mixed, progress=progress,
                        desc=f"mixture of {len(source_tasks)} tasks").prompt.tensor


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
