"""Units run locally or as Ray tasks: the same sources either way, only the driver writes the bank, and a build
stopped after its first unit continues with the rest. The Ray tests start a Ray on 2 CPUs in this process."""

import json
import os
import shutil
import sys
import tempfile
from dataclasses import replace

import pytest

from promptbank.bank import PromptBank
from promptbank.bank import build as source_bank
from promptbank.bank.build import SourceOutcome, build_bank
from promptbank.errors import BadArgumentError
from promptbank.executor import Executor, run_units
from promptbank.experiments.matrix import MatrixSpec, run_matrix
from promptbank.tuning.config import TrainConfig

TASKS = ["movie_sentences", "food_reviews"]
CONFIG = TrainConfig(steps=2, eval_every=2, patience=0)  # what the `bank build` line below gives


def tiny_build(tiny_dirs, root, **executor):
    with PromptBank(root, create=True) as bank:
        outcomes = build_bank(TASKS, bank, str(tiny_dirs["causal"]), shots=2, prompt_length=4, config=CONFIG,
                              dtype="float32", test_size=20, margin=None, progress=False, **executor)
        return outcomes, {o.task: bank.load(o.record_id).tensor for o in outcomes if o.kept}


def test_the_local_executor_runs_the_units_in_order_in_this_process():
    seen = []
    run_units(lambda n: (n * n, os.getpid()), [3, 1, 2], lambda unit, result: seen.append((unit, result)))
    assert seen == [(3, (9, os.getpid())), (1, (1, os.getpid())), (2, (4, os.getpid()))]


def test_executor_mistakes_are_one_sentence_before_anything_starts(cli, monkeypatch, tmp_path):
    for wrong, message in [(dict(kind="dask"), "local or ray"), (dict(address="auto"), "goes with --executor ray"),
                           (dict(kind="ray", cpus=0), "must be positive")]:
        with pytest.raises(BadArgumentError, match=message):
            Executor(**wrong)
    build = ["bank", "build", "--tasks", "movie_sentences", "--bank", tmp_path / "bank"]
    code, out, err = cli(*build, "--gpus-per-unit", 1)
    assert code == 2 and "go with --executor ray" in err
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    code, out, err = cli(*build, "--executor", "ray")
    assert code == 2 and "pip install 'promptbank[ray]'" in err and not (tmp_path / "bank").exists()


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    temp = tempfile.mkdtemp(prefix="pb-ray-")  # short: Ray's socket paths must stay under 108 characters
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp, logging_level="WARNING")
    yield ray
    ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def built_locally(tiny_dirs, tmp_path_factory):
    return tiny_build(tiny_dirs, tmp_path_factory.mktemp("local") / "bank")


def test_ray_trains_the_same_sources_and_only_the_driver_writes_the_bank(local_ray, built_locally, tiny_dirs, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setattr(source_bank, "train_task", lambda *a, **k: pytest.fail("a source was trained on the driver"))
    adds = []
    add = PromptBank.add
    monkeypatch.setattr(PromptBank, "add", lambda self, *a, **k: adds.append(os.getpid()) or add(self, *a, **k))
    outcomes, tensors = tiny_build(tiny_dirs, tmp_path / "bank", executor=Executor("ray"))
    local_outcomes, local_tensors = built_locally
    assert [replace(o, record_id=None) for o in outcomes] == [replace(o, record_id=None) for o in local_outcomes]
    assert tensors.keys() == local_tensors.keys() == set(TASKS)
    for task, tensor in tensors.items():
        assert (tensor - local_tensors[task]).abs().max() < 1e-5  # same seed, same prompt
    assert adds == [os.getpid()] * 2  # the bank was written here, once for each source
    build = tmp_path / "bank" / ".build"
    assert sorted(p.name for p in build.iterdir()) == ["food_reviews-s0.json", "movie_sentences-s0.json"]


def test_a_ray_build_stopped_after_its_first_unit_continues_with_the_rest(local_ray, built_locally, tiny_dirs,
                                                                          tmp_path, monkeypatch, cli):
    written = source_bank.write_atomic

    def stopped_after_first_outcome(path, text):
        written(path, text)
        raise KeyboardInterrupt  # ^C, right after the first unit's outcome was written

    monkeypatch.setattr(source_bank, "write_atomic", stopped_after_first_outcome)
    with pytest.raises(KeyboardInterrupt):
        tiny_build(tiny_dirs, tmp_path / "bank", executor=Executor("ray"))
    monkeypatch.setattr(source_bank, "write_atomic", written)
    (first,) = (tmp_path / "bank" / ".build").glob("*.json")
    before = first.read_text()
    submitted = []
    run = source_bank.run_units

    def recorded(work, units, *args, **kwargs):
        submitted.extend(unit.name for unit in units)
        return run(work, units, *args, **kwargs)

    monkeypatch.setattr(source_bank, "run_units", recorded)
    code, out, err = cli("bank", "build", "--tasks", ",".join(TASKS), "--bank", tmp_path / "bank", "--backbone",
                         tiny_dirs["causal"], "--shots", 2, "--prompt-length", 4, "--steps", 2, "--eval-every", 2,
                         "--test-size", 20, "--dtype", "float32", "--no-bar", "--executor", "ray", "--cpus-per-unit", 1)
    assert code == 0, err
    assert submitted == [name for name in ("movie_sentences-s0", "food_reviews-s0") if name != first.stem]
    assert first.read_text() == before and "built 2 of 2 source prompts" in out
    local_outcomes, local_tensors = built_locally
    outcomes = [SourceOutcome(**json.loads((first.parent / f"{o.task}-s0.json").read_text())) for o in local_outcomes]
    assert [replace(o, record_id=None) for o in outcomes] == [replace(o, record_id=None) for o in local_outcomes]
    with PromptBank(tmp_path / "bank") as bank:
        records = bank.list()
        assert sorted(r.task for r in records) == sorted(TASKS)  # each source once
        for record in records:
            assert (bank.load(record.id).tensor - local_tensors[record.task]).abs().max() < 1e-5


def test_a_matrix_on_ray_gives_the_cells_it_gives_locally(local_ray, built_locally, tiny_dirs, tmp_path,
                                                          tmp_path_factory):
    bank_root = next(tmp_path_factory.getbasetemp().glob("local*/bank"))  # the bank built_locally wrote
    spec = MatrixSpec(sources=tuple(TASKS), targets=("rotten_tomatoes", "wiki_hedges"), seeds=(0, 1),
                      backbone=str(tiny_dirs["causal"]), shots=2, train=TrainConfig(steps=2, eval_every=2, patience=0), prompt_length=4,
                      strategies=("weighted-average",), k=1, test_size=8, dtype="float32")
    with PromptBank(bank_root) as bank:
        here, _ = run_matrix(spec, bank, tmp_path / "local", progress=False)
        there, _ = run_matrix(spec, bank, tmp_path / "ray", progress=False, executor=Executor("ray"))
    assert [(c["target"], c["seed"]) for c in there] == [(c["target"], c["seed"]) for c in here]
    for mine, theirs in zip(here, there):
        assert theirs["zero_shot"] == mine["zero_shot"]
        for group in ("per_source", "strategies"):
            assert {k: v["test_correct"] for k, v in theirs[group].items()} == {
                k: v["test_correct"] for k, v in mine[group].items()}
