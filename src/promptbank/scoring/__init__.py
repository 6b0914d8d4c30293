"""One scoring path for training and evaluation: rank classification over each example's candidates.

`encode` tokenizes examples once for the backbone's family; `score` returns an (examples, candidates)
matrix of log-likelihoods (or, for encoders, scaled cosines), -inf where an example has fewer candidates.
All candidates of a batch are scored in one batched pass, and each row may carry its own prompt, so many
prompts can be evaluated in one forward pass.
"""

from collections.abc import Sequence
from dataclasses import replace

import torch

from promptbank.backbones import Backbone
from promptbank.scoring import causal, encoder, masked, seq2seq
from promptbank.tasks.task import Example, Task

_FAMILIES = {"causal": causal, "masked": masked, "seq2seq": seq2seq, "encoder": encoder}


def encode(backbone: Backbone, task: Task, examples: Sequence[Example]) -> list:
    """The examples as the backbone's family scores them; a task scored by `mean` gets length-normalised items
    (an encoder's cosine has no length to normalise)."""
    family = _FAMILIES[backbone.family]
    items = [family.encode(backbone, task.render(ex), task.candidates(ex), ex.label) for ex in examples]
    if task.choice_scoring == "mean" and backbone.family != "encoder":
        items = [replace(item, per_token=True) for item in items]
    return items


def score(backbone: Backbone, prompts: torch.Tensor, items: list, prompt_of: torch.Tensor | None = None) -> torch.Tensor:
    """Scores of every candidate of every item.

    `prompts` is (L, d) for all items, or (P, L, d) with `prompt_of` giving each item's prompt index
    (without it, one prompt per item). Passing each distinct prompt once lets causal models read it once.
    """
    if prompts.dim() == 2:
        prompts, prompt_of = prompts.unsqueeze(0), torch.zeros(len(items), dtype=torch.long)
    elif prompt_of is None:
        prompt_of = torch.arange(len(items))
    return _FAMILIES[backbone.family].score(backbone, prompts, prompt_of, items)


def labels_of(items: list, device: torch.device | None = None) -> torch.Tensor:
    return torch.tensor([item.label for item in items], device=device)
