"""Prompt similarity as task similarity: every metric maps stacked prompts a (N, L, d) and b (M, L, d) to an
(N, M) matrix, vectorised as matrix products and computed in row chunks (10,000 × 10,000 fits in memory).

Embedding metrics
- spot-avg-cosine (SPoT): cosine of the average-pooled prompt tokens;
- spot-token-cosine (SPoT): the average cosine over all token pairs (a_i, b_j). Since the mean of dot
  products is the dot product of means, this is mean_i(â_i) · mean_j(b̂_j) with â the L2-normalised
  tokens: one (N, d) × (d, M) product;
- cosine, euclidean (Su et al.): of the flattened L·d prompts; euclidean similarity is 1 / (1 + distance);
- token-cosine, token-euclidean (Su et al.): position-aligned, the average over positions l of
  cos(a_l, b_l) and of 1 / (1 + ||a_l − b_l||).
The two SPoT metrics pool over tokens, so they accept prompts of different lengths; the others need equal L.

Model metric
- on (Su et al.'s overlap of activated neurons): each prompt is fed alone to the frozen model (to the
  encoder of an encoder-decoder) and every feed-forward layer's neurons are read at the input of their
  activation function. A neuron counts as activated when that input is > 0: for the SwiGLU FFN of
  Llama-style models (the default backbone) the gate projection, where SiLU(gate) > 0 and the gate is
  open; for ReLU/GELU FFNs the first projection, where ReLU and GELU are > 0. A prompt's activation state
  is, per (layer, neuron), the fraction of its tokens on which the neuron is activated; ON is the cosine
  of two prompts' activation states.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from promptbank.backbones import Backbone
from promptbank.errors import BadArgumentError

CHUNK = 2048
# where the activation function's input is read: the module whose output feeds it, by name suffix
FFN_INPUTS = ("mlp.gate_proj", "intermediate.dense", "DenseReluDense.wi", "DenseReluDense.wi_0", "mlp.c_fc", "fc1")


def _rows(a: torch.Tensor, b: torch.Tensor, pair: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
          chunk_size: int) -> torch.Tensor:
    """pair(a_chunk, b) for row chunks of a, stacked into the (N, M) float32 matrix."""
    if not len(a):
        return torch.zeros(0, len(b))
    return torch.cat([pair(a[i:i + chunk_size], b).float() for i in range(0, len(a), chunk_size)])


def _cosine_rows(x: torch.Tensor, y: torch.Tensor, chunk_size: int, dtype: torch.dtype) -> torch.Tensor:
    x, y = F.normalize(x.float(), dim=-1).to(dtype), F.normalize(y.float(), dim=-1).to(dtype)
    return _rows(x, y, lambda p, q: p @ q.T, chunk_size)


def _equal_lengths(a: torch.Tensor, b: torch.Tensor, metric: str) -> None:
    if a.shape[1:] != b.shape[1:]:
        raise BadArgumentError(f"{metric} compares prompts position by position and needs equal lengths, not "
                               f"{a.shape[1]} and {b.shape[1]}; stack them with the pad or truncate length policy.")


def spot_avg_cosine(a: torch.Tensor, b: torch.Tensor, chunk_size: int = CHUNK,
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return _cosine_rows(a.float().mean(1), b.float().mean(1), chunk_size, dtype)


def spot_token_cosine(a: torch.Tensor, b: torch.Tensor, chunk_size: int = CHUNK,
                      dtype: torch.dtype = torch.float32) -> torch.Tensor:
    mean_a = F.normalize(a.float(), dim=-1).mean(1).to(dtype)
    mean_b = F.normalize(b.float(), dim=-1).mean(1).to(dtype)
    return _rows(mean_a, mean_b, lambda p, q: p @ q.T, chunk_size)


def cosine(a: torch.Tensor, b: torch.Tensor, chunk_size: int = CHUNK,
           dtype: torch.dtype = torch.float32) -> torch.Tensor:
    _equal_lengths(a, b, "cosine")
    return _cosine_rows(a.flatten(1), b.flatten(1), chunk_size, dtype)


def _inverse_distance(x: torch.Tensor, y: torch.Tensor, chunk_size: int, dtype: torch.dtype) -> torch.Tensor:
    """1 / (1 + ||x_n − y_m||) from norms and one matrix product: ||x||² + ||y||² − 2 x·y.

    That expansion cancels badly for near-identical vectors (a prompt and itself would score 0.997), so the
    few pairs whose squared distance is tiny next to their norms are recomputed from their difference.
    """
    y, y2 = y.float(), (y.float() ** 2).sum(-1)
    ys = y.to(dtype)

    def pair(p: torch.Tensor, _: torch.Tensor) -> torch.Tensor:
        p = p.float()
        p2 = (p ** 2).sum(-1)
        squared = p2[:, None] + y2[None, :] - 2 * (p.to(dtype) @ ys.T).float()
        rows, cols = (squared < 1e-2 * (p2[:, None] + y2[None, :])).nonzero(as_tuple=True)
        squared[rows, cols] = ((p[rows] - y[cols]) ** 2).sum(-1)
        return 1 / (1 + squared.clamp(min=0).sqrt())
    return _rows(x, y, pair, chunk_size)


def euclidean(a: torch.Tensor, b: torch.Tensor, chunk_size: int = CHUNK,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    _equal_lengths(a, b, "euclidean")
    return _inverse_distance(a.flatten(1), b.flatten(1), chunk_size, dtype)


def token_cosine(a: torch.Tensor, b: torch.Tensor, chunk_size: int = CHUNK,
                 dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """mean_l cos(a_l, b_l) = (flattened normalised tokens of a) · (those of b) / L: one matrix product."""
    _equal_lengths(a, b, "token-cosine")
    x = F.normalize(a.float(), dim=-1).flatten(1).to(dtype)
    y = F.normalize(b.float(), dim=-1).flatten(1).to(dtype)
    return _rows(x, y, lambda p, q: p @ q.T, chunk_size) / a.shape[1]


def token_euclidean(a: torch.Tensor, b: torch.Tensor, chunk_size: int = CHUNK,
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    _equal_lengths(a, b, "token-euclidean")
    return sum(_inverse_distance(a[:, l], b[:, l], chunk_size, dtype) for l in range(a.shape[1])) / a.shape[1]


EMBEDDING_METRICS: dict[str, Callable[..., torch.Tensor]] = {
    "spot-avg-cosine": spot_avg_cosine, "spot-token-cosine": spot_token_cosine, "cosine": cosine,
    "euclidean": euclidean, "token-cosine": token_cosine, "token-euclidean": token_euclidean}
METRICS = (*EMBEDDING_METRICS, "on")


def _ffn_modules(backbone: Backbone) -> list[torch.nn.Module]:
    found = [(name, module) for name, module in backbone.model.named_modules() if name.endswith(FFN_INPUTS)]
    if backbone.family == "seq2seq":
        found = [(name, module) for name, module in found if "encoder" in name]
    if not found:
        raise BadArgumentError(f"No feed-forward layers found in {backbone.name!r}; the ON metric reads "
                               f"{', '.join(FFN_INPUTS)}.")
    return [module for _, module in found]


@torch.no_grad()
def activation_states(backbone: Backbone, prompts: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """(N, layers × FFN width): per neuron, the fraction of the prompt's tokens on which it is activated."""
    captured: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: captured.append((out > 0).float().mean(1)))
             for m in _ffn_modules(backbone)]
    encoder = backbone.model.get_encoder() if backbone.family == "seq2seq" else backbone.model.base_model
    states = []
    try:
        for start in range(0, len(prompts), batch_size):
            batch = prompts[start:start + batch_size].to(device=backbone.device, dtype=backbone.dtype)
            captured.clear()
            encoder(inputs_embeds=batch, attention_mask=torch.ones(batch.shape[:2], dtype=torch.long,
                                                                   device=backbone.device))
            states.append(torch.cat(captured, dim=1).cpu())
    finally:
        for hook in hooks:
            hook.remove()
    return torch.cat(states)


def on_similarity(backbone: Backbone, a: torch.Tensor, b: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    return _cosine_rows(activation_states(backbone, a, batch_size), activation_states(backbone, b, batch_size),
                        CHUNK, torch.float32)


def similarity_matrix(metric: str, a: torch.Tensor, b: torch.Tensor, backbone: Backbone | None = None,
                      chunk_size: int = CHUNK, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The (N, M) matrix of `metric` between stacked prompts a and b (`on` needs the backbone)."""
    if metric == "on":
        if backbone is None:
            raise BadArgumentError("The on metric feeds prompts to the model; give the backbone.")
        return on_similarity(backbone, a, b)
    if metric not in EMBEDDING_METRICS:
        raise BadArgumentError(f"Unknown similarity metric {metric!r}; use one of {', '.join(METRICS)}.")
    return EMBEDDING_METRICS[metric](a, b, chunk_size, dtype)
