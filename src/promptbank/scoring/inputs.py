"""Prepending soft prompts to token embeddings: the one place where a prompt meets the model."""

import torch

from promptbank.backbones import Backbone


def token_inputs(backbone: Backbone, rows: list[tuple[int, ...]],
                 prefix_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token embeddings of `rows`, right-padded to the longest, and the attention mask of
    [prefix ; tokens] for a prefix of `prefix_length` positions that every row sees in full. Built with a
    handful of ops whatever the number of rows (each op is a kernel launch on an accelerator)."""
    length, pad = max(len(r) for r in rows), backbone.tokenizer.pad_token_id
    ids = torch.tensor([list(row) + [pad] * (length - len(row)) for row in rows], dtype=torch.long)
    lengths = torch.tensor([prefix_length + len(row) for row in rows])
    mask = (torch.arange(prefix_length + length)[None, :] < lengths[:, None]).long()
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
