"""Retrieval at bank scale: rank N source prompts for a target without scoring every one on the whole dev set.

Exhaustive zero-shot ranking (`transfer.rank_by_zero_shot`) costs N × dev prompt×example evaluations: at
10,000 prompts, hours. Staged retrieval spends that budget where the ranking is decided:

1. prefilter: the `prefilter` prompts most similar to the target's task embedding (a briefly trained target
   prompt, as retrieval by similarity uses) go on; similarity is a few matrix products, even for 10,000;
2. successive halving: the pool is scored zero-shot on the first `start` examples of a seeded order of the
   dev set, the best 1/eta go on, the subset grows eta-fold, until `final` prompts remain; those are scored
   on the whole dev set. Subsets are nested (each round's is a prefix of the next), so a survivor is scored
   only on the examples it has not seen yet: no prompt×example pair is evaluated twice.

Ties on a subset go to the prompt the prefilter ranked higher (the input order without a task embedding).
The ranking covers all N prompts, so the transfer inits work unchanged: survivors by whole-dev accuracy first,
then the eliminated by the round they reached (later first) and their accuracy on that round's subset, then
the prompts the prefilter dropped, in similarity order, with a NaN score (never evaluated).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from promptbank.backbones import Backbone
from promptbank.bank import PromptRecord
from promptbank.errors import BadArgumentError
from promptbank.scoring.evaluate import accuracy_of_many
from promptbank.transfer.retrieval import Ranked
from promptbank.transfer.similarity import METRICS, similarity_matrix

PREFILTER = 256  # prompts the similarity prefilter keeps
START = 8  # dev examples of the first round: 256 × 8 + 128 × 8 + 64 × 16 pairs on a 32-example dev set
ETA = 2  # each round keeps 1/ETA of the pool and scores it on ETA times the examples
FINAL = 8  # halving stops at this many; they are scored on the whole dev set


@dataclass(frozen=True)
class Stage:
    """One round: `prompts` scored on the first `examples` dev examples of the seeded order, of which
    `evaluations` prompt×example pairs were new (a survivor's earlier examples are not scored again)."""

    prompts: int
    examples: int
    evaluations: int


@dataclass(frozen=True)
class StagedRanking:
    """A ranking of every candidate (best first) and what it cost."""

    ranking: list[Ranked]
    examples: list[int]  # per ranked entry: how many dev examples its score is over (0: dropped by the prefilter)
    candidates: int  # N, the prompts ranked
    prefiltered: int  # those the similarity prefilter let through
    stages: list[Stage]
    dev_order: list[int]  # the seeded order of the dev items; round r scored its first stages[r].examples

    @property
    def evaluations(self) -> int:
        """Prompt×example pairs scored, over all rounds."""
        return sum(stage.evaluations for stage in self.stages)

    @property
    def exhaustive_evaluations(self) -> int:
        """What scoring every candidate on the whole dev set costs, for comparison."""
        return self.candidates * len(self.dev_order)


def rank_staged(backbone: Backbone, prompts: torch.Tensor, records: list[PromptRecord], dev_items: list,
                task_embedding: torch.Tensor | None, metric: str = "spot-avg-cosine", k: int = 3,
                vectors: torch.Tensor | None = None,
                prefilter: int = PREFILTER, start: int = START, eta: int = ETA, final: int = FINAL, seed: int = 0,
                batch_rows: int = 64) -> StagedRanking:
    """Rank N prompts (N, L, d) for the target by a similarity prefilter and successive halving of zero-shot dev
    accuracy (the module doc says how); the top `k` are always scored on the whole dev set.

    Without a task embedding there is no prefilter: every prompt enters the halving.
    """
    _check(prompts, records, dev_items, task_embedding, metric, k, prefilter, start, eta, final)
    if task_embedding is None:
        pool, dropped = list(range(len(prompts))), []
    else:
        compared = prompts if vectors is None else vectors  # the prompts, or their task vectors
        similarity = similarity_matrix(metric, task_embedding.unsqueeze(0), compared, backbone=backbone)[0].tolist()
        by_similarity = sorted(range(len(prompts)), key=lambda i: (-similarity[i], records[i].id))
        pool, dropped = by_similarity[:prefilter], by_similarity[prefilter:]
    position = {index: rank for rank, index in enumerate(pool)}
    generator = torch.Generator().manual_seed(seed)
    dev_order = torch.randperm(len(dev_items), generator=generator).tolist()
    correct = torch.zeros(len(prompts), dtype=torch.long)
    stages: list[Stage] = []
    out: list[tuple[int, float, int]] = []  # (prompt index, score, examples), eliminated in order
    scored, n = 0, _next_size(0, len(pool), start, eta, final, len(dev_items))
    while True:
        new = [dev_items[j] for j in dev_order[scored:n]]
        accuracy = accuracy_of_many(backbone, prompts[pool], new, batch_rows)
        correct[pool] += (accuracy * len(new)).round().long()
        stages.append(Stage(len(pool), n, len(pool) * len(new)))
        scored = n
        pool = sorted(pool, key=lambda i: (-int(correct[i]), position[i]))
        if n == len(dev_items):
            break
        keep = max(final, math.ceil(len(pool) / eta))
        out[:0] = [(i, int(correct[i]) / n, n) for i in pool[keep:]]  # a later round's losers rank above earlier ones
        pool = pool[:keep]
        n = _next_size(n, len(pool), start, eta, final, len(dev_items))
    out[:0] = [(i, int(correct[i]) / n, n) for i in pool]
    out += [(i, math.nan, 0) for i in dropped]
    return StagedRanking([Ranked(records[i], score) for i, score, _ in out], [examples for *_, examples in out],
                         len(prompts), len(position), stages, dev_order)


def _next_size(scored: int, pool: int, start: int, eta: int, final: int, dev: int) -> int:
    """The next round's subset size: the whole dev set once halving is over, else `start` grown eta-fold."""
    if pool <= final:
        return dev
    return min(dev, start if scored == 0 else scored * eta)


def _check(prompts: torch.Tensor, records: list[PromptRecord], dev_items: list, task_embedding: torch.Tensor | None,
           metric: str, k: int, prefilter: int, start: int, eta: int, final: int) -> None:
    if prompts.dim() != 3 or len(prompts) == 0 or len(prompts) != len(records):
        raise BadArgumentError(f"Staged retrieval needs stacked prompts (N, L, d) with N ≥ 1 and one record each, "
                               f"not a tensor of shape {tuple(prompts.shape)} with {len(records)} records.")
    if not dev_items:
        raise BadArgumentError("Staged retrieval needs the target's dev items to score prompts on; none were given.")
    if task_embedding is not None and (task_embedding.dim() != 2 or task_embedding.shape[-1] != prompts.shape[-1]):
        raise BadArgumentError(f"The task embedding must be one prompt (L, {prompts.shape[-1]}), not a tensor of "
                               f"shape {tuple(task_embedding.shape)}.")
    if metric not in METRICS:
        raise BadArgumentError(f"Unknown similarity metric {metric!r}; use one of {', '.join(METRICS)}.")
    check_stages(k, prefilter, start, eta, final)


def check_stages(k: int, prefilter: int, start: int = START, eta: int = ETA, final: int = FINAL) -> None:
    """Refuse stage sizes that cannot work; callers run it before loading a model, so a bad --k or --prefilter
    costs nothing."""
    if not 1 <= k <= final <= prefilter:
        raise BadArgumentError(f"Staged retrieval needs 1 ≤ k ≤ final ≤ prefilter (final: the {final} prompts of the "
                               f"last round), not k={k}, prefilter={prefilter}.")
    if start < 1 or eta < 2:
        raise BadArgumentError(f"The first round needs ≥ 1 dev example and each round must shrink the pool "
                               f"(eta ≥ 2), not start={start}, eta={eta}.")
