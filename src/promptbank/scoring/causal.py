"""Causal LMs: a candidate's score is the summed log-likelihood of its tokens after the input.

Each candidate is read as input + candidate[:-1]; the last candidate token is never an input, so all
single-token candidates share one sequence and one forward pass, and the LM head runs only at the
positions that are scored, not over the whole sequence.

The prompt comes first and a causal model's prompt positions attend only to the prompt, so their
keys and values are the same in every row that carries that prompt: they are computed once per distinct
prompt (with gradients when training) and shared as a cache, and the model then reads only the
rows' own tokens. On rows of 30 tokens behind a 20-token prompt that is 40% less work.
"""

import torch

from promptbank.backbones import Backbone
from promptbank.scoring.inputs import token_inputs
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


def _logits_at(backbone: Backbone, prompts: torch.Tensor, row_prompt: torch.Tensor, rows: list[tuple[int, ...]],
               row: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
    model = backbone.model.base_model
    tokens, mask = token_inputs(backbone, rows, prompts.shape[1])
    prefix = None  # an empty prompt (the template alone, the floor a prompt must beat) has nothing to cache
    if prompts.shape[1]:
        embeds = prompts.to(device=tokens.device, dtype=tokens.dtype)
        prefix = model(inputs_embeds=embeds, use_cache=True).past_key_values
        prefix.batch_select_indices(row_prompt.to(tokens.device))
    hidden = model(inputs_embeds=tokens, attention_mask=mask, past_key_values=prefix).last_hidden_state
    logits = backbone.model.get_output_embeddings()(hidden[row, position])
    cap = getattr(backbone.model.config, "final_logit_softcapping", None)
    return torch.tanh(logits / cap) * cap if cap else logits


def score(backbone: Backbone, prompts: torch.Tensor, prompt_of: torch.Tensor, items: list[RowItem]) -> torch.Tensor:
    return score_rows(backbone, prompts, prompt_of, items, _logits_at)
