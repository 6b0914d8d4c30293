"""Prompt parameterisations: the one thing the training loop trains.

A parameterisation is a small `nn.Module` whose forward gives the prompts a batch reads, one (L, d) prompt per
row id asked for. The loop knows nothing else about it: how the prompt is made (a plain tensor, a network over
frozen source prompts, a mixture) lives here, so a new method is a new module, not a new loop.

- `forward(rows)` → (len(rows), L, d): the prompts of these row ids. A job's items each name the row they read
  (all row 0 for a single prompt; a task's index for a network that makes one prompt per task).
- `penalty()` → a scalar added to the job's loss, or None (a regulariser, or the whole objective of a job
  with no items).
- `prompt()` → the (L, d) prompt a trained parameterisation ends as, for the bank and PEFT files (None where a
  module makes no single prompt).
"""

from __future__ import annotations

import torch


class PromptParams(torch.nn.Module):
    """The interface; subclasses implement `forward` and may override `penalty` and `prompt`."""

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def penalty(self) -> torch.Tensor | None:
        return None

    def prompt(self) -> torch.Tensor | None:
        return None


class PlainPrompt(PromptParams):
    """Prompt tuning (Lester et al.): the (L, d) prompt is itself the parameter, read by every row."""

    def __init__(self, tensor: torch.Tensor) -> None:
        super().__init__()
        self.weights = torch.nn.Parameter(tensor.detach().clone().float())

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.weights.unsqueeze(0).expand(len(rows), -1, -1)

    def prompt(self) -> torch.Tensor:
        return self.weights.detach()
