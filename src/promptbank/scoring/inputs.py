"""Prepending soft prompts to token embeddings: the one place where a prompt meets the model."""

import torch

from promptbank.backbones import Backbone


def token_inputs(backbone: Backbone, rows: list[tuple[int, ...]],
                 prefix_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token embeddings of `rows`, right-padded to the longest, and the attention mask of
    [prefix ; tokens] for a prefix of `prefix_length` positions that every row sees in full."""
    n_rows, length = len(rows), max(len(r) for r in rows)
    ids = torch.full((n_rows, length), backbone.tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros(n_rows, prefix_length + length, dtype=torch.long)
    mask[:, :prefix_length] = 1
    for i, row in enumerate(rows):
        ids[i, :len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, prefix_length:prefix_length + len(row)] = 1
    return backbone.embed(ids.to(backbone.device)), mask.to(backbone.device)


def prompted_inputs(backbone: Backbone, prompts: torch.Tensor,
                    rows: list[tuple[int, ...]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings [prompt ; tokens] and their attention mask, right-padded to the longest row.

    `prompts` is (R, L, d), one prompt per row, kept in float32 for the optimiser and cast to the
    model's dtype here. The prompt comes first, before any special token, as PEFT's prompt tuning does,
    so a prompt exported to PEFT gives the same scores.
    """
    tokens, mask = token_inputs(backbone, rows, prompts.shape[1])
    return torch.cat([prompts.to(device=tokens.device, dtype=tokens.dtype), tokens], dim=1), mask


def scatter_scores(n_examples: int, n_candidates: list[int], example: torch.Tensor, candidate: torch.Tensor,
                   values: torch.Tensor) -> torch.Tensor:
    """Sum per-token values into an (examples, max candidates) float32 matrix; absent candidates get -inf."""
    width = max(n_candidates)
    out = torch.zeros(n_examples, width, dtype=torch.float32, device=values.device)
    out.index_put_((example, candidate), values.float(), accumulate=True)
    counts = torch.tensor(n_candidates, device=values.device)
    absent = torch.arange(width, device=values.device)[None, :] >= counts[:, None]
    return out.masked_fill(absent, float("-inf"))
