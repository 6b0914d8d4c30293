import json
import signal
import subprocess
import sys

import pytest
import torch

from promptbank import scoring
from promptbank.backbones import load_backbone
from promptbank.errors import BadArgumentError
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.init import init_prompt
from promptbank.tuning.loop import epoch_batches, train_prompt
from promptbank.tuning.prompt import load_prompt


def _setup(tiny_dirs, task, family="causal"):
    backbone = load_backbone(str(tiny_dirs[family]), "float32")
    train = scoring.encode(backbone, task, task.examples[:40])
    dev = scoring.encode(backbone, task, task.examples[40:])
    return backbone, train, dev


@pytest.mark.parametrize("family", ["causal", "masked", "encoder", "seq2seq"])
def test_only_the_prompt_learns(tiny_dirs, toy_task, family):
    backbone, train, dev = _setup(tiny_dirs, toy_task, family)
    before = {k: v.clone() for k, v in backbone.model.state_dict().items()}
    prompt = init_prompt(backbone, 4, "random", seed=0)
    result = train_prompt(backbone, train, dev, prompt, TrainConfig(steps=30, lr=0.1, eval_every=10, patience=0),
                          progress=False)
    assert all(torch.equal(before[k], v) for k, v in backbone.model.state_dict().items())
    assert not any(p.requires_grad for p in backbone.model.parameters())
    losses = [point["train_loss"] for point in result.curve[1:]]
    assert losses[-1] < losses[0], "the training loss should fall as the prompt learns"


def test_curve_records_every_evaluation(tiny_dirs, toy_task):
    backbone, train, dev = _setup(tiny_dirs, toy_task)
    result = train_prompt(backbone, train, dev, init_prompt(backbone, 4), TrainConfig(steps=25, eval_every=10,
                          patience=0), progress=False)
    assert [point["step"] for point in result.curve] == [0, 10, 20, 25]
    assert result.curve[0]["train_loss"] is None and all(p["train_loss"] > 0 for p in result.curve[1:])
    assert all(0 <= p["dev_accuracy"] <= 1 and p["wall_seconds"] >= 0 for p in result.curve)
    trained = result.curve[1:]  # the starting prompt is evaluated but never kept: it is not a trained prompt
    assert result.best_dev == max(p["dev_accuracy"] for p in trained)
    best = next(p for p in trained if p["dev_accuracy"] == result.best_dev)
    assert result.best_step == best["step"] > 0
    assert not torch.equal(result.prompt.tensor, init_prompt(backbone, 4).tensor)


def test_early_stopping_when_dev_stops_improving(tiny_dirs, toy_task):
    backbone, train, dev = _setup(tiny_dirs, toy_task)
    # a learning rate this small leaves dev accuracy where it started: the first trained evaluation stays the
    # best and the next two use up the patience
    config = TrainConfig(steps=100, lr=1e-12, eval_every=5, patience=2)
    result = train_prompt(backbone, train, dev, init_prompt(backbone, 4), config, progress=False)
    assert result.stopped_early and result.steps_done == 15 and result.best_step == 5


def test_same_seed_same_prompt(tiny_dirs, toy_task):
    backbone, train, dev = _setup(tiny_dirs, toy_task)
    run = lambda seed: train_prompt(backbone, train, dev, init_prompt(backbone, 4, seed=seed),
                                    TrainConfig(steps=12, eval_every=4, patience=0, seed=seed), progress=False)
    first, again, other = run(0), run(0), run(1)
    assert torch.equal(first.prompt.tensor, again.prompt.tensor)
    assert [p["dev_accuracy"] for p in first.curve] == [p["dev_accuracy"] for p in again.curve]
    assert not torch.equal(first.prompt.tensor, other.prompt.tensor)


def test_epoch_batches_cover_every_example_once(toy_task, tiny_dirs):
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    items = scoring.encode(backbone, toy_task, toy_task.examples)
    batches = epoch_batches(items, 8, seed=0, epoch=3)
    assert sorted(i for b in batches for i in b) == list(range(len(items)))
    assert batches == epoch_batches(items, 8, seed=0, epoch=3) != epoch_batches(items, 8, seed=0, epoch=4)


@pytest.mark.parametrize("field", ["steps", "batch_size", "eval_every"])
def test_nonsensical_config_is_rejected(field):
    with pytest.raises(BadArgumentError, match=field.replace("_", "-")):
        TrainConfig(**{field: 0})


WORKER = """
import json
import sys
from pathlib import Path
import promptbank.tuning.loop as loop
from promptbank import scoring
from promptbank.backbones import load_backbone
from promptbank.tuning.prompt import save_prompt
from promptbank.tuning.init import init_prompt
from promptbank.tasks.task import Example, Task
from promptbank.tuning.config import TrainConfig
model, checkpoints, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
pause_at = int(sys.argv[4]) if len(sys.argv) > 4 else None
resumed_from = []
resume = loop._resume
def recording_resume(*args):
    found = resume(*args)
    resumed_from.append(None if found is None else found[0])
    return found
loop._resume = recording_resume
step, calls = loop._step, []
def pausing_step(*args):
    losses = step(*args)
    calls.append(1)
    if len(calls) == pause_at:  # mid-step (gradients computed, not applied), steps past the last checkpoint
        print("paused", flush=True)
        sys.stdin.read()  # here until SIGKILLed (or the test's end of the pipe closes)
        sys.exit("paused but never killed")
    return losses
loop._step = pausing_step
words = ["good", "fine", "great", "bad", "awful", "poor"]
examples = tuple(Example(f"the film number {i} was {words[i % 6]}", int(i % 6 < 3)) for i in range(48))
task = Task("toy", "single", "sentiment", "Review: {text}\\nSentiment:", ("n", "p"), ("bad", "good"), examples)
backbone = load_backbone(model, "float32")
train, dev = scoring.encode(backbone, task, examples[:40]), scoring.encode(backbone, task, examples[40:])
config = TrainConfig(steps=30, eval_every=10, patience=0, lr=0.05)
result = loop.train_prompt(backbone, train, dev, init_prompt(backbone, 4, seed=0), config, checkpoint_dir=checkpoints,
                           progress=False)
save_prompt(result.prompt, out)
curve = [{k: v for k, v in point.items() if k != "wall_seconds"} for point in result.curve]
out.with_suffix(".json").write_text(json.dumps({"resumed_from": resumed_from, "curve": curve,
                                               "best_step": result.best_step, "steps_done": result.steps_done}))
"""


def test_killed_run_resumes_to_the_same_result(tiny_dirs, tmp_path):
    """A run SIGKILLed mid-step, 4 steps past its step-10 checkpoint, resumes from that checkpoint and ends with the
    prompt (bit for bit), curve and best step of an uninterrupted run. The victim pauses itself at a fixed step and
    says so, so the kill lands at the same point on a fast or a slow machine: no timing is involved."""
    command = [sys.executable, "-c", WORKER, str(tiny_dirs["causal"])]
    reference = subprocess.Popen(command + [str(tmp_path / "ck_ref"), str(tmp_path / "ref")])  # alongside the victim
    victim = subprocess.Popen(command + [str(tmp_path / "ck"), str(tmp_path / "resumed"), "15"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    with victim:
        paused = any(line == "paused\n" for line in victim.stdout)  # False: the output ended, and so did the run
        assert paused, f"the run ended (exit {victim.wait()}) before it could be killed"
        victim.send_signal(signal.SIGKILL)
        victim.wait()
    assert victim.returncode == -signal.SIGKILL
    assert not (tmp_path / "resumed").exists()
    assert json.loads((tmp_path / "ck" / "checkpoint.json").read_text())["step"] == 10
    subprocess.run(command + [str(tmp_path / "ck"), str(tmp_path / "resumed")], check=True)
    assert reference.wait() == 0
    ref, resumed = (json.loads((tmp_path / f"{name}.json").read_text()) for name in ("ref", "resumed"))
    assert ref["resumed_from"] == [None] and resumed["resumed_from"] == [10]
    assert resumed["curve"] == ref["curve"] and [p["step"] for p in ref["curve"]] == [0, 10, 20, 30]
    assert (resumed["best_step"], resumed["steps_done"]) == (ref["best_step"], ref["steps_done"])
    assert torch.equal(load_prompt(tmp_path / "resumed").tensor, load_prompt(tmp_path / "ref").tensor)


def test_progress_bar_shows_what_the_last_evaluation_found(tiny_dirs, toy_task, monkeypatch):
    import promptbank.tuning.loop as train_module
    shown = []

    class Bar:  # records what the bar is told, whatever tqdm would have redrawn
        def __init__(self, *args, **kwargs): ...
        def set_postfix(self, **values): shown.append(values)
        def update(self, n): ...
        def close(self): ...
    monkeypatch.setattr(train_module, "tqdm", Bar)
    backbone, train, dev = _setup(tiny_dirs, toy_task)
    train_prompt(backbone, train, dev, init_prompt(backbone, 4), TrainConfig(steps=4, eval_every=2, patience=0))
    assert shown[0]["best"] == "-" and "loss" not in shown[0]  # step 1: only the start was evaluated
    # from step 2 on, what the evaluation at step 2 (then 4) found: read from the device only then, not every step
    assert all(values["best"] not in ("-", "-inf") and "loss" in values for values in shown[1:])
    assert shown[1]["loss"] == shown[2]["loss"] != shown[3]["loss"]


def test_evaluation_prints_short(tiny_dirs, toy_task):
    from promptbank.scoring.evaluate import evaluate
    backbone, _, dev = _setup(tiny_dirs, toy_task)
    result = evaluate(backbone, init_prompt(backbone, 4).tensor, dev)
    assert repr(result) == f"Evaluation(accuracy={result.accuracy:.4f}, macro_f1={result.macro_f1:.4f}, n=20)"
