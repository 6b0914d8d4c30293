"""Training recipes per backbone: the learning rate chosen by the sweep on dev data (reports/recipe/), the warmup
kept by its second stage (which also kept the default prompt length, 20 tokens).

Scale alone does not set it: Gemma reads embeddings of std 1.0 (scaled by sqrt(d) inside the model) where
SmolLM2 reads 0.12, yet on 16-shot tasks both do best at about the same rate, and Gemma collapses at 0.3-1.0.
A backbone the sweep has not covered gets TrainConfig's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

from promptbank.train import TrainConfig


@dataclass(frozen=True)
class Recipe:
    lr: float
    warmup: float
    chosen_by: str  # the sweep that chose it


RECIPES: dict[str, Recipe] = {
    "smollm2-135m": Recipe(lr=0.01, warmup=0.06, chosen_by="reports/recipe/smollm2-135m-lr, smollm2-135m-stage2"),
    "gemma3-270m": Recipe(lr=0.01, warmup=0.06, chosen_by="reports/recipe/gemma3-270m-lr, gemma3-270m-stage2"),
}


def recipe_for(backbone: str) -> Recipe:
    return RECIPES.get(backbone, Recipe(TrainConfig.lr, TrainConfig.warmup, "TrainConfig defaults"))
