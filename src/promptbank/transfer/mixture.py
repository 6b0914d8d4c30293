"""A learned mixture over the bank: the target's prompt is its own trainable prompt plus a trained combination of
the top-k sources' frozen task vectors,

    P = P_target + s · Σ_i softmax(α)_i Δ_i,

so training chooses how much of each source to take (α, and the scale s) while the target prompt learns what no
source has. It is a prompt parameterisation: the one loop trains it like any other, and `prompt()` folds it into
a plain (L, d) prompt for the bank and PEFT files. α starts uniform and s at 1: the start is the target's init plus
the sources' mean task vector.

AdamW moves every parameter by about the learning rate per step, which suits a prompt at its embedding scale but is
slow for mixing logits of order 1; α and log s are therefore read through a gain (`MIX_GAIN`), so they move about
`MIX_GAIN` times as far per step.
"""

from __future__ import annotations

import torch

from promptbank.tuning.params import PromptParams
from promptbank.tuning.prompt import SoftPrompt

MIX_GAIN = 10.0


class LearnedMixture(PromptParams):
    """P_target + s · Σ softmax(α)_i Δ_i over frozen task vectors `deltas` (k, L, d); `start` is P_target's init."""

    def __init__(self, start: SoftPrompt, deltas: torch.Tensor, learn_scale: bool = True) -> None:
        super().__init__()
        if deltas.dim() != 3 or deltas.shape[1:] != start.tensor.shape:
            raise ValueError(f"The task vectors {tuple(deltas.shape)} do not fit a prompt of shape "
                             f"{tuple(start.tensor.shape)}.")
        self.start = start
        self.weights = torch.nn.Parameter(start.tensor.detach().clone().float())
        self.alpha = torch.nn.Parameter(torch.zeros(len(deltas)))
        self.log_scale = torch.nn.Parameter(torch.zeros(()), requires_grad=learn_scale)
        self.register_buffer("deltas", deltas.detach().float().clone())

    def mixture(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The sources' weights (they sum to 1) and the scale applied to their mixed task vector."""
        return torch.softmax(MIX_GAIN * self.alpha, dim=0), torch.exp(MIX_GAIN * self.log_scale)

    def mixed(self) -> torch.Tensor:
        weights, scale = self.mixture()
        return self.weights + scale * torch.einsum("k,kld->ld", weights, self.deltas)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.mixed().unsqueeze(0).expand(len(rows), -1, -1)

    def prompt(self) -> torch.Tensor:
        with torch.no_grad():
            return self.mixed()

    def learned(self) -> dict[str, list[float] | float]:
        """What training chose, for the lineage: each source's weight, and the scale."""
        with torch.no_grad():
            weights, scale = self.mixture()
        return {"learned_weights": [round(w, 6) for w in weights.tolist()], "learned_scale": round(float(scale), 6)}
