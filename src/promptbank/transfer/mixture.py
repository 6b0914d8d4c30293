"""Learned mixtures over the bank: the target's prompt is its own trainable prompt plus a trained combination of
the top-k sources' frozen task vectors,

    P = P_target + s · Σ_i softmax(α)_i Δ_i,

so training chooses how much of each source to take (α, and the scale s) while the target prompt learns what no
source has. It is a prompt parameterisation: the one loop trains it like any other, and `prompt()` folds it into
a plain (L, d) prompt for the bank and PEFT files. α starts uniform and s at 1: the start is the target's init plus
the sources' mean task vector.

AdamW moves every parameter by about the learning rate per step, which suits a prompt at its embedding scale but is
slow for mixing logits of order 1; α and log s are therefore read through a gain (`MIX_GAIN`), so they move about
`MIX_GAIN` times as far per step.

`AttentionMixture` is the per-example variant (ATTEMPT): the weights depend on each input.
"""

from __future__ import annotations

import torch

from promptbank.backbones import Backbone
from promptbank.scoring.causal import shared_length
from promptbank.tuning.loop import Job
from promptbank.tuning.params import PromptParams
from promptbank.tuning.prompt import SoftPrompt

MIX_GAIN = 10.0


class LearnedMixture(PromptParams):
    """P_target + s · Σ softmax(α)_i Δ_i over frozen task vectors `deltas` (k, L, d); `start` is P_target's init."""

    def __init__(self, start: SoftPrompt, deltas: torch.Tensor, learn_scale: bool = True) -> None:
        super().__init__()
        if deltas.dim() != 3 or deltas.shape[1:] != start.tensor.shape:
            raise ValueError(f"The task vectors {tuple(deltas.shape)} do not fit a prompt of shape "
                             f"{tuple(start.tensor.shape)}.")
        self.start = start
        self.weights = torch.nn.Parameter(start.tensor.detach().clone().float())
        self.alpha = torch.nn.Parameter(torch.zeros(len(deltas)))
        self.log_scale = torch.nn.Parameter(torch.zeros(()), requires_grad=learn_scale)
        self.register_buffer("deltas", deltas.detach().float().clone())

    def mixture(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The sources' weights (they sum to 1) and the scale applied to their mixed task vector."""
        return torch.softmax(MIX_GAIN * self.alpha, dim=0), torch.exp(MIX_GAIN * self.log_scale)

    def mixed(self) -> torch.Tensor:
        weights, scale = self.mixture()
        return self.weights + scale * torch.einsum("k,kld->ld", weights, self.deltas)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.mixed().unsqueeze(0).expand(len(rows), -1, -1)

    def prompt(self) -> torch.Tensor:
        with torch.no_grad():
            return self.mixed()

    def learned(self) -> dict[str, list[float] | float]:
        """What training chose, for the lineage: each source's weight, and the scale."""
        with torch.no_grad():
            weights, scale = self.mixture()
        return {"learned_weights": [round(w, 6) for w in weights.tolist()], "learned_scale": round(float(scale), 6)}


def input_features(backbone: Backbone, items: list) -> torch.Tensor:
    """Each item's input as ATTEMPT reads it: its input token embeddings max-pooled, (items, d), in units of their
    RMS so that the attention works at one scale on any backbone. The input is the tokens every candidate row of
    the item shares (a single row is all input)."""
    pooled = []
    with torch.inference_mode():
        for item in items:
            tokens = item.source if hasattr(item, "source") else item.rows[0][:shared_length(list(item.rows))]
            pooled.append(backbone.embed(torch.tensor(tokens or [0], device=backbone.device)).float().amax(0).cpu())
    features = torch.stack(pooled)
    return features / features.pow(2).mean().sqrt().clamp_min(1e-8)


class AttentionMixture(LearnedMixture):
    """The per-example learned mixture of ATTEMPT (Asai et al. 2022): each input weighs the sources' task vectors
    by an attention between its max-pooled input embeddings x and the max-pooled task vectors,

        P(x) = P_target + s · Σ_i softmax(α + K h(x))_i Δ_i,   h(x) = W_up silu(W_down x),

    K the sources' max-pooled task vectors at unit norm, the input's term divided by √d: AdamW moves each of W_up's
    elements by about the learning rate per step and K h(x) sums d of them, so without it the attention saturated to
    one source for every input (weights (0, 0, 1) on all of rotten_tomatoes after 200 steps); with it, the input's
    term moves about as fast as α does through its gain. W_up starts at zero, so training starts exactly where the
    learned mixture does, and the input-dependent part grows only as far as it pays on the training data. W_down is
    a fixed random map (ATTEMPT trains it): trained at the prompt's learning rate, it drove every input of
    rotten_tomatoes into silu's flat region within 100 steps (the weights' spread over inputs fell below 1e-6), which
    turned the attention back into the learned mixture.

    Its rows are items: `features` holds the train items' then the dev items' inputs (see `job`), and a new input
    gets its prompt from `prompts_for`. `prompt()` is the mean of the train items' prompts (the mixture is linear
    in the weights, so that is the prompt at the train items' mean weights): the one prompt a bank or a PEFT file
    can hold, which loses what depends on the input."""

    def __init__(self, start: SoftPrompt, deltas: torch.Tensor, train_features: torch.Tensor,
                 dev_features: torch.Tensor, bottleneck: int = 32, seed: int = 0) -> None:
        super().__init__(start, deltas)
        self.n_train, self.n_dev = len(train_features), len(dev_features)
        self.register_buffer("features", torch.cat([train_features, dev_features]).float())
        keys = self.deltas.amax(1)
        self.register_buffer("keys", keys / keys.norm(dim=-1, keepdim=True).clamp_min(1e-8))
        generator = torch.Generator().manual_seed(seed)
        d = deltas.shape[-1]
        self.register_buffer("down", (torch.rand(bottleneck, d, generator=generator) * 2 - 1) / d ** 0.5)
        self.up = torch.nn.Parameter(torch.zeros(d, bottleneck))

    def job(self, train_items: list, dev_items: list) -> Job:
        """The training job whose items each read their own row (their own input's prompt)."""
        if (len(train_items), len(dev_items)) != (self.n_train, self.n_dev):
            raise ValueError("The items are not those the attention's features were computed from.")
        return Job(train_items, dev_items, self, rows=tuple(range(self.n_train)),
                   dev_rows=tuple(range(self.n_train, self.n_train + self.n_dev)))

    def attention(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each input's weights over the sources (inputs, k), and the scale."""
        hidden = torch.nn.functional.silu(features @ self.down.T) @ self.up.T
        weights = torch.softmax(MIX_GAIN * self.alpha + hidden @ self.keys.T / self.keys.shape[-1] ** 0.5, dim=-1)
        return weights, torch.exp(MIX_GAIN * self.log_scale)

    def prompts_for(self, features: torch.Tensor) -> torch.Tensor:
        weights, scale = self.attention(features.to(self.features))
        return self.weights + scale * torch.einsum("bk,kld->bld", weights, self.deltas)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.prompts_for(self.features[rows.to(self.features.device)])

    def prompt(self) -> torch.Tensor:
        with torch.no_grad():
            return self.prompts_for(self.features[:self.n_train]).mean(0)

    def learned(self) -> dict[str, list[float] | float]:
        """The lineage's part: the train items' mean weights, the scale, and how far the weights vary by input (the
        mean over sources of their standard deviation over the train items: 0 is the learned mixture)."""
        with torch.no_grad():
            weights, scale = self.attention(self.features[:self.n_train])
        return {"learned_weights": [round(w, 6) for w in weights.mean(0).tolist()],
                "learned_scale": round(float(scale), 6),
                "weights_spread": round(float(weights.std(0, unbiased=False).mean()), 6)}
