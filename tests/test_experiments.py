"""The transfer matrix end to end on a tiny model with real built-in tasks, and its statistics."""

import json
from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file

from promptbank.backbones import load_backbone
from promptbank.bank import PromptBank
from promptbank.bank.build import build_bank
from promptbank.errors import BadArgumentError, DataError, UnknownTaskError
from promptbank.experiments.matrix import (
    MatrixSpec,
    run_cell,
    run_matrix,
    source_prompts,
)
from promptbank.experiments.stats import spearman, steps_to_reach
from promptbank.scoring.evaluate import accuracy_of_many, evaluate
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.init import init_prompt
from promptbank.tuning import loop
from promptbank.tuning.loop import train_prompt
from promptbank.tuning.prompt import SoftPrompt
from promptbank.tuning.run import target_data
from test_train_many import Killed

SOURCES = ("movie_sentences", "food_reviews", "wiki_hedges")


def test_spearman_and_steps_to_reach():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 45]) == pytest.approx(1)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1)
    assert spearman([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486833)  # ties get average ranks
    assert spearman([1, 2], [1, 2]) is None and spearman([1, 1, 1], [1, 2, 3]) is None
    curve = [{"step": 0, "dev_accuracy": 0.5}, {"step": 5, "dev_accuracy": 0.7}, {"step": 10, "dev_accuracy": 0.8}]
    assert steps_to_reach(curve, 0.7) == 5 and steps_to_reach(curve, 0.9) is None


@pytest.fixture(scope="module")
def bank(tiny_dirs, tmp_path_factory):
    opened = PromptBank(tmp_path_factory.mktemp("bank") / "b", create=True)
    build_bank(list(SOURCES), opened, str(tiny_dirs["causal"]), shots=2, prompt_length=4,
               config=TrainConfig(steps=2, eval_every=2, patience=0, batch_size=4), dtype="float32", test_size=8,
               margin=None, progress=False)
    yield opened
    opened.close()


def test_matrix_writes_report_json_csv_and_continues(tiny_dirs, bank, tmp_path):
    spec = MatrixSpec(sources=SOURCES, targets=("rotten_tomatoes", "movie_sentences"), seeds=(0, 1),
                      backbone=str(tiny_dirs["causal"]), shots=2, train=TrainConfig(steps=4, eval_every=2, patience=0),
                      prompt_length=4, strategies=("weighted-average", "best-of-k"), k=2, test_size=8, dtype="float32")
    with pytest.raises(DataError, match="no finished"):
        run_matrix(spec, bank, tmp_path / "exp", progress=False, run_missing=False)
    assert not (tmp_path / "exp").exists()  # a report asked of nothing writes nothing
    cells, summary = run_matrix(spec, bank, tmp_path / "exp", progress=False)
    assert len(cells) == 4 and summary["cells_planned"] == 4
    cell = cells[0]
    assert set(cell["zero_shot"]) == set(SOURCES)
    # every metric on the prompts, and every embedding metric on task vectors (the sources know their inits)
    assert set(cell["similarity"]) == set(spec.metrics) | {f"{m} (delta)" for m in spec.metrics if m != "on"}
    deltas = bank.stack(spec.backbone, delta=True)
    target = load_file(tmp_path / "exp" / "cells" / f"{cell['target']}-seed{cell['seed']}.safetensors")["prompt"]
    backbone = load_backbone(spec.backbone, "float32")
    target_delta = target - init_prompt(backbone, spec.prompt_length, "random", seed=cell["seed"]).tensor
    for task, value in cell["similarity"]["cosine (delta)"].items():
        (i,) = [k for k, r in enumerate(deltas[1]) if r.task == task]
        expected = torch.nn.functional.cosine_similarity(deltas[0][i].flatten(), target_delta.flatten(), dim=0)
        assert value == pytest.approx(expected.item(), abs=1e-5)
    assert "cosine (delta)" in summary["spearman_with_gain"]
    assert set(cell["per_source"]) == set(SOURCES)  # rotten_tomatoes is not a source: every source is trained
    assert "movie_sentences" not in cells[2]["per_source"]  # a source is not transferred to its own task
    backbone = load_backbone(spec.backbone, "float32")
    test_items = target_data(backbone, "rotten_tomatoes", 2, 1, test_size=8).test_items
    fresh = accuracy_of_many(backbone, source_prompts(bank, backbone, SOURCES, 4)[0], test_items)
    assert cells[1]["zero_shot"] == dict(zip(SOURCES, fresh.tolist()))  # seed 1 reuses seed 0's, which are the same
    assert cells[1]["zero_shot_split"] == "test" and summary["zero_shot_split"] == "test"  # as the gains are
    run = cell["per_source"]["food_reviews"]
    assert run["gain"] == pytest.approx(run["test_accuracy"] - cell["random"]["test_accuracy"])
    assert [p["step"] for p in run["curve"]] == [0, 2, 4]
    assert set(summary["strategies"]["rotten_tomatoes"]) == {"random", "weighted-average", "best-of-k",
                                                             "best single source (dev)",
                                                             "best single source (oracle, test)"}
    assert len(run["test_correct"]) == 8 and run["test_correct"].count("1") / 8 == run["test_accuracy"]
    for name, entry in summary["strategies"]["rotten_tomatoes"].items():
        ci = entry["gain_ci"]  # paired with random init over 2 seeds × 8 test examples
        assert ci["low"] <= ci["mean"] <= ci["high"] and ci["mean"] == pytest.approx(entry["gain"]), name
    chosen = summary["strategies"]["rotten_tomatoes"]["best single source (dev)"]
    assert chosen["sources_seed0"][0] in SOURCES and chosen["test_accuracy_std"] is not None
    assert set(summary["spearman_with_gain"]) == set(cell["similarity"]) | {"zero-shot"}
    by_group = summary["spearman_with_gain"]["zero-shot"]
    assert set(by_group) == {"all pairs", "rotten_tomatoes", "movie_sentences"}
    assert by_group["rotten_tomatoes"] == spearman([summary["zero_shot"][s]["rotten_tomatoes"] for s in SOURCES],
                                                   [summary["gain"][s]["rotten_tomatoes"] for s in SOURCES])
    results = json.loads((tmp_path / "exp" / "results.json").read_text())
    assert results["summary"]["targets"] == ["rotten_tomatoes", "movie_sentences"]
    lines = (tmp_path / "exp" / "matrix.csv").read_text().strip().splitlines()
    assert len(lines) == 1 + len(SOURCES) * 2 * 2 and lines[0].startswith("source,target,seed,zero_shot")
    page = (tmp_path / "exp" / "report.html").read_text()
    # the convergence panels (one per target), the zero-shot and gain heatmaps, one heatmap per metric
    assert page.count("data:image/png;base64,") == 1 + 2 + len(spec.metrics) and "Spearman" in page
    assert (tmp_path / "exp" / "convergence.png").read_bytes()[:4] == b"\x89PNG"
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "exp" / "cells").iterdir()}
    run_matrix(spec, bank, tmp_path / "exp", progress=False)  # every cell is done: nothing is trained again
    assert before == {p.name: p.stat().st_mtime_ns for p in (tmp_path / "exp" / "cells").iterdir()}
    grown = MatrixSpec(**{**spec.__dict__, "targets": ("rotten_tomatoes",), "seeds": (0, 1, 2)})
    cells, summary = run_matrix(grown, bank, tmp_path / "exp", progress=False)  # one target, one more seed
    # the report still covers the folder: the target this command left out keeps its cells and its rows
    assert [(c["target"], c["seed"]) for c in cells] == [("rotten_tomatoes", s) for s in (0, 1, 2)] + [
        ("movie_sentences", s) for s in (0, 1)]
    assert summary["targets"] == ["rotten_tomatoes", "movie_sentences"] and summary["cells_planned"] == 5
    results = json.loads((tmp_path / "exp" / "results.json").read_text())
    assert results["spec"]["targets"] == ["rotten_tomatoes", "movie_sentences"] and results["spec"]["seeds"] == [0, 1, 2]
    assert set(results["summary"]["strategies"]["movie_sentences"]) >= {"random", "best-of-k"}
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "exp" / "cells").iterdir()}
    assert {name: after[name] for name in before} == before and set(after) - set(before) == {
        "rotten_tomatoes-seed2.json", "rotten_tomatoes-seed2.safetensors"}  # only the new cell was trained
    (tmp_path / "exp" / "cells" / "movie_sentences-seed1.json").unlink()  # as if that cell had not finished
    cells, summary = run_matrix(spec, bank, tmp_path / "exp", progress=False, run_missing=False)
    assert len(cells) == 4 and "4 of 5" in (tmp_path / "exp" / "report.html").read_text()
    # a report asked with a target that has no cells yet covers the folder's others
    cells, _ = run_matrix(replace(spec, targets=("snli",)), bank, tmp_path / "exp", progress=False, run_missing=False)
    assert len(cells) == 4
    with pytest.raises(BadArgumentError, match="other settings \\(steps 4 there, 6 here\\)"):
        run_matrix(replace(spec, train=replace(spec.train, steps=6)), bank, tmp_path / "exp", progress=False)
    # "auto" is recorded as the dtype it means on this host, so a run continued elsewhere cannot mix precisions
    assert MatrixSpec(sources=SOURCES, targets=("rotten_tomatoes",), dtype="auto").dtype in ("float32", "bfloat16")


def test_a_cell_trained_together_equals_its_runs_trained_one_by_one(tiny_dirs, bank):
    """run_cell trains its runs in one train_many pass; each must be what its own train_prompt run gives."""
    spec = MatrixSpec(sources=SOURCES, targets=("rotten_tomatoes",), seeds=(1,), backbone=str(tiny_dirs["causal"]),
                      shots=2, train=TrainConfig(steps=4, eval_every=2, patience=0), prompt_length=4,
                      strategies=("weighted-average", "vocab"), k=2, test_size=8, dtype="float32")
    backbone = load_backbone(spec.backbone, "float32")
    prompts, records = source_prompts(bank, backbone, SOURCES, 4)
    cell, random_prompt = run_cell(spec, bank, backbone, prompts, records, "rotten_tomatoes", 1)
    data = target_data(backbone, "rotten_tomatoes", 2, 1, test_size=8)
    config = spec.config(1)
    alone = train_prompt(backbone, data.train_items, data.dev_items, init_prompt(backbone, 4, "random", seed=1),
                         config, progress=False)
    assert torch.allclose(alone.prompt.tensor, random_prompt, atol=1e-5)
    assert [p["dev_accuracy"] for p in alone.curve] == [p["dev_accuracy"] for p in cell["random"]["curve"]]
    source = SoftPrompt(prompts[1], backbone.name, backbone.tokenizer_fingerprint, "prompt")
    alone = train_prompt(backbone, data.train_items, data.dev_items, source, config, progress=False)
    run = cell["per_source"][SOURCES[1]]
    assert evaluate(backbone, alone.prompt.tensor, data.test_items).accuracy == run["test_accuracy"]
    assert alone.best_step == run["best_step"] and alone.best_dev == run["best_dev"]
    vocab = init_prompt(backbone, 4, "vocab", seed=1, task=data.task)
    alone = train_prompt(backbone, data.train_items, data.dev_items, vocab, config, progress=False)
    assert evaluate(backbone, alone.prompt.tensor, data.test_items).accuracy == cell["strategies"]["vocab"][
        "test_accuracy"]
    assert cell["strategies"]["weighted-average"]["lineage"]["method"] == "weighted-average"


def test_experiment_cli_prints_the_comparison(cli, tiny_dirs, bank, tmp_path):
    code, out, err = cli("experiment", "matrix", "--targets", "movie_sentences", "--seeds", 1, "--bank", bank.root,
                         "--backbone", tiny_dirs["causal"], "--shots", 2, "--steps", 2, "--eval-every", 2,
                         "--prompt-length", 4, "--strategies",
                         "weighted-average", "--k", 1, "--no-per-source", "--test-size", 4, "--dtype", "float32",
                         "--lr", 0.05, "--out", tmp_path / "exp")
    assert code == 0, err
    assert "random vs transfer init" in out and "zero-shot" in out and "weighted-average" in out
    page = (tmp_path / "exp" / "report.html").read_text()
    # no per-source runs: the sources' zero-shot table is retrieval's, on the few-shot dev set, not a test pass
    assert "on the target's dev set" in page
    results = json.loads((tmp_path / "exp" / "results.json").read_text())
    cell = results["cells"][0]
    assert cell["zero_shot_split"] == "dev" and set(cell["zero_shot"]) == set(SOURCES) - {"movie_sentences"}
    recorded = json.loads((tmp_path / "exp" / "spec.json").read_text())
    assert recorded["train"]["lr"] == 0.05 and recorded["train"]["warmup"] == 0.06  # warmup: the recipe's
    assert recorded["sources"] == sorted(set(SOURCES) - {"movie_sentences"})  # the bank's sources but the target


def test_zero_shot_summary_splits_out_the_tasks_some_prompt_learns():
    from promptbank.experiments.zero_shot import summarize
    categories = {"pos": "sentiment", "topic": "topic"}
    columns = [  # learnt by its own prompt (0.9 ≥ 0.5 + 0.05); the topic source 0.2 over majority, 0.1 under template
        {"task": "pos", "category": "sentiment", "majority": 0.5, "template": 0.8,
         "zero_shot": {"pos": 0.9, "topic": 0.7}},
        # no prompt reaches 0.05 over majority: left out of the learnable figures
        {"task": "nli", "category": "nli", "majority": 0.5, "template": 0.5, "zero_shot": {"pos": 0.52, "topic": 0.5}}]
    s = summarize(columns, categories)
    assert s["learnable_tasks"] == ["pos"] and s["learnable_pairs_other_category"] == 1
    assert s["learnable_over_majority_other_category"] == pytest.approx(0.2)
    assert s["learnable_over_template_other_category"] == pytest.approx(-0.1)
    assert s["over_majority_other_category"] == pytest.approx((0.2 + 0.02 + 0.0) / 3)
    assert s["learnable_over_majority_same_category"] is None  # no same-category pair on a learnable task


def test_zero_shot_summaries_written_before_read_with_categories():
    from promptbank.experiments.zero_shot import summary_rows, with_categories
    old = {"task": "pos", "kind": "sentiment", "mean_same_kind": 0.7, "mean_other_kind": 0.5, "native": {}}
    assert with_categories(old) == {"task": "pos", "category": "sentiment", "mean_same_category": 0.7,
                                    "mean_other_category": 0.5, "native": {}}
    keys = ("mean", "relative", "over_majority", "over_template", "learnable_over_majority", "learnable_over_template")
    rows = summary_rows({f"{key}_{group}_kind": 0.1 for key in keys for group in ("same", "other")})
    assert [row[1:] for row in rows] == [(0.1, 0.1)] * 6 and rows[0][0] == "mean zero-shot accuracy"


def test_zero_shot_matrix_scores_every_source_on_every_task_and_continues(cli, tiny_dirs, tmp_path, monkeypatch):
    from promptbank.experiments import zero_shot as zero_shot_matrix
    from promptbank.experiments.zero_shot import ZeroShotSpec, run_zero_shot_matrix
    with PromptBank(tmp_path / "b", create=True) as bank:
        build_bank(["movie_sentences", "wiki_hedges"], bank, str(tiny_dirs["causal"]), shots=2, prompt_length=4,
                   config=TrainConfig(steps=2, eval_every=2, patience=0, batch_size=4), dtype="float32", test_size=8,
                   margin=None, progress=False)
        spec = ZeroShotSpec(str(tiny_dirs["causal"]), ("movie_sentences", "rotten_tomatoes", "wiki_hedges"),
                            test_size=6, prompt_length=4, dtype="float32")
        summary = run_zero_shot_matrix(spec, bank, tmp_path / "zs", progress=False)
        result = json.loads((tmp_path / "zs" / "zero_shot.json").read_text())
        assert [c["task"] for c in result["columns"]] == list(spec.tasks)
        for c in result["columns"]:
            assert set(c["zero_shot"]) == {"movie_sentences", "wiki_hedges"} and c["test_examples"] == 6
            assert 0 <= c["template"] <= 1 and 0 <= c["majority"] <= 1
        # sentiment → sentiment is the one same-category pair (rotten_tomatoes), the diagonal is native
        assert summary["pairs_same_category"] == 1 and summary["pairs_other_category"] == 3
        rotten = result["columns"][1]
        assert rotten["category"] == "sentiment" and result["sources"][0]["category"] == "sentiment"
        assert summary["mean_same_category"] == rotten["zero_shot"]["movie_sentences"]
        assert summary["over_template_same_category"] == pytest.approx(rotten["zero_shot"]["movie_sentences"]
                                                                       - rotten["template"])
        assert summary["native"]["movie_sentences"] == result["columns"][0]["zero_shot"]["movie_sentences"]
        csv = (tmp_path / "zs" / "zero_shot.csv").read_text().splitlines()
        assert csv[0] == "source,movie_sentences,rotten_tomatoes,wiki_hedges" and len(csv) == 5
        assert (tmp_path / "zs" / "zero_shot.png").read_bytes()[:4] == b"\x89PNG"
        monkeypatch.setattr(zero_shot_matrix, "score_column",
                            lambda *a: pytest.fail("a finished column was recomputed"))
        assert run_zero_shot_matrix(spec, bank, tmp_path / "zs", progress=False) == summary
        # a column written before a task's type was its category (key "kind") reads as one
        path = tmp_path / "zs" / "columns" / "rotten_tomatoes.json"
        column = json.loads(path.read_text())
        path.write_text(json.dumps({("kind" if k == "category" else k): v for k, v in column.items()}))
        assert run_zero_shot_matrix(spec, bank, tmp_path / "zs", progress=False, run_missing=False) == summary
        with pytest.raises(BadArgumentError, match=r"zero-shot matrix with other settings \(test_size 6 there, 7 "):
            run_zero_shot_matrix(replace(spec, test_size=7), bank, tmp_path / "zs", progress=False)
    # the CLI's --report-only: a column asked for but not finished (food_reviews) is left out, nothing is scored
    code, out, err = cli("experiment", "zero-shot", "--tasks", "movie_sentences,rotten_tomatoes,wiki_hedges,food_reviews",
                         "--bank", tmp_path / "b", "--backbone", tiny_dirs["causal"], "--test-size", 6,
                         "--prompt-length", 4, "--dtype", "float32", "--out", tmp_path / "zs", "--report-only")
    assert code == 0, err
    assert [c["task"] for c in json.loads((tmp_path / "zs" / "zero_shot.json").read_text())["columns"]] == list(
        spec.tasks)
    code, _, err = cli("experiment", "zero-shot", "--tasks", "food_reviews", "--bank", tmp_path / "b", "--backbone",
                       tiny_dirs["causal"], "--test-size", 6, "--prompt-length", 4, "--dtype", "float32", "--out",
                       tmp_path / "empty", "--report-only")
    assert code == 2 and "holds no finished zero-shot columns yet" in err


def test_baseline_inits_alone_need_no_sources(cli, tiny_dirs, bank, tmp_path):
    """The PPT experiment compares inits that use no source prompt: nothing is scored zero-shot for it."""
    with pytest.raises(BadArgumentError, match="need at least one source"):
        MatrixSpec(sources=(), targets=("rotten_tomatoes",), strategies=("vocab",))
    with pytest.raises(BadArgumentError, match="need at least one source"):
        MatrixSpec(sources=(), targets=("rotten_tomatoes",), strategies=("weighted-average",), per_source=False)
    spec = MatrixSpec(sources=(), targets=("rotten_tomatoes",), seeds=(0, 1), backbone=str(tiny_dirs["causal"]),
                      shots=2, train=TrainConfig(steps=2, eval_every=2, patience=0), prompt_length=4,
                      strategies=("vocab",), per_source=False, test_size=8, dtype="float32")
    cells, summary = run_matrix(spec, bank, tmp_path / "exp", progress=False)
    assert [c["zero_shot"] for c in cells] == [{}, {}] and summary["zero_shot"] == {}
    vocab = summary["strategies"]["rotten_tomatoes"]["vocab"]
    assert vocab["gain_ci"]["low"] <= vocab["gain"] <= vocab["gain_ci"]["high"]
    assert "Zero-shot transfer" not in (tmp_path / "exp" / "report.html").read_text()
    code, out, err = cli("experiment", "matrix", "--targets", "rotten_tomatoes", "--seeds", 1, "--bank", bank.root,
                         "--backbone", tiny_dirs["causal"], "--shots", 2, "--steps", 2, "--eval-every", 2,
                         "--prompt-length", 4, "--sources", "", "--strategies", "vocab", "--no-per-source",
                         "--test-size", 8, "--dtype", "float32", "--out", tmp_path / "cli")
    assert code == 0, err
    assert "vocab" in out and "zero-shot test accuracy" not in out


def test_a_refused_or_failed_command_leaves_no_folder(tiny_dirs, bank, tmp_path):
    spec = MatrixSpec(sources=("bbc_news",), targets=("rotten_tomatoes",), seeds=(0,),
                      backbone=str(tiny_dirs["causal"]),
                      shots=2, train=TrainConfig(steps=2, eval_every=2, patience=0), prompt_length=4,
                      strategies=("weighted-average",), k=1, test_size=8, dtype="float32")
    with pytest.raises(DataError, match="no .* prompt for source task 'bbc_news'"):
        run_matrix(spec, bank, tmp_path / "exp", progress=False)  # the bank has no bbc_news prompt
    assert not (tmp_path / "exp").exists()
    with pytest.raises(UnknownTaskError, match="Unknown task 'no_such_task'"):
        run_matrix(replace(spec, targets=("no_such_task",)), bank, tmp_path / "exp", progress=False)
    assert not (tmp_path / "exp").exists()


def test_task_vector_strategies_run_in_a_cell_and_the_report_shows_what_they_chose(tiny_dirs, bank, tmp_path):
    spec = MatrixSpec(sources=SOURCES, targets=("rotten_tomatoes",), seeds=(0,), backbone=str(tiny_dirs["causal"]),
                      shots=2, train=TrainConfig(steps=2, eval_every=2, patience=0), prompt_length=4,
                      strategies=("learned-mixture", "delta-average", "attention-mixture"), k=2, by="zero-shot",
                      per_source=False, test_size=8, dtype="float32")
    (cell,), summary = run_matrix(spec, bank, tmp_path / "exp", progress=False)
    mixture, delta, attention = (cell["strategies"][name]["lineage"] for name in spec.strategies)
    assert "weights_spread" in attention and len(cell["strategies"]["attention-mixture"]["test_correct"]) == 8
    assert len(mixture["learned_weights"]) == 2 and sum(mixture["learned_weights"]) == pytest.approx(1)
    shown = summary["strategies"]["rotten_tomatoes"]
    tasks = cell["strategies"]["learned-mixture"]["source_tasks"]
    assert shown["learned-mixture"]["sources_seed0"] == [f"{t} ({w:.2f})" for t, w in zip(tasks,
                                                                                         mixture["learned_weights"])]
    assert shown["delta-average"]["sources_seed0"][-1] == f"λ {delta['lambda']:g}" and delta["base"] == "target"
    assert 0 <= shown["learned-mixture"]["dev_auc"] <= 1 and shown["random"]["reached_95"] == 1  # random reaches its own
    assert (tmp_path / "exp" / "report.html").read_text().count("dev AUC") == 1


def test_the_summary_counts_how_often_retrieval_holds_the_oracle_source():
    from promptbank.experiments.matrix import _oracle_retrieved
    run = lambda accuracy: {"test_accuracy": accuracy}
    picked = {"w": {"source_tasks": ["a", "b"]}}
    cells = [{"per_source": {"a": run(0.9), "b": run(0.6), "c": run(0.5)}, "strategies": picked},
             {"per_source": {"a": run(0.5), "b": run(0.6), "c": run(0.9)}, "strategies": picked},
             {"per_source": {}, "strategies": picked}]  # no oracle without its runs
    assert _oracle_retrieved(cells) == {"hits": 1, "cells": 2}
    assert _oracle_retrieved(cells[2:]) is None


def test_the_area_under_the_dev_curve_is_the_mean_dev_accuracy_along_training():
    from promptbank.experiments.stats import dev_auc
    curve = [{"step": 0, "dev_accuracy": 0.5}, {"step": 10, "dev_accuracy": 0.7}, {"step": 30, "dev_accuracy": 0.7}]
    assert dev_auc(curve) == pytest.approx((10 * 0.6 + 20 * 0.7) / 30)
    assert dev_auc(curve[:1]) is None


def test_a_matrix_on_full_data_trains_on_the_training_split_with_validation_dev(cli, tiny_dirs, bank, tmp_path):
    code, out, err = cli("experiment", "matrix", "--bank", bank.root, "--backbone", tiny_dirs["causal"], "--sources",
                         ",".join(SOURCES), "--targets", "rotten_tomatoes", "--seeds", 1, "--shots", "all",
                         "--train-size", 12, "--dev-size", 6, "--steps", 2, "--eval-every", 2, "--prompt-length", 4,
                         "--strategies", "delta-average", "--k", 2, "--no-per-source", "--test-size", 8, "--dtype",
                         "float32", "--out", tmp_path / "full")
    assert code == 0, err
    spec = json.loads((tmp_path / "full" / "spec.json").read_text())
    assert (spec["shots"], spec["train_size"], spec["dev_size"]) == (None, 12, 6)
    (cell,) = [json.loads(p.read_text()) for p in (tmp_path / "full" / "cells").glob("*.json")]
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    data = target_data(backbone, "rotten_tomatoes", None, 0, dev_size=6, test_size=8, train_size=12)
    assert (len(data.train_items), len(data.dev_items)) == (12, 6)
    alone = train_prompt(backbone, data.train_items, data.dev_items, init_prompt(backbone, 4, "random", seed=0),
                         TrainConfig(steps=2, eval_every=2, patience=0), progress=False)
    assert [p["dev_accuracy"] for p in alone.curve] == [p["dev_accuracy"] for p in cell["random"]["curve"]]


def test_a_cell_stopped_in_training_continues_from_its_last_evaluation(tiny_dirs, bank, tmp_path, monkeypatch):
    spec = MatrixSpec(sources=SOURCES, targets=("rotten_tomatoes",), seeds=(0,), backbone=str(tiny_dirs["causal"]),
                      shots=2, train=TrainConfig(steps=4, eval_every=2, patience=0), prompt_length=4,
                      strategies=("weighted-average", "vocab"), k=2, test_size=8, dtype="float32", per_source=False)
    (reference,), _ = run_matrix(spec, bank, tmp_path / "whole", progress=False)
    save, saved = loop._save, []

    def dying(directory, runs, optimizer, identity, step, elapsed):
        save(directory, runs, optimizer, identity, step, elapsed)
        saved.append(step)
        if step == 2 and len(saved) == 2:  # killed right after the checkpoint of step 2, in the first run only
            raise Killed
    monkeypatch.setattr(loop, "_save", dying)
    with pytest.raises(Killed):
        run_matrix(spec, bank, tmp_path / "stopped", progress=False)
    partial = tmp_path / "stopped" / "cells" / "rotten_tomatoes-seed0.partial"
    assert json.loads((partial / "checkpoint.json").read_text())["step"] == 2
    assert not (tmp_path / "stopped" / "cells" / "rotten_tomatoes-seed0.json").exists()
    saved.clear()
    (cell,), _ = run_matrix(spec, bank, tmp_path / "stopped", progress=False)
    assert saved == [4], "the continued cell trains from its checkpoint of step 2, not from the start"
    assert not partial.exists()  # the cell is saved: its checkpoint goes

    def measured(run: dict) -> tuple:
        return run["test_correct"], [(p["step"], p["dev_accuracy"]) for p in run["curve"]], run["best_step"]
    assert measured(cell["random"]) == measured(reference["random"])
    for name in spec.strategies:
        assert measured(cell["strategies"][name]) == measured(reference["strategies"][name]), name
