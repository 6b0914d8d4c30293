"""The experiments' statistics: paired bootstrap intervals for a gain in accuracy, steps to a dev score, rank
correlation, and the JSON of a run they are computed from.

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


def run_json(result, test, gold: list[int]) -> dict:
    """A training run as JSON: its test accuracy, which test examples it got right (what `gain_interval` pairs),
    its dev scores and curve (`result` a TrainResult, `test` its Evaluation on the test items of labels `gold`)."""
    correct = "".join("1" if p == g else "0" for p, g in zip(test.predictions, gold))
    return {"test_accuracy": test.accuracy, "test_correct": correct, "best_dev": result.best_dev,
            "best_step": result.best_step, "curve": result.curve}


def gain_interval(runs: list[dict], randoms: list[dict]) -> dict | None:
    """The paired gain of `runs` over `randoms` (run JSON, one per seed, the same seeds in the same order) with its
    95% bootstrap interval over seeds and test examples; None for runs saved before they recorded which test
    examples they got right."""
    if any("test_correct" not in run for run in runs + randoms):
        return None
    correct = lambda rows: torch.tensor([[c == "1" for c in run["test_correct"]] for run in rows], dtype=torch.float32)
    return paired_gain(correct(runs), correct(randoms)).as_dict()


def steps_to_reach(curve: list[dict], threshold: float) -> int | None:
    """The first evaluated step whose dev accuracy reaches `threshold`; None if it never does."""
    return next((p["step"] for p in curve if p["dev_accuracy"] >= threshold - 1e-9), None)


def dev_auc(curve: list[dict]) -> float | None:
    """The area under the dev-accuracy curve over its steps (trapezoids between evaluations), divided by the steps:
    the mean dev accuracy along training, which rewards reaching a level early as well as reaching it at all."""
    points = [(p["step"], p["dev_accuracy"]) for p in curve if p.get("dev_accuracy") is not None]
    if len(points) < 2 or points[-1][0] == points[0][0]:
        return None
    area = sum((b[0] - a[0]) * (a[1] + b[1]) / 2 for a, b in zip(points, points[1:]))
    return area / (points[-1][0] - points[0][0])


def spearman(x: list[float], y: list[float]) -> float | None:
    """Spearman's rank correlation (average ranks for ties); None when it is undefined."""
    if len(x) < 3:
        return None

    def ranks(values: list[float]) -> torch.Tensor:
        order = sorted(range(len(values)), key=values.__getitem__)
        out = [0.0] * len(values)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
                j += 1
            for t in range(i, j + 1):
                out[order[t]] = (i + j) / 2
            i = j + 1
        return torch.tensor(out)

    a, b = ranks(x), ranks(y)
    a, b = a - a.mean(), b - b.mean()
    denominator = (a.norm() * b.norm()).item()
    return None if denominator == 0 else (a @ b).item() / denominator
