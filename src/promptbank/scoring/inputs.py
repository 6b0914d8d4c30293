"""Prepending soft prompts to token embeddings: the one place where a prompt meets the model."""

import torch

from promptbank.backbones import Backbone


def prompted_inputs(backbone: Backbone, prompts: torch.Tensor,
                    rows: list[tuple[int, ...]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings [prompt ; tokens] and their attention mask, right-padded to the longest row.

    `prompts` is (R, L, d), one prompt per row, kept in float32 for the optimiser and cast to the
    model's dtype here. The prompt comes first, before any special token, as PEFT's prompt tuning does,
    so a prompt exported to PEFT gives the same scores.
    """
    n_rows, length = len(rows), max(len(r) for r in rows)
    ids = torch.full((n_rows, length), backbone.tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros(n_rows, prompts.shape[1] + length, dtype=torch.long)
    mask[:, :prompts.shape[1]] = 1
    for i, row in enumerate(rows):
        ids[i, :len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, prompts.shape[1]:prompts.shape[1] + len(row)] = 1
    device = backbone.device
    tokens = backbone.embed(ids.to(device))
    embeds = torch.cat([prompts.to(device=device, dtype=tokens.dtype), tokens], dim=1)
    return embeds, mask.to(device)


def scatter_scores(n_examples: int, n_candidates: list[int], example: torch.Tensor, candidate: torch.Tensor,
                   values: torch.Tensor) -> torch.Tensor:
    """Sum per-token values into an (examples, max candidates) float32 matrix; absent candidates get -inf."""
    width = max(n_candidates)
    out = torch.zeros(n_examples, width, dtype=torch.float32, device=values.device)
    out.index_put_((example, candidate), values.float(), accumulate=True)
    counts = torch.tensor(n_candidates, device=values.device)
    absent = torch.arange(width, device=values.device)[None, :] >= counts[:, None]
    return out.masked_fill(absent, float("-inf"))
