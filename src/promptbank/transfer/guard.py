"""The guard against negative transfer: a target that no source in the bank fits starts from random init.

A source whose zero-shot dev accuracy is no better than always answering the dev set's most frequent label carries
nothing of the target's task, and starting from it (or from a mix of such sources) cost test accuracy on a target of
a kind the bank does not hold (reports/README, "wiki_hedges held out"). The test: one-sided exact binomial of the
best source's dev hits against that floor, Bonferroni-corrected over the sources it was the best of, since the best
of many prompts clears the floor by luck alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from math import comb

from promptbank.errors import BadArgumentError


@dataclass(frozen=True)
class Verdict:
    """Whether the bank's best source fits the target, and the evidence."""

    fits: bool
    best_dev_accuracy: float
    floor: float  # the dev accuracy of always answering the dev set's most frequent label
    p_value: float  # Bonferroni-corrected over `candidates`
    candidates: int
    alpha: float

    def as_lineage(self) -> dict:
        return asdict(self)


def fallback_for(strategy: str, base: str) -> str:
    """What a guarded strategy starts from when no source fits: the PPT prompt it would have added task vectors to
    (delta-average and delta-best with `--base pretrained`), else random init."""
    return "pretrained" if base == "pretrained" and strategy in ("delta-average", "delta-best") else "random"


def check_alpha(alpha: float | None) -> None:
    if alpha is not None and not 0 < alpha < 1:
        raise BadArgumentError(f"--guard must be a significance level between 0 and 1, not {alpha}.")


def binomial_tail(hits: int, n: int, p: float) -> float:
    """P(X ≥ hits) for X ~ Binomial(n, p)."""
    return min(1.0, sum(comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(max(hits, 0), n + 1)))


def dev_floor(labels: Sequence[int]) -> float:
    """The accuracy of always answering the most frequent of `labels`."""
    return Counter(labels).most_common(1)[0][1] / len(labels)


def judge(best_accuracy: float, labels: Sequence[int], candidates: int, alpha: float) -> Verdict:
    """Whether a best source scoring `best_accuracy` on the dev examples whose gold answers are `labels` is above
    their floor at level `alpha`, having been the best of `candidates` sources."""
    n, floor = len(labels), dev_floor(labels)
    p = min(1.0, candidates * binomial_tail(round(best_accuracy * n), n, floor))
    return Verdict(p < alpha, best_accuracy, floor, p, candidates, alpha)
