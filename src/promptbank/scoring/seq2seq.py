"""Encoder-decoder LMs: the encoder reads [prompt ; input] once; each candidate is scored by the
decoder's summed log-likelihood of its tokens (end-of-sequence included, so a candidate that is a prefix
of another is not favoured)."""

from dataclasses import dataclass

import torch
from transformers.modeling_outputs import BaseModelOutput

from promptbank.backbones import Backbone
from promptbank.scoring.inputs import prompted_inputs, scatter_scores
from promptbank.scoring.rows import per_token


@dataclass(frozen=True)
class Seq2SeqItem:
    source: tuple[int, ...]
    answers: tuple[tuple[int, ...], ...]  # decoder target ids of each candidate
    n_candidates: int
    label: int
    per_token: bool = False  # see scoring.rows.RowItem
    n_rows = 1  # the model reads the source once, whatever the candidates

    @property
    def length(self) -> int:
        return len(self.source)


def encode(backbone: Backbone, text: str, candidates: tuple[str, ...], label: int) -> Seq2SeqItem:
    tokenizer = backbone.tokenizer
    answers = tuple(tuple(tokenizer(candidate)["input_ids"]) for candidate in candidates)
    return Seq2SeqItem(tuple(tokenizer(text)["input_ids"]), answers, len(candidates), label)


def score(backbone: Backbone, prompts: torch.Tensor, prompt_of: torch.Tensor,
          items: list[Seq2SeqItem]) -> torch.Tensor:
    model, config = backbone.model, backbone.model.config
    embeds, mask = prompted_inputs(backbone, prompts[prompt_of], [item.source for item in items])
    encoded = model.get_encoder()(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
    pairs = [(i, c) for i, item in enumerate(items) for c in range(item.n_candidates)]
    answers = [items[i].answers[c] for i, c in pairs]
    width = max(len(a) for a in answers)
    labels = torch.full((len(pairs), width), -100, dtype=torch.long)
    for k, answer in enumerate(answers):
        labels[k, :len(answer)] = torch.tensor(answer)
    start = torch.full((len(pairs), 1), config.decoder_start_token_id, dtype=torch.long)
    decoder_ids = torch.cat([start, labels[:, :-1].masked_fill(labels[:, :-1] == -100, config.pad_token_id)], dim=1)
    example = torch.tensor([i for i, _ in pairs], device=encoded.device)
    logits = model(encoder_outputs=BaseModelOutput(last_hidden_state=encoded[example]), attention_mask=mask[example],
                   decoder_input_ids=decoder_ids.to(encoded.device)).logits.float()
    labels = labels.to(encoded.device)
    logp = logits.log_softmax(-1).gather(2, labels.clamp(min=0)[..., None]).squeeze(2)
    per_pair = (logp * (labels != -100)).sum(1)
    candidate = torch.tensor([c for _, c in pairs], device=encoded.device)
    scores = scatter_scores(len(items), [item.n_candidates for item in items], example, candidate, per_pair)
    return per_token(scores, items, [[len(answer) for answer in item.answers] for item in items])
