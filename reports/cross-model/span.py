"""How much of a held-out task's task vector a map fitted on the other tasks can see.

A projector trained on K tasks' task vectors (per token: K·L input vectors in a d-dimensional space) has seen
inputs only in their span; a linear map sends the rest of a new input to its bias. This prints, per leave-one-out
fold, the share of the held-out task's ‖Δ‖² inside the span of the training tasks' Δs, for the source backbone's
inputs and for the target backbone's native Δs (what the map would have to output), per token and for the whole
flattened prompt, beside the share a random direction would have (span dimension / d).

    usage: .venv/bin/python reports/cross-model/span.py SOURCE TARGET  (after loo.sh has built the experiment bank)
"""

import json
import sys

import torch

from promptbank.backbones import load_backbone
from promptbank.bank import PromptBank
from promptbank.projection.bank import native_prompt

TASKS = ("movie_sentences", "movie_reviews", "tweet_sentiment", "food_reviews", "bbc_news", "wiki_hedges")
LENGTH = 20


def in_span(vectors: torch.Tensor, basis: torch.Tensor) -> float:
    """Share of the squared norm of `vectors` (rows) inside the row span of `basis`."""
    q, _ = torch.linalg.qr(basis.T.double())  # orthonormal columns spanning basis' rows
    vectors = vectors.double()
    return float((vectors @ q).pow(2).sum() / vectors.pow(2).sum())


def deltas(bank: PromptBank, name: str) -> dict[str, torch.Tensor]:
    backbone = load_backbone(name, "bfloat16")
    return {t: (p.tensor - p.init_tensor).float() for t in TASKS
            for p in [native_prompt(bank, name, t, LENGTH, backbone)]}


def main(source: str, target: str) -> None:
    bank = PromptBank("reports/cross-model/bank")
    rows = {}
    for side, name in (("inputs", source), ("native outputs", target)):
        found = deltas(bank, name)
        d = next(iter(found.values())).shape[1]
        for held in TASKS:
            rest = [found[t] for t in TASKS if t != held]
            rows.setdefault(held, {})[side] = {
                "per token": in_span(found[held], torch.cat(rest)),
                "per token, random direction": min(1.0, len(rest) * LENGTH / d),
                "whole prompt": in_span(found[held].flatten()[None], torch.stack([r.flatten() for r in rest])),
                "whole prompt, random direction": len(rest) / (LENGTH * d)}
    print(json.dumps({"source": source, "target": target, "folds": rows}, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:3])
