"""User mistakes across the commands, one class per row: each is one sentence on stderr, exit 2, no traceback, and
nothing left where the command would have written."""

import json

import pytest
import torch
from test_cli import assert_user_error, write_spec

from promptbank.bank import PromptBank
from promptbank.backbones import load_backbone
from promptbank.errors import DataError
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.init import init_prompt
from promptbank.tuning.loop import Job
from promptbank.tuning.prompt import SoftPrompt, save_prompt


@pytest.fixture
def places(tmp_path, tiny_dirs):
    """A file, a folder, a bank with one prompt, a saved prompt holding NaN and report folders of the wrong shape."""
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "folder").mkdir()
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    prompt = init_prompt(backbone, 4, seed=0)
    prompt.info = {"task": "rotten_tomatoes"}
    with PromptBank(tmp_path / "bank", create=True) as bank:
        record = bank.add(prompt)
    save_prompt(prompt, tmp_path / "nan")
    tensors = tmp_path / "nan" / "prompt.safetensors"
    from safetensors.torch import load_file, save_file
    loaded = load_file(tensors)
    loaded["prompt"][0, 0] = float("nan")
    save_file(loaded, tensors)
    for name, data in (("empty", {}), ("listed", [1, 2])):
        (tmp_path / name).mkdir()
        for file in ("results.json", "zero_shot.json"):
            (tmp_path / name / file).write_text(json.dumps(data))
    (tmp_path / "projectors" / "p").mkdir(parents=True)
    (tmp_path / "projectors" / "p" / "projector.json").write_text(json.dumps({"method": "task"}))
    return tmp_path, record.id


CASES = {
    "bank is a file": (lambda t, r: ("bank", "list", "--bank", t / "file.txt"), "is a file"),
    "bank home is a file": (lambda t, r: ("bank", "list"), "is a file"),
    "out is a file": (lambda t, r: ("experiment", "matrix", "--targets", "rotten_tomatoes", "--sources", "",
                                    "--strategies", "vocab", "--no-per-source", "--bank", t / "bank",
                                    "--out", t / "file.txt"), "is a file"),
    "image out is a folder": (lambda t, r: ("similarity", "--bank", t / "bank", "--out", t / "folder"), "is a folder"),
    "image of an unknown kind": (lambda t, r: ("similarity", "--bank", t / "bank", "--out", t / "s.xyz"), ".png"),
    "archive out is a folder": (lambda t, r: ("bank", "export", "--bank", t / "bank", "--out", t / "folder"),
                                "is a folder"),
    "adapter out inside a file": (lambda t, r: ("bank", "export-peft", r, "--bank", t / "bank", "--out",
                                                t / "file.txt" / "sub"), "inside a file"),
    "adapter folder is a file": (lambda t, r: ("bank", "import-peft", t / "file.txt", "--backbone", "x", "--bank",
                                               t / "bank"), "is a file"),
    "projector metadata damaged": (lambda t, r: ("project", "list", t / "projectors"), "damaged"),
    "claims on an empty results file": (lambda t, r: ("experiment", "claims", "--matrix", t / "empty"),
                                        "not a results file"),
    "claims on a list": (lambda t, r: ("experiment", "claims", "--zero-shot", t / "listed"), "not a results file"),
    "a prompt holding NaN": (lambda t, r: ("bank", "add", "--prompt", t / "nan", "--bank", t / "bank"),
                             "non-finite"),
    "a guard level above 1": (lambda t, r: ("transfer", "--target", "rotten_tomatoes", "--guard", 1.5, "--bank",
                                            t / "bank"), "--guard"),
    "a matrix guard level of 0": (lambda t, r: ("experiment", "matrix", "--targets", "rotten_tomatoes", "--guard", 0,
                                                "--sources", "movie_sentences", "--bank", t / "bank",
                                                "--out", t / "m"), "--guard"),
    "guard replay of a folder no matrix wrote": (lambda t, r: ("experiment", "guard-replay", t / "folder",
                                                               "--out", t / "g.json"), "holds no spec.json"),
    "a negative limit": (lambda t, r: ("bank", "list", "--bank", t / "bank", "--limit", -1), "--limit"),
    "an empty tag": (lambda t, r: ("bank", "tag", r, "--add", "", "--bank", t / "bank"), "cannot be empty"),
    "negative per-source seeds": (lambda t, r: ("experiment", "matrix", "--targets", "rotten_tomatoes",
                                                "--per-source-seeds", -1, "--bank", t / "bank", "--out", t / "m"),
                                  "--per-source-seeds"),
    "a task of one label": (lambda t, r: ("train", "--task", write_spec(t, rows=[(f"film {i}", "pos")
                                                                                 for i in range(40)]),
                                          "--backbone", "x", "--bank", t / "bank", "--out", t / "run"),
                            "at least two labels"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_mistake_is_one_sentence_and_leaves_nothing(cli, places, monkeypatch, case):
    tmp_path, record_id = places
    monkeypatch.setenv("PROMPTBANK_HOME", str(tmp_path / "file.txt"))
    build, words = CASES[case]
    args = build(tmp_path, record_id)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert_user_error(cli(*args), words)
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if "catalog.sqlite-" not in p.name)
    assert after == [p for p in before if "catalog.sqlite-" not in p.name]


def test_training_that_diverges_stops_with_one_sentence_and_keeps_the_last_good_checkpoint(tiny_dirs, toy_task,
                                                                                            tmp_path, monkeypatch):
    from promptbank import scoring
    from promptbank.tuning import loop
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    items = scoring.encode(backbone, toy_task, toy_task.examples)
    real = loop._step

    def diverging(backbone, runs, batches, *args):  # from step 3 on the loss is NaN
        losses = real(backbone, runs, batches, *args)
        return losses * float("nan") if runs[0].losses and len(runs[0].curve) >= 2 else losses
    monkeypatch.setattr(loop, "_step", diverging)
    job = Job(items[:40], items[40:], init_prompt(backbone, 4, seed=0))
    with pytest.raises(DataError, match="diverged before step 4.*last checkpoint is kept"):
        loop.train_many(backbone, [job], TrainConfig(steps=6, eval_every=2, patience=0), checkpoint_dir=tmp_path,
                        progress=False)
    assert json.loads((tmp_path / "checkpoint.json").read_text())["step"] == 2


def test_a_prompt_of_nan_cannot_be_made():
    with pytest.raises(DataError, match="non-finite"):
        SoftPrompt(torch.tensor([[float("nan"), 0.0]]), "b", "t", "random")
    with pytest.raises(DataError, match="init tensor"):
        SoftPrompt(torch.zeros(1, 2), "b", "t", "random", init_tensor=torch.tensor([[float("inf"), 0.0]]))
