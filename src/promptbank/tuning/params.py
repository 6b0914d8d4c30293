"""Prompt parameterisations: the one thing the training loop trains.

A parameterisation is a small `nn.Module` whose forward gives the prompts a batch reads, one (L, d) prompt per
row id asked for. The loop knows nothing else about it: how the prompt is made (a plain tensor, a network over
frozen source prompts, a mixture) lives here, so a new method is a new module, not a new loop.

- `forward(rows)` → (len(rows), L, d): the prompts of these row ids. A job's items each name the row they read
  (all row 0 for a single prompt; a task's index for a network that makes one prompt per task).
- `penalty()` → a scalar added to the job's loss, or None (a regulariser, or the whole objective of a job
  with no items).
- `prompt()` → the (L, d) prompt a trained parameterisation ends as, for the bank and PEFT files (None where a
  module makes no single prompt); `start` is the SoftPrompt it began from, whose metadata that prompt keeps.
"""

from __future__ import annotations

import torch

from promptbank.tuning.prompt import SoftPrompt


class PromptParams(torch.nn.Module):
    """The interface; subclasses implement `forward` and may override `penalty` and `prompt`."""

    start: SoftPrompt | None = None

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def penalty(self) -> torch.Tensor | None:
        return None

    def prompt(self) -> torch.Tensor | None:
        return None


class PlainPrompt(PromptParams):
    """Prompt tuning (Lester et al.): the (L, d) prompt is itself the parameter, read by every row."""

    def __init__(self, start: SoftPrompt) -> None:
        super().__init__()
        self.start = start
        self.weights = torch.nn.Parameter(start.tensor.detach().clone().float())

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.weights.unsqueeze(0).expand(len(rows), -1, -1)

    def prompt(self) -> torch.Tensor:
        return self.weights.detach()


class ScaledPrompt(PromptParams):
    """Prompt tuning with a step relative to the embeddings' scale: the parameter is the prompt in units of `scale`
    (the RMS of the embeddings the model reads), so AdamW, whose step is about lr whatever the gradient, moves the
    prompt by about lr × scale. A Gemma prompt (embeddings × sqrt(d) inside the model) then moves as far from its
    init, relative to what the model reads, as a SmolLM2 one."""

    def __init__(self, start: SoftPrompt, scale: float) -> None:
        super().__init__()
        if not scale > 0:
            raise ValueError(f"The embedding scale must be positive, not {scale}.")
        self.start, self.scale = start, float(scale)
        self.weights = torch.nn.Parameter(start.tensor.detach().clone().float() / self.scale)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return (self.weights * self.scale).unsqueeze(0).expand(len(rows), -1, -1)

    def prompt(self) -> torch.Tensor:
        return (self.weights * self.scale).detach()


class ResidualPrompt(PromptParams):
    """A residual re-parameterisation (after Razdaibiedina et al. 2023, Residual Prompt Tuning): each token is its
    trainable vector plus a shared bottleneck MLP of it, P + s·W2 relu(W1 P/s), s the start's RMS so the MLP
    works at unit scale on any backbone. W2 starts at zero, so training starts exactly at `start`; the MLP
    couples the tokens' updates, and `prompt()` folds it back into a plain (L, d) prompt."""

    def __init__(self, start: SoftPrompt, bottleneck: int = 64, seed: int = 0) -> None:
        super().__init__()
        self.start = start
        self.weights = torch.nn.Parameter(start.tensor.detach().clone().float())
        self.scale = float(start.tensor.float().pow(2).mean().sqrt()) or 1.0
        generator = torch.Generator().manual_seed(seed)
        d = start.hidden_size
        self.down = torch.nn.Parameter((torch.rand(bottleneck, d, generator=generator) * 2 - 1) / d ** 0.5)
        self.up = torch.nn.Parameter(torch.zeros(d, bottleneck))

    def folded(self) -> torch.Tensor:
        hidden = torch.relu(self.weights / self.scale @ self.down.T)
        return self.weights + self.scale * hidden @ self.up.T

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.folded().unsqueeze(0).expand(len(rows), -1, -1)

    def prompt(self) -> torch.Tensor:
        with torch.no_grad():
            return self.folded()
