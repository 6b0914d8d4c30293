"""Token-level scoring shared by causal and masked LMs: rows the model reads, targets it is scored on."""

from collections.abc import Callable
from dataclasses import dataclass

import torch

from promptbank.backbones import Backbone
from promptbank.scoring.inputs import scatter_scores


@dataclass(frozen=True)
class RowItem:
    """An example as distinct token rows; a candidate's score sums log-probs of its target tokens."""

    rows: tuple[tuple[int, ...], ...]
    targets: tuple[tuple[int, int, int, int], ...]  # (row, position in row, token id, candidate)
    n_candidates: int
    label: int
    per_token: bool = False  # a candidate's score is its mean log-prob per token (length-normalised), not the sum

    @property
    def length(self) -> int:
        return max(len(r) for r in self.rows)

    def candidate_lengths(self) -> list[int]:
        lengths = [0] * self.n_candidates
        for *_, candidate in self.targets:
            lengths[candidate] += 1
        return lengths

    @property
    def n_rows(self) -> int:
        return len(self.rows)


# (backbone, prompts (P, L, d), prompt of each row, rows, row index, position in row) -> logits there
LogitsAt = Callable[[Backbone, torch.Tensor, torch.Tensor, list[tuple[int, ...]], torch.Tensor, torch.Tensor],
                    torch.Tensor]


def score_rows(backbone: Backbone, prompts: torch.Tensor, prompt_of: torch.Tensor, items: list[RowItem],
               logits_at: LogitsAt) -> torch.Tensor:
    rows, row_example, targets = [], [], []
    for i, item in enumerate(items):
        base = len(rows)
        rows.extend(item.rows)
        row_example.extend([i] * len(item.rows))
        targets.extend((base + r, p, t, i, c) for r, p, t, c in item.targets)
    # one tensor split into its columns, and one for the rows' prompts: few ops (launches on an accelerator)
    row, position, token, example, candidate = torch.tensor(targets, device=backbone.device).unbind(1)
    owner = prompt_of.tolist()
    row_prompt = torch.tensor([owner[e] for e in row_example])  # on the CPU, to index prompts wherever they are
    logits = logits_at(backbone, prompts, row_prompt, rows, row, position).float()
    logp = logits.log_softmax(-1).gather(1, token.unsqueeze(1)).squeeze(1)
    scores = scatter_scores(len(items), [item.n_candidates for item in items], example, candidate, logp)
    return per_token(scores, items, [item.candidate_lengths() for item in items])


def per_token(scores: torch.Tensor, items: list, lengths: list[list[int]]) -> torch.Tensor:
    """Scores (examples, candidates) divided by each candidate's length in tokens where an item asks for it (a
    multiple-choice task scored by `mean`): a longer answer no longer loses for its length alone."""
    if not any(item.per_token for item in items):
        return scores
    width = scores.shape[1]
    divisor = [[max(n, 1) for n in row] + [1] * (width - len(row)) if item.per_token else [1] * width
               for item, row in zip(items, lengths)]
    return scores / torch.tensor(divisor, dtype=scores.dtype, device=scores.device)
