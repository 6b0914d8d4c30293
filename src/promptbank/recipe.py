"""Training recipes per backbone: the learning rate and warmup chosen by the sweep on dev data (reports/recipe/).

Adam moves each prompt coordinate by about lr per step, so the learning rate must suit the scale of the
embeddings the model reads: SmolLM2's have std 0.12, Gemma's (scaled by sqrt(d) inside the model) 1.0. A
backbone the sweep has not covered gets TrainConfig's defaults.
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
    "smollm2-135m": Recipe(lr=0.03, warmup=0.06, chosen_by="reports/recipe/smollm2-135m-lr"),
    "gemma3-270m": Recipe(lr=0.3, warmup=0.06, chosen_by="reports/recipe/gemma3-270m-lr"),
}


def recipe_for(backbone: str) -> Recipe:
    return RECIPES.get(backbone, Recipe(TrainConfig.lr, TrainConfig.warmup, "TrainConfig defaults"))
