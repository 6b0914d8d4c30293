"""Retrieval: which of the bank's source prompts suit a target task.

- by similarity: a briefly trained target prompt (its "task embedding", SPoT) is compared with every source
  prompt of the same backbone under a similarity metric;
- by zero-shot transfer: every source prompt is evaluated as it is on the target's dev set, many prompts per
  batched forward pass;
- staged: a similarity prefilter, then successive halving on dev (transfer.staged).
Pre-trained prompts are inits of their own and never retrieved as sources.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import torch

from promptbank.backbones import Backbone
from promptbank.bank import PromptBank, PromptRecord
from promptbank.errors import DataError
from promptbank.scoring.evaluate import accuracy_of_many
from promptbank.tasks import base_task
from promptbank.tuning.init import init_prompt
from promptbank.tuning.loop import train_prompt

if TYPE_CHECKING:
    from promptbank.transfer.run import TransferSpec
    from promptbank.tuning.run import TargetData

RETRIEVALS = ("similarity", "zero-shot", "staged")


@dataclass(frozen=True)
class Ranked:
    """A source prompt and how well it suits the target (a similarity or a zero-shot dev accuracy)."""

    record: PromptRecord
    score: float


def sources_for(bank: PromptBank, backbone: Backbone, length: int,
                exclude_task: str | None = None) -> tuple[torch.Tensor, list[PromptRecord]]:
    """The bank's task prompts for `backbone` with at least `length` tokens (cut to it), excluding those trained
    on the target task itself (and pre-trained prompts, which are inits of their own), stacked."""
    own = None if exclude_task is None else base_task(exclude_task)  # however the target's choices are scored
    ids = [r.id for r in bank.list(backbone=backbone.name) if base_task(r.task or "") != own and r.length >= length
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
    """Sources ordered by the similarity of their prompt (or task vector) to the target's task embedding (or its
    task vector)."""
    from promptbank.transfer.similarity import similarity_matrix
    scores = similarity_matrix(metric, target.unsqueeze(0), prompts, backbone=backbone)[0]
    return _ordered(records, scores)


def _ordered(records: list[PromptRecord], scores: torch.Tensor) -> list[Ranked]:
    order = sorted(range(len(records)), key=lambda i: (-float(scores[i]), records[i].id))
    return [Ranked(records[i], float(scores[i])) for i in order]


@dataclass(frozen=True)
class Retrieval:
    """The bank's candidate sources for a target, stacked, and their ranking (best first)."""

    prompts: torch.Tensor
    records: list[PromptRecord]
    ranking: list[Ranked]
    evaluations: int | None = None  # prompt × dev-example scorings spent (staged retrieval)

    def top(self, k: int) -> tuple[torch.Tensor, list[Ranked]]:
        """The k best-ranked sources: their prompts stacked (k, L, d), and their rankings."""
        top = self.ranking[:k]
        index = {r.id: i for i, r in enumerate(self.records)}
        return self.prompts[[index[r.record.id] for r in top]], top


def retrieve(spec: TransferSpec, backbone: Backbone, bank: PromptBank, data: TargetData) -> Retrieval:
    """Rank the bank's prompts for the target by zero-shot dev accuracy or by similarity to a briefly trained
    target prompt (its task embedding)."""
    prompts, records = sources_for(bank, backbone, spec.prompt_length, exclude_task=data.task.name)
    if spec.by == "zero-shot":
        return Retrieval(prompts, records, rank_by_zero_shot(backbone, prompts, records, data.dev_items))
    start = init_prompt(backbone, spec.prompt_length, "random", seed=spec.train.seed)
    embedding_config = replace(spec.train, steps=spec.embedding_steps, patience=0)
    embedding = train_prompt(backbone, data.train_items, data.dev_items, start, embedding_config, progress=False)
    # task vectors against task vectors: the target's measured from its own init, as each source's is from its own
    # (the ON metric reads what the prompts activate, so it compares the prompts themselves)
    on_delta = spec.on == "delta" and spec.metric != "on"
    target = embedding.prompt.delta if on_delta else embedding.prompt.tensor
    vectors = bank.stack(backbone.name, ids=[r.id for r in records], length_policy="truncate",
                         length=spec.prompt_length, delta=True, loaded=backbone)[0] if on_delta else prompts
    if spec.by == "staged":
        from promptbank.transfer.staged import rank_staged  # staged ranks with this module's Ranked
        staged = rank_staged(backbone, prompts, records, data.dev_items, target, spec.metric, k=spec.k,
                             vectors=vectors, prefilter=spec.prefilter, seed=spec.train.seed)
        return Retrieval(prompts, records, staged.ranking, staged.evaluations)
    return Retrieval(prompts, records, rank_by_similarity(backbone, vectors, records, target, spec.metric))
