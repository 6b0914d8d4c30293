"""Paired bootstrap confidence intervals for a gain in accuracy, over seeds and test examples.

Two inits trained with the same seeds are scored on the same test examples: the gain is the mean over seeds and
examples of (correct_a − correct_b). Its sampling distribution is estimated by resampling both levels with
replacement (seeds, then examples within the resampled seeds), so the interval reflects both the variation
between training runs and the finite test set.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

RESAMPLES = 2000


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float  # the 95% percentile interval of the bootstrap distribution

    def as_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "low": self.low, "high": self.high}


def paired_gain(a: torch.Tensor, b: torch.Tensor, resamples: int = RESAMPLES, seed: int = 0,
                level: float = 0.95) -> Interval:
    """Mean of a − b and its bootstrap interval; a and b are (seeds, examples) tensors of 0/1 correctness."""
    if a.shape != b.shape or a.dim() != 2 or a.numel() == 0:
        raise ValueError(f"paired_gain needs two equal (seeds, examples) tensors, not {tuple(a.shape)} and "
                         f"{tuple(b.shape)}.")
    difference = (a.float() - b.float())
    seeds, examples = difference.shape
    generator = torch.Generator().manual_seed(seed)
    chosen_seeds = torch.randint(seeds, (resamples, seeds), generator=generator)
    chosen_examples = torch.randint(examples, (resamples, seeds, examples), generator=generator)
    rows = difference[chosen_seeds]  # (resamples, seeds, examples)
    means = rows.gather(2, chosen_examples).mean(dim=(1, 2))
    tail = (1 - level) / 2
    low, high = torch.quantile(means, torch.tensor([tail, 1 - tail])).tolist()
    return Interval(difference.mean().item(), low, high)
