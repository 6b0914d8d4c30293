"""Causal LMs: a candidate's score is the summed log-likelihood of its tokens after the input.

Each candidate is read as input + candidate[:-1]; the last candidate token is never an input, so all
single-token candidates share one sequence and one forward pass, and the LM head runs only at the
positions that are scored, not over the whole sequence.
"""

import torch

from promptbank.backbones import Backbone
from promptbank.scoring.rows import RowItem, score_rows


def encode(backbone: Backbone, text: str, candidates: tuple[str, ...], label: int) -> RowItem:
    tokenizer = backbone.tokenizer
    ids = tokenizer(text)["input_ids"]
    rows: dict[tuple[int, ...], int] = {}
    targets = []
    for c, candidate in enumerate(candidates):
        answer = tokenizer(" " + candidate, add_special_tokens=False)["input_ids"]
        row = rows.setdefault(tuple(ids + answer[:-1]), len(rows))
        targets.extend((row, len(ids) - 1 + j, token, c) for j, token in enumerate(answer))
    return RowItem(tuple(rows), tuple(targets), len(candidates), label)


def _logits_at(backbone: Backbone, embeds: torch.Tensor, mask: torch.Tensor, row: torch.Tensor,
               position: torch.Tensor) -> torch.Tensor:
    hidden = backbone.model.base_model(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
    logits = backbone.model.get_output_embeddings()(hidden[row, position])
    cap = getattr(backbone.model.config, "final_logit_softcapping", None)
    return torch.tanh(logits / cap) * cap if cap else logits


def score(backbone: Backbone, prompts: torch.Tensor, items: list[RowItem]) -> torch.Tensor:
    return score_rows(backbone, prompts, items, _logits_at)
