"""Cross-model projectors between two tiny backbones of different widths: Gemma-style (width 32, embeddings scaled
by sqrt(d)) as the source and Llama-style (width 48) as the target."""

import dataclasses
import json

import pytest
import torch

from promptbank import scoring
from promptbank.backbones import load_backbone
from promptbank.errors import BadArgumentError, DataError
from promptbank.projection.model import META_FILE, TENSOR_FILE, list_projectors, load_projector, project, save_projector
from promptbank.tuning.init import embedding_rms
from promptbank.projection.train import ProjectorConfig, new_projector, train_by_distance, train_by_task
from promptbank.tasks.task import Example, Task
from promptbank.tuning.init import init_prompt
from promptbank.tuning.prompt import SoftPrompt

SMALL = ProjectorConfig(hidden=64, steps=150, lr=1e-2)


@pytest.fixture
def pair(tiny_dirs):
    return load_backbone(str(tiny_dirs["gemma"]), "float32"), load_backbone(str(tiny_dirs["causal48"]), "float32")


def _prompt(backbone, task: str, seed: int, length: int = 4) -> SoftPrompt:
    prompt = init_prompt(backbone, length, "random", seed=seed)
    prompt.info.update({"task": task, "labels": ["no", "yes"], "metrics": {"dev": {"accuracy": 0.9}},
                        "bank_id": f"id-{task}"})
    return prompt


def _pairs(source, target, tasks=("a", "b", "c")):
    return {t: (_prompt(source, t, i), _prompt(target, t, 100 + i)) for i, t in enumerate(tasks)}


def _mse(projector, pairs, target) -> float:
    return sum(torch.mean((project(projector, s, target).tensor - t.tensor) ** 2).item()
               for s, t in pairs.values()) / len(pairs)


def _task_loss(target, prompt: SoftPrompt, items) -> float:
    with torch.no_grad():
        scores = scoring.score(target, prompt.tensor, items)
    return torch.nn.functional.cross_entropy(scores, scoring.labels_of(items).to(scores.device)).item()


def test_projection_shapes_and_metadata(pair, tmp_path):
    source, target = pair
    assert source.hidden_size != target.hidden_size
    projector, metrics = train_by_distance(source, target, _pairs(source, target), ProjectorConfig(hidden=16, steps=3))
    projected = project(projector, _prompt(source, "a", 0, length=7), target)
    assert projected.tensor.shape == (7, 48) and projected.tensor.dtype == torch.float32
    assert (projected.backbone, projected.tokenizer_fingerprint, projected.init) == (
        target.name, target.tokenizer_fingerprint, "projected")
    assert projected.info["task"] == "a" and projected.info["labels"] == ["no", "yes"]
    assert "metrics" not in projected.info, "the source's metrics were measured on another backbone"
    assert projected.info["projection"] == {"projector": projector.digest, "method": "distance",
                                            "source_backbone": source.name, "source_prompt": "id-a"}
    assert set(metrics) == {"initial_distance", "final_distance", "loss_curve"} and len(metrics["loss_curve"]) == 3

    save_projector(projector, tmp_path / "p")
    meta = json.loads((tmp_path / "p" / META_FILE).read_text())
    assert meta["source"] == {"name": source.name, "hidden_size": 32, "tokenizer_fingerprint":
                              source.tokenizer_fingerprint, "weights_fingerprint": projector.source.weights_fingerprint}
    assert meta["target"]["name"] == target.name and meta["target"]["hidden_size"] == 48
    assert len(meta["target"]["weights_fingerprint"]) == 16
    assert meta["source"]["weights_fingerprint"] != meta["target"]["weights_fingerprint"]
    assert (meta["hidden"], meta["nonlinearity"], meta["method"], meta["tasks"], meta["seed"]) == (
        16, "tanh", "distance", ["a", "b", "c"], 0)
    assert meta["metrics"] == metrics and meta["training"]["steps"] == 3 and meta["created"]
    assert meta["source_scale"] == pytest.approx(embedding_rms(source))


def test_untrained_projection_comes_out_at_the_target_scale(pair):
    """Gemma's embeddings are sqrt(32) times larger than its table; the network works in each side's units."""
    gemma, llama = pair
    for source, target in ((gemma, llama), (llama, gemma)):
        projector = new_projector(source, target, ProjectorConfig(hidden=64))
        out = project(projector, init_prompt(source, 20, "vocab", seed=0), target).tensor
        ratio = out.pow(2).mean().sqrt().item() / embedding_rms(target)
        assert 0.1 < ratio < 1, f"{source.name} -> {target.name}: projection at {ratio:.2f}× the target's scale"


def test_refused_for_other_backbones(pair, tiny_dirs):
    source, target = pair
    projector = new_projector(source, target, ProjectorConfig(hidden=8))
    other = load_backbone(str(tiny_dirs["causal"]), "float32")  # width 32 and the same tokenizer as the source
    with pytest.raises(BadArgumentError, match="maps prompts of") as refused:
        project(projector, init_prompt(other, 4), target)
    assert source.name in str(refused.value) and target.name in str(refused.value) and other.name in str(refused.value)
    with pytest.raises(BadArgumentError, match="not to") as refused:
        project(projector, init_prompt(source, 4), other)
    assert source.name in str(refused.value) and target.name in str(refused.value)
    impostor = load_backbone(str(tiny_dirs["causal48"]), "bfloat16")
    project(projector, init_prompt(source, 4), impostor)  # the same weights in another precision are the same target
    impostor = dataclasses.replace(impostor, model=_other_weights(target))
    with pytest.raises(BadArgumentError, match="other embedding weights"):
        project(projector, init_prompt(source, 4), impostor)
    retokenized = dataclasses.replace(target, tokenizer_fingerprint="0" * 16)
    with pytest.raises(BadArgumentError, match="another tokenizer"):
        project(projector, init_prompt(source, 4), retokenized)


def _other_weights(backbone):
    """The same architecture with one embedding value changed: a re-saved checkpoint under the same name."""
    import copy
    model = copy.deepcopy(backbone.model)
    with torch.no_grad():
        model.get_input_embeddings().weight[0, 0] += 1.0
    return model


def test_distance_minimisation_brings_projections_to_the_target_prompts(pair):
    source, target = pair
    pairs = _pairs(source, target)
    before = _mse(new_projector(source, target, SMALL), pairs, target)
    projector, metrics = train_by_distance(source, target, pairs, SMALL)
    after = _mse(projector, pairs, target)
    assert after < 0.1 * before, f"squared distance {before:.3g} -> {after:.3g}"
    assert metrics["final_distance"] < 0.1 * metrics["initial_distance"]
    scale = embedding_rms(target) ** 2  # the metrics are in units of the target's embedding scale
    assert metrics["final_distance"] * scale == pytest.approx(after, rel=1e-3)


def test_distance_pairs_must_match_their_backbones(pair):
    source, target = pair
    swapped = {"a": (_prompt(source, "a", 0), _prompt(source, "a", 1))}
    with pytest.raises(BadArgumentError, match="target prompts must be of backbone"):
        train_by_distance(source, target, swapped, SMALL)
    uneven = {"a": (_prompt(source, "a", 0, length=4), _prompt(target, "a", 1, length=5))}
    with pytest.raises(BadArgumentError, match="token by token"):
        train_by_distance(source, target, uneven, SMALL)


def _constant_task(name: str, label: int) -> Task:
    """A task whose answer is always the same: a frozen random model cannot tell the reviews apart, but a prompt
    can steer it towards one answer, so its loss measures how well the prompt steers the model."""
    words = ["good", "fine", "great", "bad", "awful", "poor"]
    examples = tuple(Example(f"the film number {i} was {words[i % 6]}", label) for i in range(24))
    return Task(name, "single", "sentiment", "Review: {text}\nSentiment:", ("negative", "positive"), ("bad", "good"),
                examples)


def _yes_and_no(source, target) -> tuple[dict, dict]:
    """Two constant tasks with opposite answers: their source prompts and their items encoded for the target."""
    tasks = {"yes": _constant_task("yes", 1), "no": _constant_task("no", 0)}
    prompts = {name: _prompt(source, name, seed) for seed, name in enumerate(tasks)}
    return prompts, {name: scoring.encode(target, task, task.examples) for name, task in tasks.items()}


def test_task_tuning_lowers_the_target_models_loss(pair):
    """Two tasks with opposite answers: one projector must map each task's source prompt to a target prompt
    steering the frozen target its own way."""
    source, target = pair
    weights_before = {k: v.clone() for k, v in target.model.state_dict().items()}
    prompts, items = _yes_and_no(source, target)
    tasks = list(prompts)
    config = ProjectorConfig(hidden=64, steps=30, lr=1e-2, batch_size=8)
    initial = new_projector(source, target, config)
    before = {t: _task_loss(target, project(initial, prompts[t], target), items[t]) for t in tasks}
    projector, metrics = train_by_task(source, target, {t: (prompts[t], items[t]) for t in tasks}, config)
    after = {t: _task_loss(target, project(projector, prompts[t], target), items[t]) for t in tasks}
    assert all(after[t] < 0.8 * before[t] for t in tasks), f"task losses {before} -> {after}"
    assert metrics["initial_loss"] == pytest.approx(sum(before.values()) / 2, rel=1e-4)
    assert metrics["final_loss"] == pytest.approx(sum(after.values()) / 2, rel=1e-4)
    assert (metrics["initial_accuracy"], metrics["final_accuracy"]) == (0.5, 1.0) and len(metrics["loss_curve"]) == 30
    assert all(torch.equal(weights_before[k], v) for k, v in target.model.state_dict().items())
    assert projector.info["tasks"] == ["yes", "no"] and projector.info["method"] == "task"


def test_saved_projector_projects_the_same(pair, tmp_path):
    source, target = pair
    projector, _ = train_by_distance(source, target, _pairs(source, target), ProjectorConfig(hidden=16, steps=5))
    save_projector(projector, tmp_path / "bank" / "gemma-to-llama")
    (tmp_path / "bank" / "notes").mkdir()  # not a projector: not listed
    loaded = load_projector(tmp_path / "bank" / "gemma-to-llama")
    prompt = _prompt(source, "a", 7)
    assert torch.equal(project(projector, prompt, target).tensor, project(loaded, prompt, target).tensor)
    assert (loaded.source, loaded.target, loaded.info) == (projector.source, projector.target, projector.info)
    listed = list_projectors(tmp_path / "bank")
    assert [path.name for path, _ in listed] == ["gemma-to-llama"]
    assert listed[0][1]["digest"] == projector.digest and listed[0][1]["target"]["name"] == target.name


def test_missing_or_damaged_projector_is_a_data_error(pair, tmp_path):
    source, target = pair
    with pytest.raises(DataError, match="not a saved projector"):
        load_projector(tmp_path / "nothing")
    with pytest.raises(DataError, match="no folder"):
        list_projectors(tmp_path / "nothing")
    projector = new_projector(source, target, ProjectorConfig(hidden=8))
    for damage, expected in [(lambda d: (d / TENSOR_FILE).write_bytes(b"not safetensors"), "damaged"),
                             (lambda d: (d / META_FILE).write_text("{"), "damaged"),
                             (lambda d: (d / TENSOR_FILE).unlink(), "not a saved projector"),
                             (lambda d: _alter_weights(d), "digest")]:
        save_projector(projector, tmp_path / "p")
        damage(tmp_path / "p")
        with pytest.raises(DataError, match=expected):
            load_projector(tmp_path / "p")


def _alter_weights(directory):
    from safetensors.torch import load_file, save_file
    tensors = load_file(directory / TENSOR_FILE)
    tensors["0.bias"][0] += 1.0
    save_file(tensors, directory / TENSOR_FILE)


def test_same_seed_same_projector(pair, toy_task):
    source, target = pair
    pairs = _pairs(source, target)
    config = ProjectorConfig(hidden=16, steps=20, lr=1e-2)
    weights = lambda p: [t.clone() for t in p.network.state_dict().values()]
    first, again = (weights(train_by_distance(source, target, pairs, config)[0]) for _ in range(2))
    other = weights(train_by_distance(source, target, pairs, dataclasses.replace(config, seed=1))[0])
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not any(torch.equal(a, b) for a, b in zip(first, other))
    tasks = {"toy": (_prompt(source, "toy", 0), scoring.encode(target, toy_task, toy_task.examples[:24]))}
    task_config = dataclasses.replace(config, steps=6, seed=3)
    first, again = (weights(train_by_task(source, target, tasks, task_config)[0]) for _ in range(2))
    assert all(torch.equal(a, b) for a, b in zip(first, again))


def test_configuration_is_checked_and_nonlinearity_recorded(pair):
    source, target = pair
    with pytest.raises(BadArgumentError, match="nonlinearity"):
        ProjectorConfig(nonlinearity="sigmoid")
    with pytest.raises(BadArgumentError, match="hidden"):
        ProjectorConfig(hidden=0)
    projector = new_projector(source, target, ProjectorConfig(hidden=8, nonlinearity="relu"))
    assert isinstance(projector.network[1], torch.nn.ReLU) and projector.nonlinearity == "relu"


def test_task_tuning_measures_the_first_items_of_each_task(pair):
    source, target = pair
    prompts, items = _yes_and_no(source, target)
    tasks = list(prompts)
    config = ProjectorConfig(hidden=16, steps=1, measure_size=5)
    initial = new_projector(source, target, config)
    first = {t: _task_loss(target, project(initial, prompts[t], target), items[t][:5]) for t in tasks}
    everything = {t: _task_loss(target, project(initial, prompts[t], target), items[t]) for t in tasks}
    _, metrics = train_by_task(source, target, {t: (prompts[t], items[t]) for t in tasks}, config, progress=False)
    assert metrics["initial_loss"] == pytest.approx(sum(first.values()) / 2, rel=1e-4)
    assert metrics["initial_loss"] != pytest.approx(sum(everything.values()) / 2, rel=1e-4)


def test_an_encoders_prompts_project_into_a_causal_model(tiny_dirs):
    """A sentence encoder's prompt (MiniLM's family) is a sequence of input embeddings like any other: the
    projector maps it token by token into a causal model and task tuning works through that model."""
    encoder, causal = (load_backbone(str(tiny_dirs[name]), "float32") for name in ("encoder", "causal48"))
    prompts, items = _yes_and_no(encoder, causal)
    tasks = list(prompts)
    config = ProjectorConfig(hidden=64, steps=30, lr=1e-2, batch_size=8)
    projector, metrics = train_by_task(encoder, causal, {t: (prompts[t], items[t]) for t in tasks}, config,
                                       progress=False)
    projected = project(projector, prompts["yes"], causal)
    assert projected.tensor.shape == (4, causal.hidden_size) and projected.backbone == causal.name
    assert metrics["final_loss"] < 0.8 * metrics["initial_loss"]
