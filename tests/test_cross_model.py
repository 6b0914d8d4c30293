"""The cross-model experiment end to end on tiny backbones of two widths: projected prompts of held-out tasks
scored zero-shot and trained from, resumable, and refusing a task a projector was trained on."""

import json

import pytest
import torch

from promptbank.backbones import load_backbone
from promptbank.bank import PromptBank
from promptbank.errors import BadArgumentError
from promptbank.experiments.cross_model import (
    CrossModelSpec,
    cosine_between_tasks,
    run_cross_model,
)
from promptbank.projection.bank import ProjectionSpec, train_projector
from promptbank.projection.model import save_projector
from promptbank.projection.train import ProjectorConfig
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.init import init_prompt

TASKS = ("movie_sentences", "food_reviews", "bbc_news")


@pytest.fixture
def setup(tiny_dirs, tmp_path):
    small, wide = str(tiny_dirs["causal"]), str(tiny_dirs["causal48"])
    bank = PromptBank(tmp_path / "bank", create=True)
    for name in (small, wide):
        backbone = load_backbone(name, "float32")
        for seed, task in enumerate(TASKS if name == small else TASKS[:2]):  # bbc_news has no native wide prompt
            prompt = init_prompt(backbone, 4, "vocab", seed=seed)
            prompt.info = {"task": task, "task_format": "single", "labels": ["a", "b"]}
            bank.add(prompt, tags=["source"])
    paths = []
    for method in ("distance", "task"):
        spec = ProjectionSpec(small, wide, method, ("movie_sentences",), prompt_length=4, train_size=8,
                              dtype="float32", config=ProjectorConfig(hidden=8, steps=3))
        projector, _ = train_projector(spec, bank)
        save_projector(projector, tmp_path / method)
        paths.append(str(tmp_path / method))
    yield bank, paths
    bank.close()


def test_projected_prompts_are_scored_and_trained_from_and_the_run_continues(setup, tmp_path, monkeypatch):
    bank, paths = setup
    spec = CrossModelSpec(tuple(paths), ("food_reviews", "bbc_news"), seeds=(0, 1), shots=2, prompt_length=4,
                          test_size=6, dtype="float32", train=TrainConfig(steps=2, eval_every=2, patience=0))
    summary = run_cross_model(spec, bank, tmp_path / "out", progress=False)
    assert summary["projectors"] == ["distance", "task"]
    food, bbc = summary["tasks"]["food_reviews"], summary["tasks"]["bbc_news"]
    assert food["native"] is not None and bbc["native"] is None  # only food_reviews has a wide native prompt
    for row in (food, bbc):
        assert 0 <= row["template"] <= 1 and 0 <= row["random_prompt"] <= 1
        for p in row["projected"].values():
            assert 0 <= p["zero_shot"] <= 1 and p["gain"] == pytest.approx(p["test_accuracy"] - p["random_test_accuracy"])
            assert p["gain_ci"]["low"] <= p["gain"] <= p["gain_ci"]["high"]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert len(results["cells"]) == 4 and set(results["zero_shot"]["bbc_news"]["accuracy"]) == {
        "distance:food_reviews", "distance:bbc_news", "task:food_reviews", "task:bbc_news", "native:food_reviews",
        "random"}
    assert "| food_reviews | distance |" in (tmp_path / "out" / "summary.md").read_text()
    assert set(summary["cosine_between_tasks"]) == {"source", "distance", "task"}  # one native prompt: no pair
    seen = summary["training_tasks"]["movie_sentences"]  # both projectors trained on it, and paired it (distance)
    assert list(summary["training_tasks"]) == ["movie_sentences"] and 0 <= seen["native"] <= 1
    assert set(seen["projected"]) == {"distance", "task"} and all(0 <= a <= 1 for a in seen["projected"].values())
    assert "| movie_sentences | " in (tmp_path / "out" / "summary.md").read_text().split("own training tasks")[1]
    table = (tmp_path / "out" / "results.csv").read_text().splitlines()
    assert [line.split(",")[:2] for line in table] == [["task", "projector"], ["food_reviews", "distance"],
                                                       ["food_reviews", "task"], ["bbc_news", "distance"],
                                                       ["bbc_news", "task"]]
    assert dict(zip(table[0].split(","), table[1].split(",")))["gain"] == f"{food['projected']['distance']['gain']:.4f}"
    page = (tmp_path / "out" / "report.html").read_text()
    assert "Mean cosine between the prompts of two different held-out tasks" in page
    assert "Cross-model transfer" in page and page.count("<img") == 2  # the zero-shot heatmap, the curves
    assert (tmp_path / "out" / "convergence.png").stat().st_size > 0
    assert (tmp_path / "out" / "zero_shot.png").stat().st_size > 0
    from promptbank.experiments import cross_model
    monkeypatch.setattr(cross_model, "few_shot_cell", lambda *a: pytest.fail("a finished cell was retrained"))
    monkeypatch.setattr(cross_model, "zero_shot_column", lambda *a: pytest.fail("a finished column was rescored"))
    assert run_cross_model(spec, bank, tmp_path / "out", progress=False) == summary
    recorded = json.loads((tmp_path / "out" / "spec.json").read_text())
    assert recorded["train"]["lr"] == 0.01 and recorded["train"]["warmup"] == 0.06  # the target's recipe, recorded
    more = CrossModelSpec(**{**spec.__dict__, "seeds": (0, 1, 2)})  # seeds may grow; a report trains nothing
    assert run_cross_model(more, bank, tmp_path / "out", progress=False, run_missing=False) == summary
    for seed in (0, 1):  # as if bbc_news had no finished cell yet: its few-shot figures are left open
        (tmp_path / "out" / "cells" / f"bbc_news-seed{seed}.json").unlink()
    partial = run_cross_model(spec, bank, tmp_path / "out", progress=False, run_missing=False)
    assert partial["tasks"]["food_reviews"] == food and partial["tasks"]["bbc_news"]["projected"]["task"][
        "zero_shot"] == bbc["projected"]["task"]["zero_shot"]
    assert partial["tasks"]["bbc_news"]["projected"]["task"]["test_accuracy"] is None
    (tmp_path / "out" / "zero_shot" / "bbc_news.json").unlink()  # nor its zero-shot column: food_reviews alone
    assert list(run_cross_model(spec, bank, tmp_path / "out", progress=False, run_missing=False)["tasks"]) == [
        "food_reviews"]
    with pytest.raises(BadArgumentError, match=r"cross-model experiment with other settings \(shots 2 there, 3 h"):
        run_cross_model(CrossModelSpec(**{**spec.__dict__, "shots": 3}), bank, tmp_path / "out", progress=False)


def test_a_task_a_projector_was_trained_on_is_refused(setup, tmp_path, cli):
    bank, paths = setup
    with pytest.raises(BadArgumentError, match="trained on 'movie_sentences'"):
        run_cross_model(CrossModelSpec(tuple(paths), ("movie_sentences",), prompt_length=4), bank, tmp_path / "o",
                        progress=False)
    code, _out, err = cli("experiment", "cross-model", "--projector", paths[0], "--tasks", "movie_sentences",
                         "--bank", bank.root, "--prompt-length", 4, "--out", tmp_path / "o2")
    assert code == 2 and "held out" in err and "Traceback" not in err


def test_the_command_prints_both_tables(setup, tmp_path, cli):
    bank, paths = setup
    code, out, err = cli("experiment", "cross-model", *(a for p in paths for a in ("--projector", p)), "--tasks",
                         "food_reviews,bbc_news", "--bank", bank.root, "--prompt-length", 4, "--seeds", 1, "--shots", 2,
                         "--steps", 2, "--eval-every", 2, "--test-size", 6, "--dtype", "float32", "--out", tmp_path / "o")
    assert code == 0, err
    assert "projected prompts on the target backbone" in out and "own training tasks" in out
    assert "movie_sentences" in out.split("own training tasks")[1] and (tmp_path / "o" / "report.html").exists()
    assert "prompts (near 1: one prompt for every task): source " in out


def test_the_spread_of_prompts_tells_one_prompt_for_every_task_from_a_map_of_tasks():
    spec = CrossModelSpec(("p",), ("x", "y", "z"))
    a, b = torch.zeros(2, 3), torch.zeros(2, 3)
    a[:, 0], b[:, 1] = 1.0, 1.0
    spread = cosine_between_tasks({"source:x": a, "source:y": b, "source:z": a + b,
                                   "task:x": a, "task:y": a, "task:z": 2 * a, "native:x": a}, spec, ["task"])
    assert spread["task"] == pytest.approx(1.0) and spread["source"] == pytest.approx((0 + 2 * 2 ** -0.5) / 3)
    assert "native" not in spread  # a single native prompt has no pair
