"""The shell scripts behind the shipped banks and reports (banks/*.sh, reports/**/*.sh) still parse, and still ask
the library for what they asked before: each runs as it is, in a copy of the repository whose `.venv/bin/promptbank`
is the real command line over stand-ins for the library (nothing is trained), and every library call is recorded."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The stand-in `promptbank`: the real promptbank.cli (options, choices, validation), with every library module it
# imports inside a command replaced by a recorder. Calls that do a command's work end it (exit 0) once recorded.
FAKE = r'''#!{python}
import dataclasses, json, os, sys, types
from pathlib import Path

ENDS = {{"build_bank", "run_matrix", "run_sweep", "run_zero_shot_matrix", "run_cross_model", "pretrain",
        "train_projector", "export_archive", "import_archive", "project_bank", "transfer_run", "run_training",
        "run_choice_scoring",
        "run_leave_one_out"}}
calls = []


def plain(value):
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {{str(k): plain(v) for k, v in value.items()}}
    if isinstance(value, Made):
        return {{"class": value.name, "args": plain(value.args), **plain(value.kwargs)}}
    if dataclasses.is_dataclass(value):
        return plain(dataclasses.asdict(value))
    return str(value)


class Made:
    def __init__(self, name, args, kwargs):
        self.name, self.args, self.kwargs = name, args, kwargs


class Bank:
    def __init__(self, root=None, create=False):
        self.root = Path(root) if root is not None else Path(os.environ["PROMPTBANK_HOME"])
        if create:
            self.root.mkdir(parents=True, exist_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def list(self, **filters):
        return []


def function(module, name):
    def call(*args, **kwargs):
        import typer
        calls.append({{"call": name, "args": plain(args), "kwargs": plain(kwargs)}})
        if name == "export_archive":
            Path(args[1]).write_bytes(b"")
        if name in ENDS:
            raise typer.Exit(0)
        if name == "default_root":
            return Path(os.environ["PROMPTBANK_HOME"])
    return call


class Fake(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name == "PromptBank":
            return Bank
        if name.isupper():
            return name
        if name[0].isupper():
            return lambda *args, **kwargs: Made(name, args, kwargs)
        return function(self.__name__, name)


for module in ("promptbank.backbones", "promptbank.bank", "promptbank.bank.build", "promptbank.bank.archive",
               "promptbank.bank.store", "promptbank.bank.peft", "promptbank.tasks", "promptbank.experiments",
               "promptbank.experiments.matrix", "promptbank.experiments.sweep", "promptbank.experiments.zero_shot",
               "promptbank.experiments.cross_model", "promptbank.experiments.report",
               "promptbank.experiments.choice_scoring", "promptbank.experiments.leave_one_out",
               "promptbank.pretraining",
               "promptbank.pretraining.run", "promptbank.projection", "promptbank.projection.bank",
               "promptbank.projection.model", "promptbank.projection.train", "promptbank.transfer",
               "promptbank.transfer.run", "promptbank.tuning.run", "promptbank.tuning.prompt"):
    sys.modules[module] = Fake(module)

from promptbank.cli import main

code = 1
try:
    main()
except SystemExit as exit_:
    code = exit_.code
finally:
    with open(os.environ["PB_SCRIPT_LOG"], "a") as log:
        log.write(json.dumps({{"argv": sys.argv[1:], "code": code, "calls": calls}}) + "\n")
'''


@pytest.fixture
def repo(tmp_path):
    """A copy of the scripts in the repository's layout, with the stand-in `promptbank` and the real Python."""
    root = tmp_path / "repo"
    for script in [*ROOT.glob("banks/*.sh"), *ROOT.glob("reports/*.sh"), *ROOT.glob("reports/*/*.sh")]:
        target = root / script.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(script, target)
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "promptbank").write_text(FAKE.format(python=sys.executable))
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    for name in ("promptbank", "python"):
        (bin_dir / name).chmod(0o755)
    return root


def run(repo, script, *args) -> list[dict]:
    """Run `script` of the copy; the recorded commands (argv, exit code, library calls) in the order they ended."""
    log = repo / f"{script.replace('/', '_')}.log"
    env = {**os.environ, "PB_SCRIPT_LOG": str(log), "PROMPTBANK_HOME": str(repo / "home"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(["bash", str(repo / script), *args], env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    records = [json.loads(line) for line in log.read_text().splitlines()]
    for record in records:
        assert record["code"] == 0 and record["calls"], record
    return records


def the(records, call) -> list[dict]:
    return [c for r in records for c in r["calls"] if c["call"] == call]


def spec(call: dict) -> dict:
    return call["args"][0]


def test_the_bank_scripts_build_what_they_built_before(repo, monkeypatch):
    full = run(repo, "banks/build-full.sh", "smollm2-135m")
    (build,) = the(full, "build_bank")
    # tasks, bank, backbone, shots, prompt_length, seeds, config, dtype, test_size, dev_size, train_size, margin
    args = build["args"]
    assert args[3] is None and args[5] == [0]  # the whole training split, seed 0 (were --full and --seeds 0)
    assert (args[2], args[4], args[8], args[9], args[10]) == ("smollm2-135m", 20, None, 200, 20000)
    assert len(args[0]) == 18 and args[11] == "BAR_MARGIN"
    config = args[6]
    assert (config["steps"], config["eval_every"], config["patience"], config["lr"]) == (400, 50, 3, None)
    assert len(the(full, "export_archive")) == 1 and config["step"] == "absolute"
    monkeypatch.setenv("STEP", "relative")  # the rebuild at the scale-relative step, into a bank of its own
    build, export = run(repo, "banks/build-full.sh", "gemma3-270m", "bbc_news")[-2:]  # the log holds both runs
    monkeypatch.delenv("STEP")
    assert the([build], "build_bank")[0]["args"][6]["step"] == "relative" and "bbc_news" in build["argv"]
    assert "banks/gemma3-270m-full-relative" in build["argv"] and export["argv"][-1].endswith(
        "banks/gemma3-270m-full-relative.tar.gz"), (build["argv"], export["argv"])
    monkeypatch.setenv("STEP", "relative")  # and at a rate of its own, into a bank named for the rate
    monkeypatch.setenv("LR", "0.02")
    build = run(repo, "banks/build-full.sh", "gemma3-270m", "bbc_news")[-2]
    monkeypatch.delenv("STEP")
    monkeypatch.delenv("LR")
    assert the([build], "build_bank")[0]["args"][6]["lr"] == 0.02
    assert "banks/gemma3-270m-full-relative-lr0.02" in build["argv"], build["argv"]

    demo = run(repo, "banks/build-smollm2-135m.sh")
    (build,) = the(demo, "build_bank")
    assert build["args"][3] == 16 and build["args"][5] == [0] and build["args"][8] == 300
    assert (build["args"][6]["steps"], build["args"][6]["lr"]) == (60, 0.03)

    (pretrain,) = the(run(repo, "banks/pretrain.sh", "smollm2-135m"), "pretrain")
    assert spec(pretrain)["formats"] == ["nsp3", "next_sentence_selection", "sentence_sentiment5", "unified"]
    assert spec(pretrain)["train"]["steps"] == 400 and spec(pretrain)["examples"] == 5000
    assert spec(pretrain)["train"]["step"] == "relative" and spec(pretrain)["gate"] == 0.15
    assert str(pretrain["args"][2]).endswith("smollm2-135m-full/.build/pretrain")  # its own step: no suffix
    monkeypatch.setenv("STEP", "absolute")  # another step and rate, checkpointed in a work dir of their own
    monkeypatch.setenv("LR", "0.01")
    pretrain = the(run(repo, "banks/pretrain.sh", "gemma3-270m", "nsp3"), "pretrain")[-1]
    monkeypatch.delenv("STEP")
    monkeypatch.delenv("LR")
    assert (spec(pretrain)["train"]["step"], spec(pretrain)["train"]["lr"]) == ("absolute", 0.01)
    assert str(pretrain["args"][2]).endswith("gemma3-270m-full/.build/pretrain-absolute-lr0.01"), pretrain["args"]


def test_the_few_shot_report_scripts_run_the_matrices_they_ran_before(repo, monkeypatch):
    transfer = the(run(repo, "reports/transfer/run.sh", "smollm2-135m"), "run_matrix")
    ppt = the(run(repo, "reports/ppt/run.sh", "smollm2-135m"), "run_matrix")
    for matrices in (transfer, ppt):
        assert sorted(spec(m)["shots"] for m in matrices) == [16, 32]
        for m in matrices:
            assert spec(m)["seeds"] == [0, 1, 2, 3, 4] and spec(m)["test_size"] == 1000
            assert spec(m)["targets"] == ["rotten_tomatoes", "presuppositions_nli", "intent_recognition", "social_iqa"]
            assert (spec(m)["train"]["steps"], spec(m)["train"]["eval_every"]) == (30, 5)
    assert spec(transfer[0])["strategies"] == ["vocab", "weighted-average", "best-of-k", "mixture"]
    assert (spec(transfer[0])["by"], spec(transfer[0])["k"], spec(transfer[0])["per_source_seeds"]) == ("zero-shot", 3, 2)
    assert spec(ppt[0])["strategies"] == ["vocab", "pretrained", "pretrained-unified"]
    assert spec(ppt[0])["sources"] == [] and spec(ppt[0])["per_source"] is False

    (budget,) = the(run(repo, "reports/task-vectors/run.sh"), "run_matrix")  # PPT's few-shot budget
    assert spec(budget)["targets"] == ["rotten_tomatoes", "snli"] and spec(budget)["shots"] == 32
    assert (spec(budget)["train"]["steps"], spec(budget)["train"]["eval_every"]) == (200, 20)
    assert spec(budget)["strategies"] == ["vocab", "weighted-average", "best-of-k", "delta-average", "learned-mixture"]
    steps = the(run(repo, "reports/task-vectors/step.sh"), "run_training")  # absolute against relative steps
    assert [spec(s)["train"]["step"] for s in steps] == ["absolute", "relative"]
    assert all(spec(s)["backbone"] == "gemma3-270m" and spec(s)["shots"] is None for s in steps)
    monkeypatch.setenv("RELATIVE_LRS", "0.02 0.04")  # relative steps at other rates, beside the two
    rates = the(run(repo, "reports/task-vectors/step.sh", "bbc_news"), "run_training")[-2:]
    monkeypatch.delenv("RELATIVE_LRS")
    assert [(spec(s)["train"]["step"], spec(s)["train"]["lr"], spec(s)["task"]) for s in rates] == [
        ("relative", 0.02, "bbc_news"), ("relative", 0.04, "bbc_news")]
    residual = the(run(repo, "reports/task-vectors/residual.sh"), "run_training")  # Residual Prompt Tuning on dev
    assert [(spec(r)["train"]["reparam"], spec(r)["train"]["step"]) for r in residual] == [
        ("none", "absolute"), ("residual", "absolute")]
    (attention,) = the(run(repo, "reports/task-vectors/attention.sh"), "run_matrix")  # the per-example mixture
    assert spec(attention)["strategies"] == ["learned-mixture", "attention-mixture"]
    assert {k: spec(attention)[k] for k in ("shots", "seeds", "test_size")} == {
        k: spec(budget)[k] for k in ("shots", "seeds", "test_size")}  # run.sh's cells, paired
    held_out = the(run(repo, "reports/task-vectors/run.sh", "movie_sentences",
                       "smollm2-135m-32-shot-without-movie_sentences"), "run_matrix")[-1]  # the log holds both runs
    assert spec(held_out)["targets"] == ["movie_sentences"] and held_out["args"][2].endswith("without-movie_sentences")
    (ppt_budget,) = the(run(repo, "reports/ppt/paper-budget.sh"), "run_matrix")  # PPT at its own budget
    assert spec(ppt_budget)["targets"] == ["rotten_tomatoes", "drug_reviews"]  # what the gated PPT prompt allows
    assert spec(ppt_budget)["base"] == "pretrained" and spec(ppt_budget)["shots"] == 32
    assert spec(ppt_budget)["strategies"] == ["vocab", "pretrained", "delta-average"]
    gemma_budget = the(run(repo, "reports/ppt/paper-budget.sh", "rotten_tomatoes", "gemma3-270m"), "run_matrix")[-1]
    assert spec(gemma_budget)["backbone"] == "gemma3-270m" and gemma_budget["args"][2].endswith(
        "ppt/gemma3-270m-paper-budget"), gemma_budget["args"]
    (full,) = the(run(repo, "reports/task-vectors/full-data.sh"), "run_matrix")  # the papers' full-data regime
    assert (spec(full)["shots"], spec(full)["dev_size"], spec(full)["seeds"]) == (None, 200, [0, 1, 2])
    assert (spec(full)["train"]["steps"], spec(full)["train"]["eval_every"]) == (500, 25)

    (modes,) = the(run(repo, "reports/choice-scoring/run.sh"), "run_choice_scoring")  # how choices are scored
    assert spec(modes)["backbone"] == "smollm2-135m" and len(spec(modes)["tasks"]) == 7
    (lettered,) = the(run(repo, "reports/choice-scoring/learnable.sh"), "run_training")  # can letters be learnt
    assert (spec(lettered)["task"], spec(lettered)["train"]["step"]) == ("rotten_tomatoes:letters", "absolute")
    monkeypatch.setenv("STEP", "relative")  # on Gemma, at the relative step its prompts need, into a folder of its own
    monkeypatch.setenv("LR", "0.02")
    lettered = the(run(repo, "reports/choice-scoring/learnable.sh", "rotten_tomatoes", "gemma3-270m"), "run_training")
    monkeypatch.delenv("STEP")
    monkeypatch.delenv("LR")
    assert (spec(lettered[-1])["train"]["step"], spec(lettered[-1])["train"]["lr"]) == ("relative", 0.02)
    assert str(lettered[-1]["args"][1]).endswith("gemma3-270m-learnable/rotten_tomatoes-letters-relative-lr0.02")

    zero_shot = the(run(repo, "reports/transfer/zero-shot.sh", "smollm2-135m", "gemma3-270m"), "run_zero_shot_matrix")
    assert [spec(z)["backbone"] for z in zero_shot] == ["smollm2-135m", "gemma3-270m"]
    assert all(len(spec(z)["tasks"]) > 20 and spec(z)["test_size"] == 1000 for z in zero_shot)


def test_the_recipe_sweeps_and_the_cross_model_experiment_parse_as_before(repo, monkeypatch):
    build = repo / "banks" / "gemma3-270m-full" / ".build"  # Gemma's stage 2 runs once its bank is built
    build.mkdir(parents=True)
    for i in range(18):
        (build / f"task{i}-s0.json").write_text("{}")
    sweeps = the(run(repo, "reports/recipe/run.sh"), "run_sweep")
    assert len(sweeps) == 8 and all(spec(s)["seeds"] == [0, 1] for s in sweeps)
    assert sorted(spec(s)["bank"] or "" for s in sweeps)[2:] == ["banks/gemma3-270m-full"] * 3 + [
        "banks/smollm2-135m-full"] * 3
    assert {tuple(spec(s)["inits"]) for s in sweeps} == {("random",), ("random", "transfer"), ("transfer",)}

    records = run(repo, "reports/cross-model/run.sh")
    projectors = the(records, "train_projector")
    assert [(spec(p)["args"][0], spec(p)["args"][1], spec(p)["args"][2]) for p in projectors] == [
        ("smollm2-135m", "gemma3-270m", "task"), ("smollm2-135m", "gemma3-270m", "distance"),
        ("gemma3-270m", "smollm2-135m", "task"), ("gemma3-270m", "smollm2-135m", "distance")]
    assert [spec(p)["args"][7]["lr"] for p in projectors] == [3e-4, 1e-3, 1e-3, 1e-3]
    experiments = the(records, "run_cross_model")
    assert len(experiments) == 2 and all(spec(e)["seeds"] == [0, 1, 2, 3, 4] and spec(e)["shots"] == 16
                                         for e in experiments)
    assert len(the(records, "export_archive")) == len(the(records, "import_archive")) == 2

    (loo,) = the(run(repo, "reports/cross-model/loo.sh", "gemma3-270m", "smollm2-135m"), "run_leave_one_out")
    assert (spec(loo)["source"], spec(loo)["target"], spec(loo)["method"]) == ("gemma3-270m", "smollm2-135m", "task")
    assert len(spec(loo)["tasks"]) == 6 and spec(loo)["config"]["inputs"] == "delta"
    assert spec(loo)["config"]["contrast_weight"] == 1 and spec(loo)["shots"] == 32
    ridge = the(run(repo, "reports/cross-model/loo.sh", "minilm-l6", "smollm2-135m", "ridge"),
                "run_leave_one_out")[-1]  # the script's log holds both runs
    assert (spec(ridge)["method"], spec(ridge)["config"]["architecture"]) == ("ridge", "linear")
    assert spec(ridge)["config"]["ridge"] == 1
    monkeypatch.setenv("RIDGE", "0.01")  # a penalty of its own, in a folder of its own
    records = run(repo, "reports/cross-model/loo.sh", "gemma3-270m", "smollm2-135m", "ridge")
    assert the(records, "run_leave_one_out")[-1]["args"][0]["config"]["ridge"] == 0.01
    assert records[-1]["argv"][-1].endswith("loo/gemma3-270m-to-smollm2-135m-ridge-linear-ridge0.01")
    folder = records[-1]["argv"][-1]
    records = run(repo, "reports/cross-model/loo.sh", "gemma3-270m", "smollm2-135m", "ridge", "linear", "--report-only")
    assert records[-1]["argv"][-2:] == [folder, "--report-only"]  # the same folder, reported
    monkeypatch.delenv("RIDGE")
    (repo / "banks" / "gemma3-270m-full-relative").mkdir(parents=True)  # Gemma rebuilt with relative steps
    monkeypatch.setenv("STEP", "relative")
    records = run(repo, "reports/cross-model/loo.sh", "smollm2-135m", "gemma3-270m", "ridge")
    exports = [r["argv"] for r in records if r["argv"][:2] == ["bank", "export"]][-2:]
    assert [e[e.index("--bank") + 1] for e in exports] == ["banks/smollm2-135m-full", "banks/gemma3-270m-full-relative"]
    assert records[-1]["argv"][records[-1]["argv"].index("--bank") + 1] == "reports/cross-model/bank-relative"
    assert records[-1]["argv"][-1].endswith("loo/smollm2-135m-to-gemma3-270m-ridge-linear-relative")
    (repo / "banks" / "gemma3-270m-full-relative-lr0.02").mkdir(parents=True)  # the rebuild at another rate
    monkeypatch.setenv("LR", "0.02")
    records = run(repo, "reports/cross-model/loo.sh", "smollm2-135m", "gemma3-270m", "ridge")
    exports = [r["argv"] for r in records if r["argv"][:2] == ["bank", "export"]][-2:]
    assert [e[e.index("--bank") + 1] for e in exports] == [
        "banks/smollm2-135m-full", "banks/gemma3-270m-full-relative-lr0.02"]
    assert records[-1]["argv"][-1].endswith("loo/smollm2-135m-to-gemma3-270m-ridge-linear-relative-lr0.02")
