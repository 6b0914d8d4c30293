"""The recipe sweep: every grid point trained and scored on dev data, saved as it finishes, grids may grow."""

import json

import pytest

from promptbank.errors import BadArgumentError
from promptbank.experiments import sweep as sweep_module
from promptbank.experiments.sweep import SweepSpec, run_sweep
from promptbank.tuning.config import TrainConfig


def spec_for(model, steps=2, **changes):
    base = {"backbone": str(model), "tasks": ("movie_sentences",), "lrs": (0.01, 0.1), "seeds": (0,), "shots": 2,
            "dev_size": 6, "dtype": "float32", "train": TrainConfig(steps=steps, eval_every=1, patience=0)}
    return SweepSpec(**{**base, **changes})


def test_sweep_scores_every_setting_on_dev_and_continues(tiny_dirs, tmp_path, monkeypatch):
    spec = spec_for(tiny_dirs["causal"])
    summary = run_sweep(spec, tmp_path / "sw", progress=False)
    assert [(s["lr"], s["runs"]) for s in summary["settings"]] == [(0.01, 1), (0.1, 1)]
    cell = json.loads((tmp_path / "sw" / "cells" / "movie_sentences-lr0.01-w0.06-L20-random-s0.json").read_text())
    assert cell["dev_examples"] == 6 and [p["step"] for p in cell["curve"]] == [0, 1, 2]
    assert cell["final_dev"] == cell["curve"][-1]["dev_accuracy"]
    assert cell["start_dev"] == cell["curve"][0]["dev_accuracy"]
    for setting in summary["settings"]:
        assert 0 <= setting["knocked_out"] <= 1
    best = summary["best"]["random"]
    assert best["final_dev"] == max(s["final_dev"] for s in summary["settings"])
    assert (tmp_path / "sw" / "sweep.csv").read_text().startswith("init,lr,warmup,prompt_length")
    trained = []
    original = sweep_module.run_cell
    monkeypatch.setattr(sweep_module, "run_cell", lambda *a, **k: trained.append(a[2:]) or original(*a, **k))
    grown = spec_for(tiny_dirs["causal"], lrs=(0.01, 0.1, 0.3))
    assert len(run_sweep(grown, tmp_path / "sw", progress=False)["settings"]) == 3
    assert trained == [("movie_sentences", 0.3, 0.06, 20, "random", 0)]  # only the new grid point
    other = run_sweep(spec_for(tiny_dirs["causal"], lrs=(0.01,), warmups=(0.2,)), tmp_path / "sw", progress=False)
    # another grid into the same folder: the summary covers every cell there, earlier grids' too
    assert [(s["lr"], s["warmup"]) for s in other["settings"]] == [(0.01, 0.06), (0.01, 0.2), (0.1, 0.06), (0.3, 0.06)]
    assert len(json.loads((tmp_path / "sw" / "sweep.json").read_text())["cells"]) == 4
    with pytest.raises(BadArgumentError, match=r"a sweep with other settings \(steps 2 there, 3 here\)"):
        run_sweep(spec_for(tiny_dirs["causal"], steps=3), tmp_path / "sw", progress=False)
    monkeypatch.setattr(sweep_module, "run_cell", lambda *a, **k: pytest.fail("a report-only sweep trained"))
    assert run_sweep(spec_for(tiny_dirs["causal"], lrs=(1.0,)), tmp_path / "sw", progress=False,
                     run_missing=False) == other  # a grid point not run is left out, not trained


def test_bad_sweeps_are_refused():
    with pytest.raises(BadArgumentError, match="transfer init needs --bank"):
        SweepSpec("m", ("movie_sentences",), (0.1,), inits=("transfer",))
    with pytest.raises(BadArgumentError, match="Unknown sweep init"):
        SweepSpec("m", ("movie_sentences",), (0.1,), inits=("magic",))
    with pytest.raises(BadArgumentError, match="positive"):
        SweepSpec("m", ("movie_sentences",), (0.0,))
    with pytest.raises(BadArgumentError, match="lr and warmup open"):
        SweepSpec("m", ("movie_sentences",), (0.1,), train=TrainConfig(lr=0.1))
