"""How a prompt is trained, as plain data (no torch here, so the CLI can build it without loading a model).

`TrainConfig` is the one settings block every spec embeds and every checkpoint saves (nanoGPT's config block).
The learning rate and warmup left as None mean the backbone's recipe, chosen by the sweep on dev data
(reports/recipe/): `for_backbone` fills them in, and every run does so before training, so a library call and
the CLI train alike. Scale alone does not set the rate: Gemma reads embeddings of std 1.0 (scaled by sqrt(d)
inside the model) where SmolLM2 reads 0.12, yet on 16-shot tasks both do best at about the same rate, and Gemma
collapses at 0.3-1.0. A backbone the sweep has not covered gets DEFAULT_RECIPE.

AdamW's step is about the learning rate whatever the gradient, so with `step` absolute a prompt moves by about lr
per step on every backbone: 8% of SmolLM2's embedding RMS (0.12), 1% of Gemma's (1.03). With `step` relative the
prompt is trained in units of the embeddings' RMS, so lr is the fraction of it a step moves, alike on every
backbone; the recipe's `relative_lr` (0.08) is SmolLM2's absolute rate in those units, not yet swept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from promptbank.errors import BadArgumentError


class Step(StrEnum):
    """How far an optimiser step moves the prompt: lr itself, or lr times the RMS of the embeddings it reads."""

    ABSOLUTE = "absolute"
    RELATIVE = "relative"


class Reparam(StrEnum):
    """How a plain prompt is parameterised while it trains: as itself, or through Residual Prompt Tuning's MLP with a
    skip connection (folded back into a plain prompt at the end, so banks and PEFT files are unchanged)."""

    NONE = "none"
    RESIDUAL = "residual"


class Schedule(StrEnum):
    """The learning rate over the run: linear warmup then linear decay to zero, or held constant."""

    LINEAR = "linear"
    CONSTANT = "constant"


@dataclass(frozen=True)
class Recipe:
    lr: float
    warmup: float
    chosen_by: str  # the sweep that chose it
    relative_lr: float = 0.08  # with step relative: a fraction of the embeddings' RMS per step


DEFAULT_RECIPE = Recipe(lr=0.01, warmup=0.06, chosen_by="TrainConfig defaults")
RECIPES: dict[str, Recipe] = {
    "smollm2-135m": Recipe(lr=0.01, warmup=0.06, chosen_by="reports/recipe/smollm2-135m-lr, smollm2-135m-stage2"),
    "gemma3-270m": Recipe(lr=0.01, warmup=0.06, chosen_by="reports/recipe/gemma3-270m-lr, gemma3-270m-stage2"),
}


def recipe_for(backbone: str) -> Recipe:
    return RECIPES.get(backbone, DEFAULT_RECIPE)


@dataclass(frozen=True)
class TrainConfig:
    """The optimiser, schedule, evaluation and stopping settings of one training run."""

    steps: int = 200
    batch_size: int = 8
    lr: float | None = None  # None: the backbone's recipe
    weight_decay: float = 1e-5
    warmup: float | None = None  # fraction of the steps spent warming up; None: the backbone's recipe
    max_grad_norm: float = 1.0
    eval_every: int = 20
    patience: int = 5  # evaluations without dev improvement before stopping; 0 never stops early
    seed: int = 0
    eval_batch_size: int = 32
    schedule: Schedule = Schedule.LINEAR
    step: Step = Step.ABSOLUTE
    reparam: Reparam = Reparam.NONE

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_every", "eval_batch_size"):
            if getattr(self, name) <= 0:
                raise BadArgumentError(f"--{name.replace('_', '-')} must be positive, not {getattr(self, name)}.")
        if self.lr is not None and not self.lr > 0:
            raise BadArgumentError(f"The learning rate must be positive, not {self.lr}.")
        if self.warmup is not None and not 0 <= self.warmup < 1:
            raise BadArgumentError(f"The warmup is a fraction of the steps in [0, 1), not {self.warmup}.")
        if self.patience < 0 or self.weight_decay < 0 or not self.max_grad_norm > 0:
            raise BadArgumentError("Patience and weight decay must be ≥ 0 and the gradient clip positive.")
        if self.schedule not in tuple(Schedule):
            raise BadArgumentError(f"Unknown schedule {self.schedule!r}; use one of {', '.join(Schedule)}.")
        object.__setattr__(self, "schedule", Schedule(self.schedule))
        if self.step not in tuple(Step):
            raise BadArgumentError(f"Unknown step {self.step!r}; use one of {', '.join(Step)}.")
        object.__setattr__(self, "step", Step(self.step))
        if self.reparam not in tuple(Reparam):
            raise BadArgumentError(f"Unknown reparameterisation {self.reparam!r}; use one of {', '.join(Reparam)}.")
        if self.reparam is not Reparam.NONE and self.step is Step.RELATIVE:
            raise BadArgumentError("--reparam residual works at the embeddings' scale itself; use it with --step "
                                   "absolute.")
        object.__setattr__(self, "reparam", Reparam(self.reparam))

    def for_backbone(self, backbone: str) -> TrainConfig:
        """This config with the learning rate and warmup left open taken from `backbone`'s recipe."""
        recipe = recipe_for(backbone)
        default = recipe.relative_lr if self.step is Step.RELATIVE else recipe.lr
        return replace(self, lr=default if self.lr is None else self.lr,
                       warmup=recipe.warmup if self.warmup is None else self.warmup)

    def lr_factor(self, step: int) -> float:
        """The multiple of the learning rate at `step` (a resolved config: warmup set)."""
        if self.schedule is Schedule.CONSTANT:
            return 1.0
        warmup = max(1, int((self.warmup or 0.0) * self.steps))
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (self.steps - step) / max(1, self.steps - warmup))
