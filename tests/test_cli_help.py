"""The command line as a whole: every command's --help answers without loading torch, every option says what it
is, a choice is a `str` enum (a typo is one sentence and exit 2), and one option name means one thing everywhere."""

import json
import subprocess
import sys
import textwrap

import pytest
import typer
from test_cli import assert_user_error

from promptbank.bank import PromptBank
from promptbank.cli import app
from promptbank.cli import options as cli_options


def commands(group=None, path=()):
    """(path, click command) for every command of the app, nested groups included (the groups themselves too)."""
    group = group or typer.main.get_command(app)
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if hasattr(command, "commands"):
            yield from commands(command, (*path, name))


def test_the_walk_finds_every_command_group_and_nested_command():
    found = {" ".join(path) for path, _ in commands()}
    assert {"train", "eval", "transfer", "similarity", "pretrain", "bank", "bank build", "bank list", "project train",
            "experiment matrix", "experiment sweep", "experiment cross-model", "experiment claims"} <= found


def test_every_help_answers_without_loading_torch_or_transformers(tmp_path):
    """One fresh interpreter walks the app and runs every command's --help (and the bare group helps)."""
    script = textwrap.dedent("""
        import json, sys
        import typer
        from promptbank.cli import app

        def walk(group, path=()):
            for name, command in sorted(group.commands.items()):
                yield (*path, name)
                if hasattr(command, "commands"):
                    yield from walk(command, (*path, name))

        results = {}
        for path in [(), *walk(typer.main.get_command(app))]:
            code = app(args=[*path, "--help"], standalone_mode=False)
            results[" ".join(path) or "promptbank"] = code
        print(json.dumps({"codes": results,
                          "loaded": sorted(m for m in ("torch", "transformers", "safetensors", "peft")
                                           if m in sys.modules)}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["loaded"] == []
    assert len(report["codes"]) > 25 and set(report["codes"].values()) <= {0, None}, report["codes"]


def test_every_parameter_of_every_command_has_help():
    missing = [f"{' '.join(path)} {param.name}" for path, command in commands()
               for param in command.params if not (getattr(param, "help", None) or "").strip()]
    assert missing == []


def test_the_choices_are_the_librarys():
    from promptbank.backbones import DEFAULT_BACKBONE
    from promptbank.bank.catalog import KINDS, SORTS
    from promptbank.bank.store import LENGTH_POLICIES
    from promptbank.executor import EXECUTORS
    from promptbank.experiments.sweep import SWEEP_INITS
    from promptbank.pretraining.formats import PRETRAINING_TASKS
    from promptbank.pretraining.run import PRETRAINED_INITS
    from promptbank.projection.model import METHODS, NONLINEARITIES
    from promptbank.scoring.causal import SCORING_PATHS
    from promptbank.transfer.inits import BASELINES, BASES, STRATEGIES
    from promptbank.transfer.retrieval import RETRIEVALS
    from promptbank.transfer.similarity import COMPARED, METRICS
    from promptbank.tuning.init import INIT_METHODS
    o = cli_options
    for enum, library in [(o.Init, INIT_METHODS + PRETRAINED_INITS), (o.Strategy, STRATEGIES + BASELINES + PRETRAINED_INITS),
                          (o.Retrieval, RETRIEVALS), (o.Metric, METRICS), (o.ExecutorKind, EXECUTORS),
                          (o.LengthPolicy, LENGTH_POLICIES), (o.Kind, KINDS), (o.SortColumn, SORTS),
                          (o.ProjectionMethod, METHODS), (o.Nonlinearity, tuple(NONLINEARITIES)),
                          (o.PretrainFormat, tuple(PRETRAINING_TASKS)), (o.SweepInit, SWEEP_INITS),
                          (o.Dtype, ("auto", "float32", "bfloat16")), (o.Split, ("train", "validation", "test")),
                          (o.ScoringPath, SCORING_PATHS), (o.Compared, COMPARED),
                          (o.Base, BASES)]:
        assert set(enum) == set(library), enum
    assert o.DEFAULT_BACKBONE == DEFAULT_BACKBONE


@pytest.mark.parametrize("args, words", [
    (["train", "--task", "x", "--out", "o", "--init", "rnadom"], ["--init", "rnadom", "random"]),
    (["train", "--task", "x", "--out", "o", "--dtype", "fp16"], ["--dtype", "fp16", "bfloat16"]),
    (["eval", "--prompt", "p", "--task", "x", "--split", "dev"], ["--split", "dev", "validation"]),
    (["transfer", "--target", "x", "--strategy", "best-of-3"], ["--strategy", "best-of-3", "best-of-k"]),
    (["transfer", "--target", "x", "--by", "zeroshot"], ["--by", "zeroshot", "zero-shot"]),
    (["transfer", "--target", "x", "--metric", "cosin"], ["--metric", "cosin", "spot-avg-cosine"]),
    (["similarity", "--length-policy", "cut"], ["--length-policy", "cut", "truncate"]),
    (["bank", "list", "--kind", "tasks"], ["--kind", "tasks", "projected"]),
    (["bank", "list", "--sort", "crated"], ["--sort", "crated", "created"]),
    (["bank", "add", "--prompt", "p", "--kind", "weird"], ["--kind", "weird"]),
    (["bank", "build", "--tasks", "x", "--executor", "dask"], ["--executor", "dask", "ray"]),
    (["pretrain", "--formats", "nsp3,nsp4"], ["nsp4", "--formats", "next_sentence_selection"]),
    (["project", "train", "--from", "a", "--to", "b", "--tasks", "x", "--out", "o", "--method", "dist"],
     ["--method", "dist", "distance"]),
    (["project", "train", "--from", "a", "--to", "b", "--tasks", "x", "--out", "o", "--nonlinearity", "relu6"],
     ["--nonlinearity", "relu6", "gelu"]),
    (["experiment", "matrix", "--targets", "x", "--out", "o", "--strategies", "weighted-average,best_of_k"],
     ["best_of_k", "--strategies", "best-of-k"]),
    (["experiment", "matrix", "--targets", "x", "--out", "o", "--by", "similarty"], ["--by", "similarty"]),
    (["experiment", "sweep", "--tasks", "x", "--out", "o", "--inits", "random,transfr"], ["transfr", "--inits"]),
    (["train", "--task", "x", "--out", "o", "--shotz", "3"], ["--shotz"]),  # an unknown option, one sentence too
])
def test_a_typo_in_a_choice_is_one_sentence_and_exit_2(cli, tmp_path, monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTBANK_HOME", str(tmp_path / "home"))
    assert_user_error(cli(*args), *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # refused before anything was written


@pytest.fixture
def empty_bank(tmp_path):
    with PromptBank(tmp_path / "bank", create=True):
        pass
    return tmp_path / "bank"


class Called(Exception):
    pass


def capture(monkeypatch, module, name):
    """Replace the library call `module.name` with one that records its arguments and ends the command."""
    import importlib
    seen = []

    def record(*args, **kwargs):
        seen.append((args, kwargs))
        raise typer.Exit(0)
    monkeypatch.setattr(importlib.import_module(module), name, record)
    return seen


SEEDED = [
    (["bank", "build", "--tasks", "movie_sentences"], "promptbank.bank.build", "build_bank",
     lambda args, kwargs: args[5]),
    (["experiment", "matrix", "--targets", "rotten_tomatoes", "--sources", "movie_sentences", "--out", "m"],
     "promptbank.experiments.matrix", "run_matrix", lambda args, kwargs: args[0].seeds),
    (["experiment", "sweep", "--tasks", "movie_sentences", "--out", "s"], "promptbank.experiments.sweep", "run_sweep",
     lambda args, kwargs: args[0].seeds),
    (["experiment", "cross-model", "--projector", "p", "--tasks", "movie_sentences", "--out", "x"],
     "promptbank.experiments.cross_model", "run_cross_model", lambda args, kwargs: args[0].seeds),
]


@pytest.mark.parametrize("command, module, name, seeds_of", SEEDED, ids=[" ".join(s[0][:2]) for s in SEEDED])
def test_seeds_is_a_count_in_every_command(cli, empty_bank, tmp_path, monkeypatch, command, module, name, seeds_of):
    monkeypatch.chdir(tmp_path)
    seen = capture(monkeypatch, module, name)
    code, _, err = cli(*command, "--bank", empty_bank, "--seeds", 3)
    assert code == 0, err
    assert tuple(seeds_of(*seen[0])) == (0, 1, 2)
    # a list (what `bank build --seeds` once took) is refused, so `--seeds 5` never quietly means seed 5
    assert_user_error(cli(*command, "--bank", empty_bank, "--seeds", "0,1,2"), "--seeds", "0,1,2", "number of seeds")
    assert_user_error(cli(*command, "--bank", empty_bank, "--seeds", 0), "--seeds", "positive")
    assert len(seen) == 1


def test_shots_all_is_the_whole_training_split_wherever_a_command_can_train_on_it(cli, empty_bank, tmp_path,
                                                                                   monkeypatch):
    built = capture(monkeypatch, "promptbank.bank.build", "build_bank")
    assert cli("bank", "build", "--tasks", "movie_sentences", "--bank", empty_bank, "--shots", "all")[0] == 0
    assert cli("bank", "build", "--tasks", "movie_sentences", "--bank", empty_bank)[0] == 0
    assert [args[3] for args, _ in built] == [None, 16]  # bank build's default stays 16 per class
    trained = capture(monkeypatch, "promptbank.tuning.run", "run_training")
    for shots in ([], ["--shots", "all"], ["--shots", 8]):
        assert cli("train", "--task", "movie_sentences", "--out", tmp_path / "p", *shots)[0] == 0
    assert [args[0].shots for args, _ in trained] == [None, None, 8]  # train's default is all
    transferred = capture(monkeypatch, "promptbank.transfer.run", "transfer_run")
    assert cli("transfer", "--target", "rotten_tomatoes", "--bank", empty_bank, "--shots", "all")[0] == 0
    assert transferred[0][0][0].shots is None
    assert_user_error(cli("bank", "build", "--tasks", "movie_sentences", "--bank", empty_bank, "--full"), "--full")


def test_a_sweep_of_the_transfer_init_reads_the_default_bank_when_bank_is_left_out(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTBANK_HOME", str(tmp_path / "home"))
    seen = capture(monkeypatch, "promptbank.experiments.sweep", "run_sweep")
    common = ("experiment", "sweep", "--tasks", "movie_sentences", "--out", tmp_path / "s")
    assert cli(*common, "--inits", "random,transfer")[0] == 0
    assert cli(*common, "--inits", "random")[0] == 0
    assert [args[0].bank for args, _ in seen] == [str(tmp_path / "home"), None]  # a bank only where it is read
