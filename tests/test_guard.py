"""The guard against negative transfer: its test, a guarded transfer falling back to random init, and its replay over
a finished matrix."""

import json
from math import comb

import pytest
import torch
from test_transfer import TINY, source_bank  # noqa: F401  (the module's bank fixture)

from promptbank.backbones import load_backbone
from promptbank.errors import BadArgumentError
from promptbank.experiments.guard_replay import dev_labels, replay
from promptbank.experiments.matrix import MatrixSpec
from promptbank.transfer import run as transfer_module
from promptbank.transfer.guard import Verdict, binomial_tail, dev_floor, judge
from promptbank.transfer.run import TransferSpec, transfer_run
from promptbank.tuning.init import init_prompt


def test_the_binomial_tail_and_the_floor():
    assert binomial_tail(0, 7, 0.3) == pytest.approx(1)
    assert binomial_tail(5, 5, 0.5) == pytest.approx(0.5 ** 5)
    assert binomial_tail(2, 3, 0.5) == pytest.approx(0.5)
    assert binomial_tail(30, 64, 0.25) == pytest.approx(sum(comb(64, i) * 0.25 ** i * 0.75 ** (64 - i)
                                                            for i in range(30, 65)))
    assert dev_floor([0, 0, 1]) == pytest.approx(2 / 3) and dev_floor([2, 1, 0, 3]) == pytest.approx(1 / 4)


def test_a_source_fits_only_clearly_above_the_floor_and_being_the_best_of_many_costs_evidence():
    balanced = [0, 1] * 32
    assert judge(52 / 64, balanced, 10, 0.05).fits  # a sentiment source on a sentiment target
    assert not judge(36 / 64, balanced, 10, 0.05).fits  # within luck of always answering one label
    # 41 of 64: enough for a single source (p ≈ 0.015), not for the best of 10 (Bonferroni: p ≈ 0.15)
    assert judge(41 / 64, balanced, 1, 0.05).fits and not judge(41 / 64, balanced, 10, 0.05).fits
    skewed = [0] * 48 + [1] * 16  # always answering 0 scores 0.75: a source must beat that, not one half
    assert not judge(52 / 64, skewed, 1, 0.05).fits
    verdict = judge(52 / 64, balanced, 10, 0.05)
    assert verdict.floor == 0.5 and verdict.candidates == 10 and verdict.p_value == pytest.approx(
        10 * binomial_tail(52, 64, 0.5))


@pytest.mark.parametrize("alpha", [0, 1, 1.5, -0.1])
def test_a_guard_level_outside_0_to_1_is_refused(alpha):
    with pytest.raises(BadArgumentError, match="--guard"):
        TransferSpec(target="x", guard=alpha)
    with pytest.raises(BadArgumentError, match="--guard"):
        MatrixSpec(sources=("a",), targets=("b",), guard=alpha)


def test_a_guarded_transfer_no_source_fits_starts_from_random_init(tiny_dirs, source_bank):  # noqa: F811
    """Random-weight sources score near chance on 4 dev examples: the guard sends the run back to random init, and
    the run is then the random-init baseline's, step for step."""
    common = dict(target="rotten_tomatoes", k=2, by="zero-shot", backbone=str(tiny_dirs["causal"]), shots=2,
                  prompt_length=4, dtype="float32", test_size=8, train=TINY)
    guarded = transfer_run(TransferSpec(strategy="delta-average", guard=0.05, **common), source_bank, progress=False)
    baseline = transfer_run(TransferSpec(strategy="random", **common), source_bank, progress=False)
    lineage = guarded.lineage
    assert lineage["fallback"] == "random" and lineage["sources"] == []
    assert lineage["retrieved"] == [r.record.id for r in guarded.ranking[:2]]
    assert not lineage["guard"]["fits"] and lineage["guard"]["candidates"] == 5 and lineage["guard"]["p_value"] >= 0.05
    backbone = load_backbone(common["backbone"], "float32")
    assert torch.equal(guarded.prompt.init_tensor, init_prompt(backbone, 4, "random", seed=0).tensor)
    assert torch.equal(guarded.prompt.tensor, baseline.prompt.tensor)
    assert guarded.test.predictions == baseline.test.predictions


def test_a_guarded_transfer_whose_source_fits_transfers_and_records_the_verdict(tiny_dirs, source_bank,  # noqa: F811
                                                                               monkeypatch):
    seen = {}

    def passing(best, labels, candidates, alpha):
        seen.update(best=best, labels=labels, candidates=candidates)
        return Verdict(True, best, dev_floor(labels), 0.001, candidates, alpha)
    monkeypatch.setattr(transfer_module, "judge", passing)
    spec = TransferSpec(target="rotten_tomatoes", strategy="best-of-k", k=2, by="similarity", metric="cosine",
                        guard=0.05, backbone=str(tiny_dirs["causal"]), shots=2, prompt_length=4, embedding_steps=2,
                        probe_steps=2, dtype="float32", test_size=8, train=TINY)
    result = transfer_run(spec, source_bank, progress=False)
    assert "fallback" not in result.lineage and result.lineage["guard"]["fits"]
    assert result.lineage["sources"] == [r.record.id for r in result.ranking[:2]]
    assert seen["candidates"] == 2 and len(seen["labels"]) == 4  # by similarity: the top k, scored on dev here


def _cell(target: str, seed: int, best: float, random: str, strategy: str) -> dict:
    run = lambda correct: {"test_accuracy": correct.count("1") / len(correct), "test_correct": correct}
    return {"target": target, "seed": seed, "random": run(random), "zero_shot": {f"s{i}": 0.5 for i in range(9)},
            "strategies": {"vocab": run(strategy) | {"lineage": {"method": "vocab", "sources": []}},
                           "best-of-k": run(strategy) | {"lineage": {"method": "best-of-k", "by": "zero-shot",
                                                                     "sources": ["a"], "scores": [best]}}}}


def test_the_replay_rebuilds_each_cells_dev_set_and_counts_a_fallback_as_the_random_run(tmp_path):
    folder = tmp_path / "matrix"
    (folder / "cells").mkdir(parents=True)
    (folder / "spec.json").write_text(json.dumps({"shots": 16, "dev_size": 200, "strategies": ["vocab", "best-of-k"]}))
    labels = dev_labels("rotten_tomatoes", 16, 0, 200)
    assert len(labels) == 32 and dev_floor(labels) == 0.5  # 16 of each label, as target_data draws them
    for seed, best in ((0, 1.0), (1, 0.5)):  # seed 0's best source clearly fits; seed 1's is at the floor
        (folder / "cells" / f"rotten_tomatoes-seed{seed}.json").write_text(json.dumps(
            _cell("rotten_tomatoes", seed, best, random="0000", strategy="1111")))
    result = replay(folder, 0.05)["targets"]["rotten_tomatoes"]
    assert [v["fits"] for v in result["verdicts"]] == [True, False]
    assert list(result["strategies"]) == ["best-of-k"]  # vocab retrieves nothing: the guard does not touch it
    row = result["strategies"]["best-of-k"]
    assert row["fell_back"] == 1 and row["gain"]["mean"] == pytest.approx(1.0)
    assert row["guarded_gain"]["mean"] == pytest.approx(0.5)


def test_the_replay_command_prints_and_writes_the_verdicts(cli, tmp_path):
    folder = tmp_path / "matrix"
    (folder / "cells").mkdir(parents=True)
    (folder / "spec.json").write_text(json.dumps({"shots": 16, "strategies": ["best-of-k"]}))
    (folder / "cells" / "rotten_tomatoes-seed0.json").write_text(json.dumps(
        _cell("rotten_tomatoes", 0, 0.5, random="0011", strategy="0000")))
    code, out, err = cli("experiment", "guard-replay", folder, "--out", tmp_path / "g.json")
    assert code == 0, err
    assert "1/1" in out and "best-of-k" in out
    written = json.loads((tmp_path / "g.json").read_text())
    assert written[0]["targets"]["rotten_tomatoes"]["strategies"]["best-of-k"]["guarded_gain"]["mean"] == 0


def test_a_guarded_matrix_cell_falls_back_to_its_own_random_run(tiny_dirs, source_bank, tmp_path):  # noqa: F811
    """Trained in the same pass as the cell's random-init run, from the same tensor: the same predictions, gain 0."""
    from promptbank.experiments.matrix import run_matrix
    spec = MatrixSpec(sources=("movie_sentences", "food_reviews", "wiki_hedges"), targets=("rotten_tomatoes",),
                      seeds=(0,), backbone=str(tiny_dirs["causal"]), shots=2, train=TINY, prompt_length=4,
                      strategies=("best-of-k",), k=2, by="zero-shot", guard=0.05, per_source=False, test_size=8,
                      dtype="float32")
    (cell,), summary = run_matrix(spec, source_bank, tmp_path / "exp", progress=False)
    run = cell["strategies"]["best-of-k"]
    assert run["lineage"]["fallback"] == "random" and run["source_tasks"] == []
    assert run["test_correct"] == cell["random"]["test_correct"] and run["gain"] == 0
    assert summary["strategies"]["rotten_tomatoes"]["best-of-k"]["fell_back"] == 1


def test_the_replay_refuses_a_matrix_ranked_by_similarity(tmp_path):
    (tmp_path / "cells").mkdir()
    (tmp_path / "spec.json").write_text(json.dumps({"shots": 16, "by": "similarity", "strategies": ["best-of-k"]}))
    with pytest.raises(BadArgumentError, match="zero-shot"):
        replay(tmp_path, 0.05)
