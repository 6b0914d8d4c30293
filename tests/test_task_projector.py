"""Projectors that carry the task: task-vector inputs, Su et al.'s whole-prompt network, a ridge baseline, and a
contrastive term that keeps the projections of different tasks apart."""

import pytest
import torch

from promptbank import scoring
from promptbank.backbones import load_backbone
from promptbank.errors import BadArgumentError, DataError
from promptbank.projection.model import load_projector, project, save_projector
from promptbank.projection.train import (
    ProjectorConfig,
    mean_pairwise_cosine,
    train_by_distance,
    train_by_ridge,
    train_by_task,
)
from promptbank.tuning.init import init_prompt
from promptbank.tuning.prompt import SoftPrompt


@pytest.fixture
def pair(tiny_dirs):
    return load_backbone(str(tiny_dirs["gemma"]), "float32"), load_backbone(str(tiny_dirs["causal48"]), "float32")


def _trained(backbone, task: str, seed: int, scale: float = 0.3, length: int = 4) -> SoftPrompt:
    """A prompt that began at the shared seed-0 init and moved by a task vector of its own."""
    init = init_prompt(backbone, length, "random", seed=0).tensor
    vector = scale * init_prompt(backbone, length, "random", seed=seed).tensor
    return SoftPrompt(init + vector, backbone.name, backbone.tokenizer_fingerprint, "random",
                      info={"task": task, "labels": ["no", "yes"]}, init_tensor=init)


def test_a_task_vector_projector_reads_deltas_and_adds_the_targets_own_init(pair, tmp_path):
    source, target = pair
    pairs = {t: (_trained(source, t, 10 + i), _trained(target, t, 20 + i)) for i, t in enumerate("abc")}
    config = ProjectorConfig(hidden=16, steps=40, lr=1e-2, inputs="delta")
    projector, metrics = train_by_distance(source, target, pairs, config)
    assert metrics["final_distance"] < metrics["initial_distance"]
    projected = project(projector, pairs["a"][0], target)
    base = init_prompt(target, 4, "random", seed=0).tensor
    assert torch.equal(projected.init_tensor, base)  # the projection is a task vector on the target's init
    moved = projected.tensor - base
    torch.testing.assert_close(moved, projector.network(pairs["a"][0].delta / projector.source_scale).detach()
                               * projector.target_scale)
    save_projector(projector, tmp_path / "p")
    loaded = load_projector(tmp_path / "p")
    assert (loaded.inputs, loaded.architecture) == ("delta", "per-token")
    assert torch.equal(project(loaded, pairs["a"][0], target).tensor, projected.tensor)
    unknown = SoftPrompt(pairs["a"][0].tensor, source.name, source.tokenizer_fingerprint, "random")
    with pytest.raises(DataError, match="init of this"):
        project(projector, unknown, target)


def test_the_whole_prompt_network_reads_one_length_and_round_trips(pair, tmp_path):
    source, target = pair
    pairs = {t: (_trained(source, t, 10 + i), _trained(target, t, 20 + i)) for i, t in enumerate("ab")}
    projector, metrics = train_by_distance(source, target, pairs,
                                           ProjectorConfig(hidden=16, steps=30, lr=1e-2, architecture="whole"))
    assert metrics["final_distance"] < metrics["initial_distance"] and projector.length == 4
    projected = project(projector, pairs["a"][0], target)
    assert projected.tensor.shape == (4, 48)
    save_projector(projector, tmp_path / "w")
    assert torch.equal(project(load_projector(tmp_path / "w"), pairs["a"][0], target).tensor, projected.tensor)
    with pytest.raises(BadArgumentError, match="reads 4-token prompts, not 6"):
        project(projector, _trained(source, "a", 10, length=6), target)


def test_the_ridge_baseline_recovers_a_linear_map(pair):
    source, target = pair
    true_map = torch.randn(32, 48, generator=torch.Generator().manual_seed(0)) / 32 ** 0.5
    pairs = {}
    for i, t in enumerate("abcdefgh"):
        prompt = _trained(source, t, 10 + i)
        mapped = prompt.tensor / 1.0 @ true_map
        pairs[t] = (prompt, SoftPrompt(mapped, target.name, target.tokenizer_fingerprint, "random"))
    config = ProjectorConfig(architecture="linear", ridge=1e-6)
    projector, metrics = train_by_ridge(source, target, pairs, config)
    assert metrics["final_distance"] < 1e-3 * metrics["initial_distance"] and metrics["kept_share"] > 0.99
    _, shrunk = train_by_ridge(source, target, pairs, ProjectorConfig(architecture="linear", ridge=1e6))
    assert shrunk["kept_share"] < 0.01 and shrunk["final_distance"] > 0.5 * shrunk["initial_distance"]
    with pytest.raises(BadArgumentError, match="--architecture linear"):
        train_by_ridge(source, target, pairs, ProjectorConfig())


def _tasks(target, toy_task, toy_choice_task, source_prompts):
    encoded = {name: scoring.encode(target, task, task.examples[:24]) for name, task in
               (("sentiment", toy_task), ("choice", toy_choice_task))}
    return {name: (prompt, encoded[name]) for name, prompt in zip(encoded, source_prompts)}


def _own_minus_other(projector, target, tasks) -> list[float]:
    """For each task: its items' loss under its own projection minus under the other task's (negative: own wins)."""
    projected = {name: project(projector, prompt, target).tensor for name, (prompt, _) in tasks.items()}
    gaps = []
    for name, (_, items) in tasks.items():
        other = next(n for n in tasks if n != name)
        labels = scoring.labels_of(items)
        with torch.no_grad():
            losses = [torch.nn.functional.cross_entropy(scoring.score(target, projected[n], items), labels).item()
                      for n in (name, other)]
        gaps.append(losses[0] - losses[1])
    return gaps


def test_the_contrastive_term_makes_two_tasks_projections_differ(pair, toy_task, toy_choice_task):
    """Two tasks that one prompt can serve: the task loss does not ask the projections to differ, the contrastive
    term does (each task's own projection must beat the other's on its items)."""
    source, target = pair
    tasks = _tasks(target, toy_task, toy_choice_task, [_trained(source, "a", 10), _trained(source, "b", 11)])
    base = ProjectorConfig(hidden=32, steps=60, lr=1e-2, inputs="delta", batch_size=8)
    plain, plain_metrics = train_by_task(source, target, tasks, base, progress=False)
    contrast, contrast_metrics = train_by_task(
        source, target, tasks, ProjectorConfig(**{**base.__dict__, "contrast_weight": 1.0}), progress=False)
    assert contrast_metrics["output_cosine"] < plain_metrics["output_cosine"] - 0.3  # measured: -0.47 against 0.11
    assert all(gap < 0 for gap in _own_minus_other(contrast, target, tasks))
    assert max(_own_minus_other(contrast, target, tasks)) < max(_own_minus_other(plain, target, tasks))


def test_mean_pairwise_cosine():
    assert mean_pairwise_cosine(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])) == pytest.approx(
        (0 + 2 * 0.5 ** 0.5) / 3)
    assert mean_pairwise_cosine(torch.ones(1, 3)) is None


def test_the_distance_term_needs_every_tasks_native_prompt(pair, toy_task, toy_choice_task):
    source, target = pair
    tasks = _tasks(target, toy_task, toy_choice_task, [_trained(source, "a", 10), _trained(source, "b", 11)])
    with pytest.raises(BadArgumentError, match="own prompt of every training task"):
        train_by_task(source, target, tasks, ProjectorConfig(hidden=8, steps=2, distance_weight=1.0),
                      progress=False, natives={"sentiment": _trained(target, "a", 20)})
