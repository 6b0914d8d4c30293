"""Prompt parameterisations plug into the one loop: no new loop, exact resume, and an (L, d) prompt at the end."""

import pytest
import torch

from promptbank import scoring
from promptbank.backbones import load_backbone
from promptbank.tuning import loop
from promptbank.tuning.config import Step, TrainConfig
from promptbank.tuning.init import embedding_rms, embedding_scale, init_prompt
from promptbank.tuning.prompt import load_prompt
from promptbank.tuning.loop import Job, train_many, train_prompt
from promptbank.transfer.mixture import AttentionMixture, LearnedMixture, input_features
from promptbank.tuning.params import PromptParams, ResidualPrompt


def _data(tiny_dirs, toy_task):
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    items = scoring.encode(backbone, toy_task, toy_task.examples)
    return backbone, items[:40], items[40:]


def test_a_residual_prompt_starts_at_its_prompt_learns_and_folds_into_a_plain_one(tiny_dirs, toy_task):
    backbone, train, dev = _data(tiny_dirs, toy_task)
    start = init_prompt(backbone, 4, seed=0)
    module = ResidualPrompt(start, bottleneck=8)
    assert torch.equal(module.prompt(), start.tensor)  # the MLP's output layer starts at zero
    config = TrainConfig(steps=20, lr=0.05, eval_every=5, patience=0)
    result = train_prompt(backbone, train, dev, module, config, progress=False)
    losses = [p["train_loss"] for p in result.curve[1:]]
    assert losses[-1] < losses[0]
    assert result.prompt.tensor.shape == start.tensor.shape and result.prompt.init == start.init
    assert torch.equal(result.prompt.tensor, module.prompt().cpu())  # the module is left at its best state
    assert module.up.abs().sum() > 0, "the MLP branch should have been trained"
    # the folded prompt scores as the module did: it is all the bank and PEFT files need
    folded, live = (scoring.score(backbone, p, dev[:6]) for p in (result.prompt.tensor, module(torch.tensor([0]))[0]))
    assert torch.allclose(folded, live.detach(), atol=1e-5)


class Killed(Exception):
    pass


def _deltas(backbone) -> torch.Tensor:
    """Three made-up task vectors, at a tenth of a prompt's scale."""
    return torch.stack([0.1 * init_prompt(backbone, 4, seed=s).tensor for s in (7, 8, 9)])


def _attention(start, backbone, train, dev) -> AttentionMixture:
    return AttentionMixture(start, _deltas(backbone), input_features(backbone, train), input_features(backbone, dev),
                            bottleneck=8)


PARAMETERISATIONS = {"residual": lambda start, backbone, train, dev: ResidualPrompt(start, 8),
                     "learned-mixture": lambda start, backbone, train, dev: LearnedMixture(start, _deltas(backbone)),
                     "attention-mixture": _attention}


def _job(module, train, dev) -> Job:
    return module.job(train, dev) if isinstance(module, AttentionMixture) else Job(train, dev, module)


@pytest.mark.parametrize("kind", PARAMETERISATIONS)
def test_a_killed_parameterisation_resumes_bit_for_bit(tiny_dirs, toy_task, tmp_path, monkeypatch, kind):
    backbone, train, dev = _data(tiny_dirs, toy_task)
    start = init_prompt(backbone, 4, seed=0)
    config = TrainConfig(steps=9, lr=0.05, eval_every=3, patience=0)
    def make():
        return _job(PARAMETERISATIONS[kind](start, backbone, train, dev), train, dev)
    reference = train_many(backbone, [make()], config, progress=False)[0]
    save = loop.save_checkpoint

    def dying(directory, tensors, state):
        save(directory, tensors, state)
        if state["step"] == 3:
            raise Killed
    monkeypatch.setattr(loop, "save_checkpoint", dying)
    with pytest.raises(Killed):
        train_many(backbone, [make()], config, tmp_path, progress=False)
    monkeypatch.setattr(loop, "save_checkpoint", save)
    resumed = train_many(backbone, [make()], config, tmp_path, progress=False)[0]
    assert torch.equal(resumed.prompt.tensor, reference.prompt.tensor)
    assert resumed.curve == [p | {"wall_seconds": q["wall_seconds"]} for p, q in zip(reference.curve, resumed.curve)]


def test_a_learned_mixture_starts_at_the_mean_task_vector_and_trains_its_weights(tiny_dirs, toy_task):
    backbone, train, dev = _data(tiny_dirs, toy_task)
    start, deltas = init_prompt(backbone, 4, seed=0), _deltas(backbone)
    module = LearnedMixture(start, deltas)
    torch.testing.assert_close(module.prompt(), start.tensor + deltas.mean(0))  # uniform weights, scale 1
    result = train_prompt(backbone, train, dev, module, TrainConfig(steps=12, lr=0.05, eval_every=4, patience=0),
                          progress=False)
    learned = module.learned()
    assert sum(learned["learned_weights"]) == pytest.approx(1) and len(learned["learned_weights"]) == 3
    assert learned["learned_weights"] != [pytest.approx(1 / 3)] * 3 or learned["learned_scale"] != 1
    assert torch.equal(module.deltas, deltas)  # the task vectors stay frozen
    weights, scale = module.mixture()
    torch.testing.assert_close(result.prompt.tensor, module.weights.detach() + scale.detach() * torch.einsum(
        "k,kld->ld", weights.detach(), deltas))  # the bank gets the folded prompt
    torch.testing.assert_close(result.prompt.init_tensor, start.tensor + deltas.mean(0))  # its init: where it began


def test_an_attention_mixture_starts_as_the_learned_mixture_and_learns_weights_for_each_input(tiny_dirs, toy_task):
    backbone, train, dev = _data(tiny_dirs, toy_task)
    start, deltas = init_prompt(backbone, 4, seed=0), _deltas(backbone)
    module = _attention(start, backbone, train, dev)
    torch.testing.assert_close(module(torch.arange(len(train) + len(dev))),  # every input: uniform weights, scale 1
                               (start.tensor + deltas.mean(0)).expand(len(train) + len(dev), -1, -1))
    assert module.learned()["weights_spread"] == 0
    result = train_many(backbone, [module.job(train, dev)], TrainConfig(steps=12, lr=0.05, eval_every=4, patience=0),
                        progress=False)[0]
    learned = module.learned()
    assert learned["weights_spread"] > 0, "the attention should give different inputs different weights"
    assert sum(learned["learned_weights"]) == pytest.approx(1) and torch.equal(module.deltas, deltas)
    # the stored prompt is the train items' mean prompt; a new input gets its own
    torch.testing.assert_close(result.prompt.tensor, module(torch.arange(len(train))).detach().mean(0))
    torch.testing.assert_close(module.prompts_for(input_features(backbone, dev[:3])).detach(),
                               module(torch.arange(len(train), len(train) + 3)).detach())
    with pytest.raises(ValueError, match="not those"):
        module.job(train[:-1], dev)


class TaskTable(PromptParams):
    """A module with one prompt per row id and a penalty: the shape of a mixture or a projector."""

    def __init__(self, rows: int, length: int, width: int) -> None:
        super().__init__()
        self.table = torch.nn.Parameter(torch.randn(rows, length, width, generator=torch.Generator().manual_seed(0)))

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.table[rows] * 0.1

    def penalty(self) -> torch.Tensor:
        return self.table.pow(2).mean()


def test_items_read_the_row_they_name_and_the_penalty_joins_the_loss(tiny_dirs, toy_task):
    backbone, train, dev = _data(tiny_dirs, toy_task)
    module = TaskTable(2, 4, backbone.hidden_size)
    rows = tuple(i % 2 for i in range(len(train)))
    only_row_0 = tuple(0 for _ in train)
    config = TrainConfig(steps=4, lr=0.05, eval_every=2, patience=0)
    result = train_many(backbone, [Job(train, dev, module, rows=rows, dev_rows=tuple(0 for _ in dev))], config,
                        progress=False)[0]
    assert result.prompt is None and set(result.state) == {"table"}
    # with every item on row 0, row 1 gets the penalty's gradient alone: under AdamW every element steps against
    # its own sign (toward zero); a row the items read moves otherwise
    other = TaskTable(2, 4, backbone.hidden_size)
    train_many(backbone, [Job(train, dev, other, rows=only_row_0)], config, progress=False)
    fresh = TaskTable(2, 4, backbone.hidden_size).table.detach()
    toward_zero = -torch.sign(fresh)
    assert torch.equal(torch.sign(other.table.detach()[1] - fresh[1]), toward_zero[1])
    assert not torch.equal(torch.sign(other.table.detach()[0] - fresh[0]), toward_zero[0])
    for row in (0, 1):
        assert not torch.equal(torch.sign(module.table.detach()[row] - fresh[row]), toward_zero[row])


@pytest.mark.parametrize("model", ["gemma", "causal"])
def test_a_relative_step_moves_the_prompt_by_the_learning_rate_times_the_embeddings_rms(tiny_dirs, toy_task, model):
    """Adam's first step moves each coordinate by about lr: by lr itself with an absolute step, by lr times the RMS
    of the embeddings the model reads with a relative one (the tiny Gemma scales its embeddings by sqrt(d))."""
    backbone = load_backbone(str(tiny_dirs[model]), "float32")
    items = scoring.encode(backbone, toy_task, toy_task.examples)
    start = init_prompt(backbone, 4, seed=0)
    moved = {}
    for step in Step:
        config = TrainConfig(steps=1, lr=0.01, warmup=0.0, schedule="constant", eval_every=1, patience=0, step=step)
        result = train_prompt(backbone, items[:8], items[8:12], start, config, progress=False)
        moved[step] = (result.prompt.tensor - start.tensor).abs().median().item()
        torch.testing.assert_close(result.prompt.init_tensor, start.tensor)  # its init is where it began
    rms = embedding_rms(backbone)
    assert moved[Step.ABSOLUTE] == pytest.approx(0.01, rel=0.02)
    assert moved[Step.RELATIVE] == pytest.approx(0.01 * rms, rel=0.02)
    if model == "gemma":
        assert embedding_scale(backbone) > 2  # a backbone whose embeddings are scaled inside the model


def test_the_residual_reparameterisation_is_a_train_setting_and_ends_as_a_plain_prompt(cli, tiny_dirs, tmp_path):
    base = ("train", "--task", "movie_sentences", "--backbone", tiny_dirs["causal"], "--shots", 2, "--steps", 3,
            "--eval-every", 3, "--prompt-length", 4, "--test-size", 4, "--dtype", "float32", "--no-store", "--lr", 0.05)
    code, _, err = cli(*base, "--reparam", "residual", "--out", tmp_path / "residual")
    assert code == 0, err
    code, _, err = cli(*base, "--out", tmp_path / "plain")
    assert code == 0, err
    residual, plain = load_prompt(tmp_path / "residual"), load_prompt(tmp_path / "plain")
    assert residual.tensor.shape == plain.tensor.shape and not torch.equal(residual.tensor, plain.tensor)
    assert residual.info["training"]["reparam"] == "residual" and torch.equal(residual.init_tensor, plain.init_tensor)
    code, _, err = cli(*base, "--reparam", "residual", "--step", "relative", "--out", tmp_path / "both")
    assert code == 2 and "--step absolute" in err
