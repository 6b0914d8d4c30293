"""Masked LMs: a candidate of n tokens is scored at n mask tokens after the input (summed log-probs)."""

import torch

from promptbank.backbones import Backbone
from promptbank.scoring.inputs import prompted_inputs
from promptbank.scoring.rows import RowItem, score_rows


def encode(backbone: Backbone, text: str, candidates: tuple[str, ...], label: int) -> RowItem:
    tokenizer = backbone.tokenizer
    rows: dict[tuple[int, ...], int] = {}
    targets = []
    for c, candidate in enumerate(candidates):
        answer = tokenizer(" " + candidate, add_special_tokens=False)["input_ids"]
        full = tokenizer(text + " " + " ".join([tokenizer.mask_token] * len(answer)))["input_ids"]
        masks = [k for k, token in enumerate(full) if token == tokenizer.mask_token_id][-len(answer):]
        row = rows.setdefault(tuple(full), len(rows))
        targets.extend((row, position, token, c) for position, token in zip(masks, answer))
    return RowItem(tuple(rows), tuple(targets), len(candidates), label)


def _logits_at(backbone: Backbone, prompts: torch.Tensor, row_prompt: torch.Tensor, rows: list[tuple[int, ...]],
               row: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
    embeds, mask = prompted_inputs(backbone, prompts[row_prompt], rows)
    return backbone.model(inputs_embeds=embeds, attention_mask=mask).logits[row, prompts.shape[1] + position]


def score(backbone: Backbone, prompts: torch.Tensor, prompt_of: torch.Tensor, items: list[RowItem]) -> torch.Tensor:
    return score_rows(backbone, prompts, prompt_of, items, _logits_at)
