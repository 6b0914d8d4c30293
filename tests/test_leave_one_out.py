"""The leave-one-task-out projector experiment on tiny backbones: every fold's projector is trained without its
held-out task, every task's projection is scored on the held-out one, and the run continues where it stopped."""

import json

import pytest

from promptbank.backbones import load_backbone
from promptbank.bank import PromptBank
from promptbank.errors import BadArgumentError, DataError
from promptbank.experiments import leave_one_out
from promptbank.experiments.leave_one_out import LeaveOneOutSpec, folds, run_leave_one_out
from promptbank.projection.train import ProjectorConfig
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.init import init_prompt

TASKS = ("movie_sentences", "food_reviews", "bbc_news")


def test_folds_hold_each_task_out_once_and_never_train_on_it():
    made = folds(("a", "b", "c", "d"))
    assert [held for _, held in made] == ["a", "b", "c", "d"]
    for trained_on, held in made:
        assert held not in trained_on and set(trained_on) | {held} == {"a", "b", "c", "d"}
    with pytest.raises(BadArgumentError, match="at least 3 tasks"):
        LeaveOneOutSpec("x", "y", ("a", "b"))


@pytest.fixture
def bank(tiny_dirs, tmp_path):
    store = PromptBank(tmp_path / "bank", create=True)
    for name in (str(tiny_dirs["causal"]), str(tiny_dirs["causal48"])):
        backbone = load_backbone(name, "float32")
        for seed, task in enumerate(TASKS):
            prompt = init_prompt(backbone, 4, "vocab", seed=seed)
            prompt.info = {"task": task, "task_format": "single", "labels": ["a", "b"]}
            store.add(prompt, tags=["source"])
    yield store
    store.close()


def test_every_fold_scores_its_held_out_task_and_the_run_continues(tiny_dirs, bank, tmp_path, monkeypatch):
    spec = LeaveOneOutSpec(str(tiny_dirs["causal"]), str(tiny_dirs["causal48"]), TASKS, method="task",
                           config=ProjectorConfig(hidden=8, steps=2, inputs="delta", contrast_weight=1.0),
                           train_size=8, prompt_length=4, test_size=6, seeds=(0,), shots=2, dtype="float32",
                           train=TrainConfig(steps=2, eval_every=2, patience=0))
    trained = []
    real = leave_one_out.train_projector
    monkeypatch.setattr(leave_one_out, "train_projector",
                        lambda projection, store: trained.append(projection.tasks) or real(projection, store))
    summary = run_leave_one_out(spec, bank, tmp_path / "out", progress=False)
    assert trained == [("food_reviews", "bbc_news"), ("movie_sentences", "bbc_news"),
                       ("movie_sentences", "food_reviews")]  # never the held-out task
    assert list(summary["folds"]) == list(TASKS) and 0 <= summary["own_beats_every_other"] <= 3
    for held, row in summary["folds"].items():
        saved = json.loads((tmp_path / "out" / "folds" / held / "zero_shot.json").read_text())
        assert set(saved["accuracy"]) == {f"projected:{t}" for t in TASKS} | {"native", "random"}
        assert row["own"] == saved["accuracy"][f"projected:{held}"] and -1 <= row["output_cosine"] <= 1
        assert row["seeds"] == 1 and row["few_shot_gain_ci"] is not None
    rows = summary["folds"].values()
    assert summary["own_minus_random"] == pytest.approx(sum(r["own"] - r["random_prompt"] for r in rows) / 3)
    assert "| bbc_news |" in (tmp_path / "out" / "summary.md").read_text()
    assert (tmp_path / "out" / "zero_shot.png").stat().st_size and (tmp_path / "out" / "convergence.png").stat().st_size
    assert "<td>bbc_news</td>" in (tmp_path / "out" / "report.html").read_text()
    monkeypatch.setattr(leave_one_out, "train_projector", lambda *a: pytest.fail("a finished fold was retrained"))
    monkeypatch.setattr(leave_one_out, "few_shot_cell", lambda *a: pytest.fail("a finished cell was retrained"))
    assert run_leave_one_out(spec, bank, tmp_path / "out", progress=False) == summary


def test_a_fold_projector_that_saw_its_held_out_task_is_refused(tiny_dirs, bank, tmp_path):
    from promptbank.projection.bank import ProjectionSpec, train_projector
    from promptbank.projection.model import save_projector
    spec = LeaveOneOutSpec(str(tiny_dirs["causal"]), str(tiny_dirs["causal48"]), TASKS,
                           config=ProjectorConfig(hidden=8, steps=2), train_size=8, prompt_length=4, test_size=6,
                           seeds=(0,), shots=2, dtype="float32", train=TrainConfig(steps=2, eval_every=2, patience=0))
    leaky, _ = train_projector(ProjectionSpec(spec.source, spec.target, "task", TASKS, 4, 8, "float32", spec.config),
                               bank)
    save_projector(leaky, tmp_path / "out" / "folds" / "movie_sentences" / "projector")
    with pytest.raises(DataError, match="without 'movie_sentences'"):
        run_leave_one_out(spec, bank, tmp_path / "out", progress=False)


def test_the_cli_runs_the_folds_zero_shot_first_then_adds_few_shot_seeds(cli, tiny_dirs, bank, tmp_path):
    run = lambda seeds: cli("experiment", "projector-loo", "--from", tiny_dirs["causal"], "--to",
                            tiny_dirs["causal48"], "--tasks", ",".join(TASKS), "--bank", bank.root, "--out",
                            tmp_path / "loo", "--hidden", 8, "--projector-steps", 2, "--train-size", 8, "--seeds", seeds,
                            "--shots", 2, "--steps", 2, "--eval-every", 2, "--prompt-length", 4, "--test-size", 6,
                            "--dtype", "float32")
    code, out, err = run(0)
    assert code == 0, err
    assert "Own projection above the other tasks' mean in" in out and "| food_reviews |" in out
    results = json.loads((tmp_path / "loo" / "results.json").read_text())
    assert not results["cells"] and all(r["few_shot_gain_ci"] is None for r in results["summary"]["folds"].values())
    projector = tmp_path / "loo" / "folds" / "bbc_news" / "projector" / "projector.safetensors"
    made = projector.stat().st_mtime_ns
    code, out, err = run(1)
    assert code == 0, err
    results = json.loads((tmp_path / "loo" / "results.json").read_text())
    assert len(results["cells"]) == 3 and projector.stat().st_mtime_ns == made  # the folds' projectors reused
    code, _, err = run(0)  # a zero-shot-only run over finished folds still reports their seeds
    assert code == 0, err
    assert len(json.loads((tmp_path / "loo" / "results.json").read_text())["cells"]) == 3
    code, _, err = cli("experiment", "projector-loo", "--from", tiny_dirs["causal"], "--to", tiny_dirs["causal48"],
                       "--tasks", "movie_sentences,bbc_news", "--out", tmp_path / "two")
    assert code == 2 and "at least 3 tasks" in err and not (tmp_path / "two").exists()
