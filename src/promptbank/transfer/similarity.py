"""Prompt similarity as task similarity: every metric maps stacked prompts a (N, L, d) and b (M, L, d) to an
(N, M) float32 matrix, as matrix products over row chunks of a: besides one prepared copy of the inputs
(normalised, centred) no intermediate is larger than a (chunk_size, M) block. When a and b are the same
tensor (a bank against itself) only the blocks on and above the diagonal are computed and mirrored, which
halves the work; every metric here is symmetric.

Embedding metrics
- spot-avg-cosine (SPoT, Vu et al. 2110.07904): cosine of the average-pooled prompt tokens;
- spot-token-cosine (SPoT): the average cosine over all token pairs (a_i, b_j). The mean of dot products is
  the dot product of the means, so this is mean_i(â_i) · mean_j(b̂_j) with â the L2-normalised tokens: one
  (N, d) × (d, M) product;
- cosine, euclidean (Su et al. 2111.06719): of the flattened L·d prompts; euclidean similarity is
  1 / (1 + distance);
- token-cosine, token-euclidean (Su et al.): position-aligned, the average over positions l of cos(a_l, b_l)
  and of 1 / (1 + ||a_l − b_l||).
The two SPoT metrics pool over tokens, so they accept prompts of different lengths, and they leave out
all-zero vectors (the padding of the bank's pad length policy), so padding does not change them. The others
compare position by position and need equal lengths.

`dtype=torch.bfloat16` runs the matrix products in bfloat16 (norms, sums and the results stay float32); on
CPUs with AVX512-BF16 that is about twice as fast. The products are rounded to bfloat16's 8-bit mantissa, so
cosines are off by up to ~3e-3 (most where they are near 1) and the euclidean forms, whose norms stay
float32, by ~1e-5 (bench/similarity.py measures both on random and on related prompts). float32 is the
default and what rankings are computed with.

Model metric
- on (Su et al.'s overlapping rate of activated neurons): each prompt is fed alone to the frozen model (to
  the encoder of an encoder-decoder) as inputs_embeds, and every feed-forward layer is read at the input of
  its activation function. A neuron counts as activated on a token when that input is > 0: for the SwiGLU
  FFN of Llama-style models (SmolLM2, the default backbone) and the GeGLU FFN of Gemma the gate projection,
  where SiLU(gate) or GELU(gate) > 0 and the gate opens; for ReLU/GELU FFNs the first projection (BERT
  intermediate.dense, T5 DenseReluDense.wi, GPT-2 mlp.c_fc, OPT fc1), where ReLU and GELU are > 0. A prompt's
  activation state is, per (layer, neuron), the fraction of its tokens on which the neuron is activated
  (all-zero padding vectors are masked out and not counted); ON is the cosine of two prompts' states.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from promptbank.backbones import Backbone
from promptbank.errors import BadArgumentError

CHUNK = 512  # rows per block: (512, M) float32 blocks stay cache-friendly and the symmetric halving near-exact
CLOSE = 0.05  # pairs with squared distance below this share of ||x||² + ||y||² are recomputed exactly
FIXUP_ELEMENTS = 1 << 24  # the exact recomputation takes this many differences at a time (64 MB)
# where an activation function's input is read: the module whose output feeds it, by dotted name suffix
FFN_INPUTS = ("mlp.gate_proj", "intermediate.dense", "DenseReluDense.wi", "DenseReluDense.wi_0", "mlp.c_fc", "fc1")

Parts = tuple[torch.Tensor, ...]


@torch.no_grad()  # similarities are read, never differentiated: no graph, in-place ops allowed
def _pairwise(x: Parts, y: Parts, symmetric: bool, block: Callable[[Parts, Parts], torch.Tensor],
              chunk_size: int) -> torch.Tensor:
    """block(rows of x, y) over row chunks, into one (N, M) float32 matrix; parts are sliced together.

    With `symmetric` (x and y are the same prompts) each chunk is compared only with itself and the rows
    after it, and the transposed block fills the lower triangle.
    """
    if chunk_size < 1:
        raise BadArgumentError(f"chunk_size must be a positive number of rows, not {chunk_size}.")
    n, m = len(x[0]), len(y[0])
    out = torch.empty(n, m)
    if not (n and m):
        return out
    for start in range(0, n, chunk_size):
        stop, first = min(start + chunk_size, n), start if symmetric else 0
        out[start:stop, first:] = block(tuple(t[start:stop] for t in x), tuple(t[first:] for t in y))
        if symmetric:
            out[stop:, start:stop] = out[start:stop, stop:].T
    return out


@torch.no_grad()
def _both(a: torch.Tensor, b: torch.Tensor, prepare: Callable[[torch.Tensor], Parts]) -> tuple[Parts, Parts, bool]:
    """prepare(a) and prepare(b), done once when a is b (which also allows the symmetric shortcut)."""
    x = prepare(a)
    return (x, x, True) if a is b else (x, prepare(b), False)


def _check(a: torch.Tensor, b: torch.Tensor, metric: str, equal_lengths: bool) -> None:
    if a.dim() != 3 or b.dim() != 3 or a.shape[2] != b.shape[2]:
        raise BadArgumentError(f"{metric} compares stacked prompts (N, L, d) and (M, L, d) of one hidden size, not "
                               f"shapes {tuple(a.shape)} and {tuple(b.shape)}.")
    if equal_lengths and a.shape[1] != b.shape[1]:
        raise BadArgumentError(f"{metric} compares prompts position by position and needs equal lengths, not "
                               f"{a.shape[1]} and {b.shape[1]}; stack them with the pad or truncate length policy.")


def _dot_rows(x: Parts, y: Parts) -> torch.Tensor:
    return (x[0] @ y[0].T).float()


def _dots(a: torch.Tensor, b: torch.Tensor, vectors: Callable[[torch.Tensor], torch.Tensor], chunk_size: int,
          dtype: torch.dtype) -> torch.Tensor:
    """Dot products of vectors(a) and vectors(b), each computed once, multiplied in `dtype`."""
    def prepare(t: torch.Tensor) -> Parts:
        return (vectors(t.float()).to(dtype),)
    return _pairwise(*_both(a, b, prepare), _dot_rows, chunk_size)


def _unit(t: torch.Tensor) -> torch.Tensor:
    return F.normalize(t, dim=-1)


def _mean_unit_token(t: torch.Tensor) -> torch.Tensor:
    """The mean of a prompt's L2-normalised tokens, all-zero (padding) vectors left out."""
    counts = (t != 0).any(-1).sum(1).clamp(min=1)
    return _unit(t).sum(1) / counts[:, None]


def spot_avg_cosine(a: torch.Tensor, b: torch.Tensor, chunk_size: int = CHUNK,
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """SPoT: cosine of the mean tokens (zero padding only rescales a mean, so it changes nothing)."""
    _check(a, b, "spot-avg-cosine", equal_lengths=False)
    return _dots(a, b, lambda t: _unit(t.mean(1)), chunk_size, dtype)


def spot_token_cosine(a: torch.Tensor, b: torch.Tensor, chunk_size: int = CHUNK,
                      dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """SPoT: mean cosine over all token pairs, as one product of mean unit tokens (see the module doc)."""
    _check(a, b, "spot-token-cosine", equal_lengths=False)
    return _dots(a, b, _mean_unit_token, chunk_size, dtype)


def cosine(a: torch.Tensor, b: torch.Tensor, chunk_size: int = CHUNK,
           dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Su et al.: cosine of the flattened prompts."""
    _check(a, b, "cosine", equal_lengths=True)
    return _dots(a, b, lambda t: _unit(t.flatten(1)), chunk_size, dtype)


def token_cosine(a: torch.Tensor, b: torch.Tensor, chunk_size: int = CHUNK,
                 dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Su et al.: mean_l cos(a_l, b_l), the dot product of the flattened unit tokens (each scaled by 1/√L)."""
    _check(a, b, "token-cosine", equal_lengths=True)
    return _dots(a, b, lambda t: _unit(t).flatten(1) * t.shape[1] ** -0.5, chunk_size, dtype)


def _distance_parts(dtype: torch.dtype, center: torch.Tensor,
                    vectors: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], Parts]:
    """(vectors in the matmul dtype, in float32, their squared norms), all taken about `center`.

    Distances do not change under a shift, and centring on b's mean makes the norms, and with them the
    rounding error of ||x||² + ||y||² − 2 x·y, as small as the spread of the prompts.
    """
    def prepare(t: torch.Tensor) -> Parts:
        t = vectors(t.float()) - center
        return t.to(dtype), t, (t * t).sum(-1)
    return prepare


def _inverse_distances(x: Parts, y: Parts) -> torch.Tensor:
    """1 / (1 + ||x_n − y_m||) from norms and one matrix product, in place to spare memory traffic.

    ||x||² + ||y||² − 2 x·y cancels badly for near-identical vectors (a prompt and itself would not score 1),
    so the pairs whose squared distance is below CLOSE · (||x||² + ||y||²) are recomputed from their
    difference, a bounded number at a time. Candidates are found against the row's bound with the largest
    ||y||² (one comparison pass), then checked exactly.
    """
    (low_x, exact_x, norms_x), (low_y, exact_y, norms_y) = x, y
    squared = (low_x @ low_y.T).float().mul_(-2).add_(norms_x[:, None]).add_(norms_y[None, :])
    rows, cols = (squared < CLOSE * (norms_x[:, None] + norms_y.max())).nonzero(as_tuple=True)
    close = squared[rows, cols] < CLOSE * (norms_x[rows] + norms_y[cols])
    rows, cols = rows[close], cols[close]
    step = max(1, FIXUP_ELEMENTS // exact_x.shape[1])
    for start in range(0, len(rows), step):
        r, c = rows[start:start + step], cols[start:start + step]
        squared[r, c] = ((exact_x[r] - exact_y[c]) ** 2).sum(-1)
    return squared.clamp_(min=0).sqrt_().add_(1).reciprocal_()


def euclidean(a: torch.Tensor, b: torch.Tensor, chunk_size: int = CHUNK,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Su et al.: 1 / (1 + distance) of the flattened prompts."""
    _check(a, b, "euclidean", equal_lengths=True)
    prepare = _distance_parts(dtype, b.float().flatten(1).mean(0), lambda t: t.flatten(1))
    return _pairwise(*_both(a, b, prepare), _inverse_distances, chunk_size)


def token_euclidean(a: torch.Tensor, b: torch.Tensor, chunk_size: int = CHUNK,
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Su et al.: mean_l 1 / (1 + ||a_l − b_l||), one (chunk, M) distance block per position at a time."""
    _check(a, b, "token-euclidean", equal_lengths=True)
    prepare = _distance_parts(dtype, b.float().mean(0), lambda t: t)

    def block(x: Parts, y: Parts) -> torch.Tensor:
        total = torch.zeros(len(x[0]), len(y[0]))
        for position in range(a.shape[1]):
            total += _inverse_distances(tuple(t[:, position] for t in x), tuple(t[:, position] for t in y))
        return total / a.shape[1]
    return _pairwise(*_both(a, b, prepare), block, chunk_size)


EMBEDDING_METRICS: dict[str, Callable[..., torch.Tensor]] = {
    "spot-avg-cosine": spot_avg_cosine, "spot-token-cosine": spot_token_cosine, "cosine": cosine,
    "euclidean": euclidean, "token-cosine": token_cosine, "token-euclidean": token_euclidean}
MODEL_METRICS = ("on",)
METRICS = (*EMBEDDING_METRICS, *MODEL_METRICS)  # every name similarity_matrix takes
# what a metric compares: task vectors (prompt - the tensor it began from), or the prompts as they are
COMPARED = ("delta", "prompt")


def _ffn_modules(backbone: Backbone) -> list[torch.nn.Module]:
    """The modules whose output is an FFN activation function's input, in layer order (encoder only for seq2seq)."""
    found = [(name, module) for name, module in backbone.model.named_modules()
             if f".{name}".endswith(tuple(f".{suffix}" for suffix in FFN_INPUTS))]
    if backbone.family == "seq2seq":
        found = [(name, module) for name, module in found if "encoder" in name.split(".")]
    if not found:
        raise BadArgumentError(f"The on metric found no feed-forward layers in {backbone.name!r}; it reads modules "
                               f"named {', '.join(FFN_INPUTS)}.")
    return [module for _, module in found]


@torch.no_grad()
def activation_states(backbone: Backbone, prompts: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """(N, layers × FFN width) float32: per neuron, the fraction of the prompt's tokens that activate it.

    Each prompt is its own sequence (attention mask of ones, all-zero padding vectors masked out and not
    counted); the hooks read the FFN activation inputs, which are > 0 exactly where the neuron is activated.
    """
    _check(prompts, prompts, "on", equal_lengths=False)
    tokens: list[torch.Tensor] = []  # the current batch's real-token mask, (B, L, 1)
    captured: list[torch.Tensor] = []

    def record(_module: torch.nn.Module, _inputs: object, output: torch.Tensor) -> None:
        captured.append(((output > 0) & tokens[0]).sum(1).float() / tokens[0].sum(1).clamp(min=1))
    hooks = [module.register_forward_hook(record) for module in _ffn_modules(backbone)]
    model = backbone.model.get_encoder() if backbone.family == "seq2seq" else backbone.model.base_model
    states = []
    try:
        for start in range(0, len(prompts), batch_size):
            batch = prompts[start:start + batch_size].to(device=backbone.device, dtype=backbone.dtype)
            mask = (batch != 0).any(-1)
            tokens[:], captured[:] = [mask[..., None]], []
            model(inputs_embeds=batch, attention_mask=mask.long())
            states.append(torch.cat(captured, dim=1).cpu())
    finally:
        for hook in hooks:
            hook.remove()
    return torch.cat(states) if states else torch.zeros(0, 0)


def on_similarity(backbone: Backbone, a: torch.Tensor, b: torch.Tensor, batch_size: int = 32,
                  chunk_size: int = CHUNK) -> torch.Tensor:
    """Su et al.'s ON: cosine of the prompts' activation states (the module doc defines "activated")."""
    states = activation_states(backbone, a, batch_size)
    other = states if a is b else activation_states(backbone, b, batch_size)
    return _dots(states, other, _unit, chunk_size, torch.float32)


def similarity_matrix(metric: str, a: torch.Tensor, b: torch.Tensor, backbone: Backbone | None = None,
                      chunk_size: int = CHUNK, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The (N, M) float32 matrix of `metric` between stacked prompts a and b; `on` needs the backbone."""
    if metric in MODEL_METRICS:
        if backbone is None:
            raise BadArgumentError(f"The {metric} metric feeds the prompts to the model; give the backbone.")
        return on_similarity(backbone, a, b, chunk_size=chunk_size)
    if metric not in EMBEDDING_METRICS:
        raise BadArgumentError(f"Unknown similarity metric {metric!r}; use one of {', '.join(METRICS)}.")
    return EMBEDDING_METRICS[metric](a, b, chunk_size, dtype)
