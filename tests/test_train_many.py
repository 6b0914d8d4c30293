import json
from dataclasses import replace

import pytest
import torch

from promptbank import scoring
from promptbank.backbones import load_backbone
from promptbank.errors import BadArgumentError, DataError, IncompatiblePromptError
from promptbank.scoring.evaluate import length_batches
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.init import init_prompt
from promptbank.tuning import loop
from promptbank.tuning.loop import Job, train_many, train_prompt


def _jobs(backbone, toy_task, toy_choice_task) -> list[Job]:
    """Two seeds of one single-label task and a multiple-choice task: K tasks, K seeds and mixed formats at once."""
    toy = scoring.encode(backbone, toy_task, toy_task.examples)
    choice = scoring.encode(backbone, toy_choice_task, toy_choice_task.examples)
    return [Job(toy[:40], toy[40:], init_prompt(backbone, 4, seed=0), seed=0),
            Job(toy[:40], toy[40:], init_prompt(backbone, 4, seed=1), seed=1),
            Job(choice[:20], choice[20:], init_prompt(backbone, 4, seed=2))]


def _separately(backbone, jobs, config):
    return [train_prompt(backbone, job.train_items, job.dev_items, job.start,
                         config if job.seed is None else replace(config, seed=job.seed), progress=False)
            for job in jobs]


def _assert_same(results, reference):
    for result, ref in zip(results, reference, strict=True):
        assert torch.allclose(result.prompt.tensor, ref.prompt.tensor, atol=1e-5)
        assert [p["dev_accuracy"] for p in result.curve] == [p["dev_accuracy"] for p in ref.curve]
        assert [p["step"] for p in result.curve] == [p["step"] for p in ref.curve]
        assert (result.best_step, result.best_dev, result.steps_done, result.stopped_early) == (
            ref.best_step, ref.best_dev, ref.steps_done, ref.stopped_early)
        for point, ref_point in zip(result.curve[1:], ref.curve[1:]):
            assert point["train_loss"] == pytest.approx(ref_point["train_loss"], abs=1e-5)


# pass size 5: every pass mixes jobs and every job's batch is split across passes; a budget of 1 token: every
# item is a pass of its own
@pytest.mark.parametrize("family, pass_size, pass_tokens", [("causal", 32, 4096), ("causal", 5, 4096),
                                                            ("causal", 32, 1), ("gemma", 32, 4096),
                                                            ("encoder", 5, 4096), ("seq2seq", 32, 4096)])
def test_same_prompts_as_separate_runs(tiny_dirs, toy_task, toy_choice_task, family, pass_size, pass_tokens):
    backbone = load_backbone(str(tiny_dirs[family]), "float32")
    jobs = _jobs(backbone, toy_task, toy_choice_task)
    # a clipping norm this small clips every step, so clipping all prompts by one joint norm would show; the seed
    # of the third job comes from the config
    config = TrainConfig(steps=8, batch_size=8, lr=0.05, eval_every=8, patience=0, max_grad_norm=0.01, seed=3,
                         weight_decay=0.1)
    results = train_many(backbone, jobs, config, progress=False, pass_size=pass_size, pass_tokens=pass_tokens)
    reference = _separately(backbone, jobs, config)
    assert all(r.best_step == 8 for r in reference)  # the kept prompt is the last: all 8 steps are compared
    _assert_same(results, reference)
    assert not torch.allclose(results[0].prompt.tensor, jobs[0].start.tensor, atol=1e-3)


def test_a_stopped_job_leaves_the_passes_and_the_others_go_on(tiny_dirs, toy_task, toy_choice_task, monkeypatch):
    # the encoder, whose pooled input includes the prompt: a tiny random LM's predictions hardly move with its
    # prompt, so its dev curves are flat and every job would stop at the same step
    backbone = load_backbone(str(tiny_dirs["encoder"]), "float32")
    jobs = _jobs(backbone, toy_task, toy_choice_task)
    config = TrainConfig(steps=16, batch_size=8, lr=0.05, eval_every=2, patience=3)
    reference = _separately(backbone, jobs, config)
    stops = sorted(r.steps_done for r in reference)
    assert reference[1].stopped_early and stops[0] < stops[-1] < 16, "the jobs should stop at different steps"
    prompts_per_step = []
    score = scoring.score

    def counting(backbone, prompts, items, prompt_of=None):
        if not torch.is_inference_mode_enabled():  # a training step, not an evaluation
            prompts_per_step.append(prompts.shape[0])
        return score(backbone, prompts, items, prompt_of)
    monkeypatch.setattr(scoring, "score", counting)
    results = train_many(backbone, jobs, config, progress=False, pass_size=24)  # one training pass a step
    _assert_same(results, reference)
    assert prompts_per_step == [sum(stop > step for stop in stops) for step in range(stops[-1])]


class Killed(Exception):
    pass


def test_interrupted_run_resumes_to_the_same_result(tiny_dirs, toy_task, toy_choice_task, tmp_path, monkeypatch):
    backbone = load_backbone(str(tiny_dirs["encoder"]), "float32")  # dev curves that move (see above)
    jobs = _jobs(backbone, toy_task, toy_choice_task)
    config = TrainConfig(steps=9, batch_size=8, lr=0.05, eval_every=3, patience=0)
    uninterrupted = train_many(backbone, jobs, config, progress=False)
    assert max(r.best_step for r in uninterrupted) > 3, "a prompt kept after the resume point shows the resume"
    score, state, steps_run, kill = scoring.score, tmp_path / "checkpoint.json", [], [True]

    def dying(backbone, prompts, items, prompt_of=None):
        if not torch.is_inference_mode_enabled():
            steps_run.append(1)
            if kill[0] and state.exists() and json.loads(state.read_text())["step"] == 3:
                raise Killed  # the first step after the checkpoint of step 3
        return score(backbone, prompts, items, prompt_of)
    monkeypatch.setattr(scoring, "score", dying)
    with pytest.raises(Killed):
        train_many(backbone, jobs, config, checkpoint_dir=tmp_path, progress=False)
    kill[0], steps_run[:] = False, []
    resumed = train_many(backbone, jobs, config, checkpoint_dir=tmp_path, progress=False)
    assert len(steps_run) == 6, "the resumed run should start from the checkpoint of step 3"
    for result, reference in zip(resumed, uninterrupted, strict=True):
        assert torch.equal(result.prompt.tensor, reference.prompt.tensor)
        assert [p["dev_accuracy"] for p in result.curve] == [p["dev_accuracy"] for p in reference.curve]
    with pytest.raises(BadArgumentError, match="another run \\(its seeds differ\\)"):
        train_many(backbone, [replace(job, seed=7) for job in jobs], config, checkpoint_dir=tmp_path, progress=False)


def test_bad_jobs_are_refused_in_one_sentence(tiny_dirs, toy_task):
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    other = load_backbone(str(tiny_dirs["causal48"]), "float32")
    items = scoring.encode(backbone, toy_task, toy_task.examples)
    good = Job(items[:40], items[40:], init_prompt(backbone, 4))
    with pytest.raises(BadArgumentError, match="^Training needs at least one job; the job list is empty.$"):
        train_many(backbone, [], progress=False)
    with pytest.raises(DataError, match="^Job 1 needs at least one training and one dev example.$"):
        train_many(backbone, [good, replace(good, dev_items=[])], progress=False)
    with pytest.raises(IncompatiblePromptError, match="^Job 1: .*hidden size 48.*hidden size 32"):
        train_many(backbone, [good, replace(good, start=init_prompt(other, 4))], progress=False)
    with pytest.raises(BadArgumentError, match="one length, but job 1's has 6 positions and job 0's 4"):
        train_many(backbone, [good, replace(good, start=init_prompt(backbone, 6))], progress=False)
    with pytest.raises(BadArgumentError, match="^A pass needs a positive number of examples and tokens, not 0 and "
                                               "4096.$"):
        train_many(backbone, [good], progress=False, pass_size=0)


def test_long_examples_come_in_smaller_passes(tiny_dirs, toy_choice_task):
    # what bounds train_many's memory: a pass closes before rows × longest row passes the token budget
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    items = scoring.encode(backbone, toy_choice_task, toy_choice_task.examples)
    budget = 3 * max(item.n_rows * item.length for item in items)
    passes = length_batches(items, 32, budget)
    assert sorted(i for p in passes for i in p) == list(range(len(items)))
    for p in passes:
        assert sum(items[i].n_rows for i in p) * max(items[i].length for i in p) <= budget
        assert len(p) <= 32
    assert len(passes) > len(length_batches(items, 32))  # the budget, not the pass size, split them
    assert [len(p) for p in length_batches(items, 32, 1)] == [1] * len(items)  # too big for any budget: alone


@pytest.mark.parametrize("change", ["task", "init", "length"])
def test_a_checkpoint_of_another_task_or_start_is_refused_naming_what_differs(tiny_dirs, toy_task, toy_choice_task,
                                                                              tmp_path, monkeypatch, change):
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    items = scoring.encode(backbone, toy_task, toy_task.examples)
    config = TrainConfig(steps=4, eval_every=2, patience=0)
    job = Job(items[:40], items[40:], init_prompt(backbone, 4, seed=0))
    save = loop.save_checkpoint

    def dying(directory, tensors, state):
        save(directory, tensors, state)
        if state["step"] == 2:
            raise KeyboardInterrupt
    monkeypatch.setattr(loop, "save_checkpoint", dying)
    with pytest.raises(KeyboardInterrupt):
        train_many(backbone, [job], config, checkpoint_dir=tmp_path, progress=False)
    monkeypatch.setattr(loop, "save_checkpoint", save)
    other = {"task": lambda: replace(job, train_items=scoring.encode(backbone, toy_choice_task,
                                                                     toy_choice_task.examples[:20])),
             "init": lambda: replace(job, start=init_prompt(backbone, 4, seed=1)),
             "length": lambda: replace(job, start=init_prompt(backbone, 5, seed=0))}[change]()
    words = "training or dev examples" if change == "task" else "starting prompts"
    with pytest.raises(BadArgumentError, match=f"another run \\(its {words}"):
        train_many(backbone, [other], config, checkpoint_dir=tmp_path, progress=False)
    assert train_many(backbone, [job], config, checkpoint_dir=tmp_path, progress=False)[0].steps_done == 4
