"""Causal LMs: a candidate's score is the summed log-likelihood of its tokens after the input.

Each candidate is read as input + candidate[:-1]; the last candidate token is never an input, so all
single-token candidates share one sequence and one forward pass, and the LM head runs only at the
positions that are scored, not over the whole sequence.

Nothing a causal model computes at a position depends on what comes after it, so work shared by rows is done
once and handed on as a key/value cache:
- the prompt comes first, so its keys and values are the same in every row that carries it: they are computed
  once per distinct prompt (with gradients when training);
- an example's candidates share its input, so the input is read once per example and only each candidate's own
  tokens are read per candidate. On multiple choice with answer texts (3 answers of a few tokens behind a
  60-token question, say) that is most of the work.

That shared-cache path saves compute at the price of up to three model passes and cache selection per batch. On an
accelerator compute is what there is to spare and every pass costs kernel launches, so there each row is read as
one sequence [prompt ; input ; candidate] in a single pass instead (the one-pass path). `scoring_path` chooses;
both give the same scores up to float rounding.
"""

import os
from functools import partial

import torch

from promptbank.backbones import Backbone
from promptbank.errors import BadArgumentError
from promptbank.scoring.inputs import prompted_inputs, token_inputs
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


SCORING_PATHS = ("auto", "one-pass", "shared-cache")


def scoring_path(backbone: Backbone) -> str:
    """The causal scoring path in force: $PROMPTBANK_SCORING_PATH (what `--scoring-path` sets), else auto: one pass
    on an accelerator, where launches cost more than the compute the shared cache saves; the shared cache on a CPU,
    where compute dominates."""
    chosen = os.environ.get("PROMPTBANK_SCORING_PATH") or "auto"
    if chosen not in SCORING_PATHS:
        raise BadArgumentError(f"The scoring path must be one of {', '.join(SCORING_PATHS)}, not {chosen!r}.")
    if chosen == "auto":
        return "shared-cache" if backbone.device.type == "cpu" else "one-pass"
    return chosen


def shared_length(rows: list[tuple[int, ...]]) -> int:
    """Length of the longest prefix all `rows` share (a single row shares all of itself)."""
    shortest = min(len(r) for r in rows)
    return next((k for k in range(shortest) if len({r[k] for r in rows}) > 1), shortest)


def _sliding(backbone: Backbone) -> bool:
    return "sliding_attention" in (getattr(backbone.model.config, "layer_types", None) or ())


def _suffix_mask(backbone: Backbone, prefix_length: int, shared: torch.Tensor, context_width: int,
                 suffix_lengths: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor]:
    """Additive 4D mask of suffix rows over [prompt ; padded context ; suffix]: a suffix token sees the prompt,
    its example's real context tokens and its own earlier tokens, never padding. Rows are read this way only
    when they fit a sliding window, so sliding-window layers get the same mask."""
    n, width = len(shared), int(suffix_lengths.max())
    device = backbone.device
    context, suffix = torch.arange(context_width, device=device), torch.arange(width, device=device)
    real = torch.cat([torch.ones(n, prefix_length, dtype=torch.bool, device=device),
                      context[None, :] < shared[:, None], suffix[None, :] < suffix_lengths[:, None]], dim=1)
    seen = real[:, None, :].repeat(1, width, 1)
    seen[:, :, prefix_length + context_width:] &= torch.ones(width, width, dtype=torch.bool, device=device).tril()
    # a padded query position would see nothing: give it its own key so no row of the softmax is empty
    seen[:, :, prefix_length + context_width:] |= torch.eye(width, dtype=torch.bool, device=device)
    mask = torch.zeros(seen.shape, dtype=backbone.dtype, device=device).masked_fill(
        ~seen, torch.finfo(backbone.dtype).min)[:, None]
    return {"full_attention": mask, "sliding_attention": mask} if _sliding(backbone) else mask


def _logits_at(backbone: Backbone, prompts: torch.Tensor, row_prompt: torch.Tensor, rows: list[tuple[int, ...]],
               row: torch.Tensor, position: torch.Tensor, row_example: list[int]) -> torch.Tensor:
    model, device, length = backbone.model.base_model, backbone.device, prompts.shape[1]
    if _sliding(backbone) and length + max(len(r) for r in rows) >= backbone.model.config.sliding_window - 1:
        row_example = list(range(len(rows)))  # a sliding-window cache keeps too little to read on from: one pass
    # each example's input, read once: the prefix its rows share
    groups: dict[int, list[int]] = {}
    for r, e in enumerate(row_example):
        groups.setdefault(e, []).append(r)
    shared_of = {e: shared_length([rows[r] for r in group]) for e, group in groups.items()}
    tokens, mask = token_inputs(backbone, [rows[group[0]][:shared_of[e]] for e, group in groups.items()], length)
    prefix = None  # an empty prompt (the template alone, the floor a prompt must beat) has nothing to cache
    if length:
        embeds = prompts.to(device=tokens.device, dtype=tokens.dtype)
        prefix = model(inputs_embeds=embeds, use_cache=True).past_key_values
        prefix.batch_select_indices(row_prompt[[group[0] for group in groups.values()]].to(device))
    read = model(inputs_embeds=tokens, attention_mask=mask, past_key_values=prefix, use_cache=True)
    index_of = {e: k for k, e in enumerate(groups)}
    context_of_row = torch.tensor([index_of[e] for e in row_example], device=device)
    shared_list = [shared_of[e] for e in row_example]
    shared = torch.tensor(shared_list, device=device)
    row, position = row.to(device), position.to(device)
    hidden = read.last_hidden_state[context_of_row[row], position.clamp(max=tokens.shape[1] - 1)]
    # each candidate's own tokens, read after its example's cached input
    longer = [r for r in range(len(rows)) if len(rows[r]) > shared_list[r]]
    if longer:
        cache = read.past_key_values
        cache.batch_select_indices(context_of_row[longer])
        suffix_tokens, _ = token_inputs(backbone, [rows[r][shared_list[r]:] for r in longer], 0)
        lengths = torch.tensor([len(rows[r]) for r in longer], device=device) - shared[longer]
        positions = length + shared[longer][:, None] + torch.arange(suffix_tokens.shape[1], device=device)[None, :]
        suffix_hidden = model(inputs_embeds=suffix_tokens, position_ids=positions, past_key_values=cache,
                              attention_mask=_suffix_mask(backbone, length, shared[longer], tokens.shape[1], lengths)
                              ).last_hidden_state
        slot = torch.zeros(len(rows), dtype=torch.long, device=device)
        slot[longer] = torch.arange(len(longer), device=device)
        after = position - shared[row]
        hidden = torch.where((after >= 0)[:, None], suffix_hidden[slot[row], after.clamp(min=0)], hidden)
    return _head(backbone, hidden)


def _head(backbone: Backbone, hidden: torch.Tensor) -> torch.Tensor:
    """The LM head at the scored positions only (with the model's logit soft-capping, where it has one)."""
    logits = backbone.model.get_output_embeddings()(hidden)
    cap = getattr(backbone.model.config, "final_logit_softcapping", None)
    return torch.tanh(logits / cap) * cap if cap else logits


def _one_pass_logits(backbone: Backbone, prompts: torch.Tensor, row_prompt: torch.Tensor, rows: list[tuple[int, ...]],
                     row: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
    """Every row read whole, [prompt ; row], in one pass."""
    per_row = prompts.expand(len(rows), -1, -1) if len(prompts) == 1 else prompts[row_prompt]  # expand: no copy
    embeds, mask = prompted_inputs(backbone, per_row, rows)
    hidden = backbone.model.base_model(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
    return _head(backbone, hidden[row.to(backbone.device), prompts.shape[1] + position.to(backbone.device)])


def score(backbone: Backbone, prompts: torch.Tensor, prompt_of: torch.Tensor, items: list[RowItem]) -> torch.Tensor:
    if scoring_path(backbone) == "one-pass":
        return score_rows(backbone, prompts, prompt_of, items, _one_pass_logits)
    row_example = [i for i, item in enumerate(items) for _ in item.rows]
    return score_rows(backbone, prompts, prompt_of, items, partial(_logits_at, row_example=row_example))
