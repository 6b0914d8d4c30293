"""Every similarity metric against a per-pair reference written the slow, obvious way."""

import pytest
import torch
import torch.nn.functional as F

from promptbank.backbones import Backbone, load_backbone
from promptbank.errors import BadArgumentError
from promptbank.experiments.plots import curves, heatmap
from promptbank.transfer.similarity import EMBEDDING_METRICS, METRICS, activation_states, similarity_matrix
from promptbank.tuning.init import init_prompt

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def reference(metric: str, p: torch.Tensor, q: torch.Tensor) -> float:
    """One pair of (L, d) prompts, pair by pair and token by token."""
    if metric == "spot-avg-cosine":
        return F.cosine_similarity(p.mean(0), q.mean(0), dim=0).item()
    if metric == "spot-token-cosine":  # every token of p against every token of q
        return sum(F.cosine_similarity(x, y, dim=0).item() for x in p for y in q) / (len(p) * len(q))
    if metric == "cosine":
        return F.cosine_similarity(p.flatten(), q.flatten(), dim=0).item()
    if metric == "euclidean":
        return 1 / (1 + (p.flatten() - q.flatten()).norm().item())
    if metric == "token-cosine":
        return sum(F.cosine_similarity(x, y, dim=0).item() for x, y in zip(p, q)) / len(p)
    return sum(1 / (1 + (x - y).norm().item()) for x, y in zip(p, q)) / len(p)


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def reference_matrix(metric: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.tensor([[reference(metric, p.double(), q.double()) for q in b] for p in a], dtype=torch.float32)


@pytest.mark.parametrize("metric", list(EMBEDDING_METRICS))
def test_metric_matches_the_per_pair_definition(metric):
    a, b = randn(4, 5, 8, seed=0), randn(3, 5, 8, seed=1)
    matrix = similarity_matrix(metric, a, b)
    assert matrix.shape == (4, 3) and matrix.dtype == torch.float32
    torch.testing.assert_close(matrix, reference_matrix(metric, a, b), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(similarity_matrix(metric, a, b, chunk_size=1), matrix)  # chunking changes nothing
    torch.testing.assert_close(similarity_matrix(metric, b, a), matrix.T, atol=1e-6, rtol=1e-6)  # symmetric


@pytest.mark.parametrize("metric", list(EMBEDDING_METRICS))
def test_a_set_against_itself_mirrors_the_upper_triangle(metric):
    a = randn(7, 5, 8)
    expected = reference_matrix(metric, a, a)
    for chunk_size in (1, 3, 512):  # the shortcut (a is b) against the full computation on a copy
        torch.testing.assert_close(similarity_matrix(metric, a, a, chunk_size=chunk_size), expected, atol=1e-5,
                                   rtol=1e-5)
        torch.testing.assert_close(similarity_matrix(metric, a, a.clone(), chunk_size=chunk_size), expected,
                                   atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("metric", [m for m in EMBEDDING_METRICS if m != "spot-token-cosine"])
def test_identical_prompts_score_one(metric):
    """(spot-token-cosine is excluded by definition: a prompt's tokens are not all alike, so it is < 1.)"""
    a = randn(4, 5, 8) * 30 + 100  # large norms make ||x||² + ||y||² − 2x·y cancel worst
    for b in (a, a.clone()):
        torch.testing.assert_close(similarity_matrix(metric, a, b).diagonal(), torch.ones(4), atol=1e-5, rtol=0)


@pytest.mark.parametrize("metric", ["euclidean", "token-euclidean"])
def test_euclidean_of_near_identical_prompts_is_exact(metric):
    a = randn(3, 5, 8) * 30 + 100
    b = a + 1e-3 * randn(3, 5, 8, seed=1)
    torch.testing.assert_close(similarity_matrix(metric, a, b), reference_matrix(metric, a, b), atol=1e-6, rtol=1e-6)


def test_pooled_metrics_take_any_lengths_and_ignore_zero_padding():
    a, b = randn(2, 5, 8), randn(3, 7, 8, seed=1)
    padded = torch.cat([a, torch.zeros(2, 2, 8)], dim=1)  # what the bank's pad length policy gives
    for metric in ("spot-avg-cosine", "spot-token-cosine"):
        matrix = similarity_matrix(metric, a, b)
        torch.testing.assert_close(matrix, reference_matrix(metric, a, b), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(similarity_matrix(metric, padded, b), matrix)


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "token-cosine", "token-euclidean"])
def test_position_wise_metrics_refuse_unequal_lengths(metric):
    with pytest.raises(BadArgumentError, match="equal lengths.*pad or truncate"):
        similarity_matrix(metric, randn(2, 5, 8), randn(3, 7, 8))


def test_mistakes_are_one_sentence_errors():
    a = randn(2, 5, 8)
    with pytest.raises(BadArgumentError, match="Unknown similarity metric 'vibes'"):
        similarity_matrix("vibes", a, a)
    with pytest.raises(BadArgumentError, match="give the backbone"):
        similarity_matrix("on", a, a)
    with pytest.raises(BadArgumentError, match="one hidden size"):
        similarity_matrix("cosine", a, randn(2, 5, 9))
    with pytest.raises(BadArgumentError, match="chunk_size"):
        similarity_matrix("cosine", a, a, chunk_size=0)
    assert set(METRICS) == {*EMBEDDING_METRICS, "on"}


def test_prompts_being_trained_can_be_compared():
    a = randn(2, 5, 8).requires_grad_()
    for metric in EMBEDDING_METRICS:
        assert not similarity_matrix(metric, a, randn(3, 5, 8)).requires_grad


def test_empty_sets_give_empty_matrices():
    for metric in EMBEDDING_METRICS:
        assert similarity_matrix(metric, randn(0, 5, 8), randn(3, 5, 8)).shape == (0, 3)
        assert similarity_matrix(metric, randn(2, 5, 8), randn(0, 5, 8)).shape == (2, 0)


def test_bfloat16_is_close_to_float32():
    a, b = randn(20, 20, 64), randn(10, 20, 64, seed=1)
    for metric in EMBEDDING_METRICS:
        exact, fast = similarity_matrix(metric, a, b), similarity_matrix(metric, a, b, dtype=torch.bfloat16)
        assert fast.dtype == torch.float32 and (exact - fast).abs().max() < 1e-2, metric


def tiny_prompts(backbone: Backbone, n: int = 3, length: int = 6) -> torch.Tensor:
    return torch.stack([init_prompt(backbone, length, "random", seed=s).tensor for s in range(n)])


@pytest.mark.parametrize("family", ["causal", "masked", "encoder", "seq2seq"])
def test_on_reads_every_ffn_neuron(tiny_dirs, family):
    """2 layers × FFN width 64 in every tiny model (for T5: the 2 encoder layers, d_ff 64)."""
    backbone = load_backbone(str(tiny_dirs[family]), "float32")
    prompts = tiny_prompts(backbone)
    states = activation_states(backbone, prompts, batch_size=2)
    assert states.shape == (3, 2 * 64) and states.dtype == torch.float32
    assert 0 <= states.min() and states.max() <= 1 and states.sum() > 0
    assert ((states * 6) - (states * 6).round()).abs().max() < 1e-5  # fractions of the prompt's 6 tokens
    matrix = similarity_matrix("on", prompts, prompts, backbone=backbone)
    assert matrix.shape == (3, 3)
    torch.testing.assert_close(matrix.diagonal(), torch.ones(3), atol=1e-5, rtol=0)
    assert ((0 <= matrix) & (matrix <= 1 + 1e-5)).all()  # cosines of nonnegative vectors
    torch.testing.assert_close(similarity_matrix("on", prompts, prompts[:2].clone(), backbone=backbone), matrix[:, :2])


@pytest.mark.parametrize("model", ["causal", "gemma"])  # SwiGLU (SiLU) and Gemma's GeGLU (GELU) gates
def test_on_counts_the_fraction_of_tokens_that_open_a_gate(tiny_dirs, model):
    backbone = load_backbone(str(tiny_dirs[model]), "float32")
    prompt = tiny_prompts(backbone, 1, 4)
    gates = []
    hook = backbone.model.model.layers[0].mlp.gate_proj.register_forward_hook(lambda m, i, o: gates.append(o))
    with torch.no_grad():
        backbone.model.base_model(inputs_embeds=prompt.to(backbone.device))
    hook.remove()
    expected = (gates[0][0] > 0).float().mean(0).cpu()
    torch.testing.assert_close(activation_states(backbone, prompt)[0, :64].cpu(), expected)


def test_on_leaves_zero_padding_out(tiny_dirs):
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    prompts = tiny_prompts(backbone, 2, 4)
    padded = torch.cat([prompts, torch.zeros(2, 3, prompts.shape[2])], dim=1)
    torch.testing.assert_close(activation_states(backbone, padded), activation_states(backbone, prompts))


def test_on_needs_feed_forward_layers(tiny_dirs):
    bare = Backbone("bare", "encoder", torch.nn.Sequential(torch.nn.Linear(8, 8)), None, "")
    with pytest.raises(BadArgumentError, match="no feed-forward layers"):
        activation_states(bare, randn(1, 2, 8))


def test_plots_write_pngs_atomically(tmp_path):
    heatmap([[1.0, 0.5], [0.5, float("nan")]], ["a", "b"], ["x", "y"], "t", "v", tmp_path / "h.png")
    heatmap(randn(20, 30).tolist(), [f"r{i}" for i in range(20)], [f"c{i}" for i in range(30)], "big", "v",
            tmp_path / "big.png")  # too many cells to annotate
    series = {"random": ([0, 5], [0.5, 0.6]), "transfer": ([0, 5], [0.6, 0.7])}
    curves({"task a": series}, "c", "step", "acc", tmp_path / "c.png")
    curves({f"task {i}": series for i in range(3)}, "c", "step", "acc", tmp_path / "c3.png")  # 2 × 2, one blank
    for name in ("h.png", "big.png", "c.png", "c3.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == PNG_SIGNATURE and len(data) > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.png", "c.png", "c3.png", "h.png"]  # no temp files left
