"""Every similarity metric against a per-pair reference written the slow, obvious way."""

import pytest
import torch
import torch.nn.functional as F

from promptbank.backbones import load_backbone
from promptbank.errors import BadArgumentError
from promptbank.plots import curves, heatmap
from promptbank.prompt import init_prompt
from promptbank.similarity import EMBEDDING_METRICS, activation_states, similarity_matrix


def reference(metric: str, p: torch.Tensor, q: torch.Tensor) -> float:
    if metric == "spot-avg-cosine":
        return F.cosine_similarity(p.mean(0), q.mean(0), dim=0).item()
    if metric == "spot-token-cosine":
        return sum(F.cosine_similarity(x, y, dim=0).item() for x in p for y in q) / (len(p) * len(q))
    if metric == "cosine":
        return F.cosine_similarity(p.flatten(), q.flatten(), dim=0).item()
    if metric == "euclidean":
        return 1 / (1 + (p.flatten() - q.flatten()).norm().item())
    if metric == "token-cosine":
        return sum(F.cosine_similarity(x, y, dim=0).item() for x, y in zip(p, q)) / len(p)
    return sum(1 / (1 + (x - y).norm().item()) for x, y in zip(p, q)) / len(p)


@pytest.mark.parametrize("metric", list(EMBEDDING_METRICS))
def test_metric_matches_the_per_pair_definition(metric):
    a, b = torch.randn(4, 5, 8, generator=torch.Generator().manual_seed(0)), torch.randn(3, 5, 8)
    matrix = similarity_matrix(metric, a, b)
    expected = torch.tensor([[reference(metric, p, q) for q in b] for p in a])
    assert matrix.shape == (4, 3) and matrix.dtype == torch.float32
    torch.testing.assert_close(matrix, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(similarity_matrix(metric, a, b, chunk_size=1), matrix)  # chunking changes nothing
    torch.testing.assert_close(similarity_matrix(metric, b, a), matrix.T, atol=1e-6, rtol=1e-6)
    if metric != "spot-token-cosine":  # a prompt's tokens are not all alike, so its token-pair average is < 1
        torch.testing.assert_close(similarity_matrix(metric, a, a).diagonal(), torch.ones(4), atol=1e-5, rtol=0)


def test_lengths_pooled_metrics_accept_unequal_lengths_others_refuse():
    a, b = torch.randn(2, 5, 8), torch.randn(3, 7, 8)
    assert similarity_matrix("spot-avg-cosine", a, b).shape == (2, 3)
    assert similarity_matrix("spot-token-cosine", a, b).shape == (2, 3)
    for metric in ("cosine", "euclidean", "token-cosine", "token-euclidean"):
        with pytest.raises(BadArgumentError, match="equal lengths"):
            similarity_matrix(metric, a, b)
    with pytest.raises(BadArgumentError, match="vibes"):
        similarity_matrix("vibes", a, a)
    with pytest.raises(BadArgumentError, match="backbone"):
        similarity_matrix("on", a, a)


def test_bfloat16_is_close_to_float32():
    a, b = torch.randn(20, 20, 64), torch.randn(10, 20, 64)
    for metric in EMBEDDING_METRICS:
        exact, fast = similarity_matrix(metric, a, b), similarity_matrix(metric, a, b, dtype=torch.bfloat16)
        assert (exact - fast).abs().max() < 2e-2, metric


@pytest.mark.parametrize("family, states", [("causal", 2 * 64), ("masked", 2 * 64), ("encoder", 2 * 64),
                                            ("seq2seq", 2 * 64)])
def test_on_reads_every_ffn_neuron(tiny_dirs, family, states):
    backbone = load_backbone(str(tiny_dirs[family]), "float32")
    prompts = torch.stack([init_prompt(backbone, 6, "random", seed=s).tensor for s in range(3)])
    activations = activation_states(backbone, prompts, batch_size=2)
    assert activations.shape == (3, states) and 0 <= activations.min() and activations.max() <= 1
    assert activations.sum() > 0  # some neurons fire
    matrix = similarity_matrix("on", prompts, prompts, backbone=backbone)
    torch.testing.assert_close(matrix.diagonal(), torch.ones(3), atol=1e-5, rtol=0)
    assert ((0 <= matrix) & (matrix <= 1 + 1e-5)).all()  # cosines of nonnegative vectors


def test_on_counts_the_fraction_of_tokens_that_open_a_neuron(tiny_dirs):
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    prompt = init_prompt(backbone, 4, "random", seed=0).tensor
    gates = []
    hook = backbone.model.model.layers[0].mlp.gate_proj.register_forward_hook(lambda m, i, o: gates.append(o))
    backbone.model.base_model(inputs_embeds=prompt[None])
    hook.remove()
    expected = (gates[0][0] > 0).float().mean(0)
    torch.testing.assert_close(activation_states(backbone, prompt[None])[0, :64], expected)


def test_plots_write_pngs(tmp_path):
    heatmap([[1.0, 0.5], [0.5, float("nan")]], ["a", "b"], ["x", "y"], "t", "v", tmp_path / "h.png")
    curves({"random": ([0, 5], [0.5, 0.6]), "transfer": ([0, 5], [0.6, 0.7])}, "c", "step", "acc", tmp_path / "c.png")
    for name in ("h.png", "c.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.png", "h.png"]
