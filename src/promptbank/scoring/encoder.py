"""Encoders without an LM head (sentence encoders): score = cosine between the mean-pooled embedding of
[prompt ; input] and the mean-pooled embedding of each candidate's text, divided by a temperature.

The candidates' embeddings do not depend on the prompt (the model is frozen), so they are computed once
per backbone and cached.
"""

import weakref
from dataclasses import dataclass

import torch

from promptbank.backbones import Backbone
from promptbank.scoring.inputs import prompted_inputs

TEMPERATURE = 0.05  # turns cosines in [-1, 1] into logits sharp enough for cross-entropy
_label_cache: "weakref.WeakKeyDictionary[torch.nn.Module, dict[str, torch.Tensor]]" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class EncoderItem:
    source: tuple[int, ...]
    candidates: tuple[str, ...]
    label: int
    n_rows = 1  # the model reads the source once, whatever the candidates

    @property
    def n_candidates(self) -> int:
        return len(self.candidates)

    @property
    def length(self) -> int:
        return len(self.source)


def encode(backbone: Backbone, text: str, candidates: tuple[str, ...], label: int) -> EncoderItem:
    return EncoderItem(tuple(backbone.tokenizer(text)["input_ids"]), candidates, label)


def _pooled(backbone: Backbone, embeds: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    hidden = backbone.model(inputs_embeds=embeds, attention_mask=mask).last_hidden_state.float()
    weights = mask[..., None].float()
    return torch.nn.functional.normalize((hidden * weights).sum(1) / weights.sum(1), dim=-1)


def candidate_embeddings(backbone: Backbone, texts: list[str]) -> torch.Tensor:
    cache = _label_cache.setdefault(backbone.model, {})
    missing = sorted({t for t in texts if t not in cache})
    if missing:
        ids = [tuple(backbone.tokenizer(t)["input_ids"]) for t in missing]
        empty = torch.zeros(len(ids), 0, backbone.hidden_size)
        with torch.no_grad():
            vectors = _pooled(backbone, *prompted_inputs(backbone, empty, ids))
        cache.update(zip(missing, vectors))
    return torch.stack([cache[t] for t in texts])


def score(backbone: Backbone, prompts: torch.Tensor, prompt_of: torch.Tensor,
          items: list[EncoderItem]) -> torch.Tensor:
    inputs = _pooled(backbone, *prompted_inputs(backbone, prompts[prompt_of], [item.source for item in items]))
    width = max(item.n_candidates for item in items)
    out = torch.full((len(items), width), float("-inf"), device=inputs.device)
    for i, item in enumerate(items):
        out[i, :item.n_candidates] = candidate_embeddings(backbone, list(item.candidates)) @ inputs[i] / TEMPERATURE
    return out
