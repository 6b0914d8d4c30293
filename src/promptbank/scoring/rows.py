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

    @property
    def length(self) -> int:
        return max(len(r) for r in self.rows)

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
    return scatter_scores(len(items), [item.n_candidates for item in items], example, candidate, logp)
