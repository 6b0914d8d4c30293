"""Multiple-choice scoring modes: summed log-likelihood, its mean per token, and PPT's lettered choices."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_pretrain import _choice_task_file

from promptbank import scoring
from promptbank.backbones import load_backbone
from promptbank.errors import BadArgumentError
from promptbank.tasks import base_task, get_task, split, task_category
from promptbank.tasks.task import scored_as
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.init import init_prompt
from promptbank.tuning.loop import train_prompt


def test_lettered_choices_list_the_options_and_score_the_letter(toy_choice_task, toy_task):
    lettered = scored_as(toy_choice_task, "letters")
    example = toy_choice_task.examples[1]  # three options
    assert lettered.name == "toy_mc:letters" and lettered.candidates(example) == ("A", "B", "C")
    assert lettered.render(example) == ("Q: question 1?\nA:\n(A) yes indeed (B) no (C) maybe so then\n"
                                        "The correct one is")
    binary = scored_as(toy_task, "letters")  # PPT's unified form of a single-sentence task
    assert binary.render(toy_task.examples[0]).endswith("(A) bad (B) wonderful day\nThe correct one is")
    assert binary.candidates(toy_task.examples[0]) == ("A", "B") and binary.examples == toy_task.examples
    assert scored_as(toy_task, "sum") is toy_task
    with pytest.raises(BadArgumentError, match="already scored by letters"):
        scored_as(binary, "mean")
    with pytest.raises(BadArgumentError, match="Unknown choice scoring 'max'"):
        scored_as(toy_task, "max")


def test_mean_scoring_divides_each_candidates_sum_by_its_tokens(tiny_dirs, toy_choice_task):
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    examples = toy_choice_task.examples[:6]
    prompt = init_prompt(backbone, 4, seed=0).tensor
    summed = scoring.score(backbone, prompt, scoring.encode(backbone, toy_choice_task, examples))
    mean = scoring.score(backbone, prompt, scoring.encode(backbone, scored_as(toy_choice_task, "mean"), examples))
    lengths = torch.tensor([[len(backbone.tokenizer(" " + c, add_special_tokens=False)["input_ids"])
                             for c in ("yes indeed", "no", "maybe so then")]], dtype=torch.float32)
    finite = torch.isfinite(summed)
    assert torch.equal(finite, torch.isfinite(mean))  # a two-option example keeps -inf for its absent third
    torch.testing.assert_close(mean[finite], (summed / lengths)[finite])
    assert lengths.min() < lengths.max()  # the options differ in length, so the two modes differ


def test_a_lettered_task_scores_one_token_per_option_and_trains(tiny_dirs, toy_choice_task):
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    task = scored_as(toy_choice_task, "letters")
    items = scoring.encode(backbone, task, task.examples)
    assert all(len(item.targets) == item.n_candidates for item in items)  # one letter token per option
    assert all(len(item.rows) == 1 for item in items)  # every option shares the input: one row
    result = train_prompt(backbone, items[:20], items[20:], init_prompt(backbone, 4, seed=0),
                          TrainConfig(steps=6, lr=0.05, eval_every=3, patience=0), progress=False)
    assert result.curve[-1]["train_loss"] is not None and 0 <= result.best_dev <= 1


def test_a_task_name_may_say_how_its_choices_are_scored():
    task = get_task("rotten_tomatoes:letters")
    assert task.name == "rotten_tomatoes:letters" and task.choice_scoring == "letters"
    assert base_task("rotten_tomatoes:letters") == "rotten_tomatoes" and base_task("a:b") == "a:b"
    assert task_category("rotten_tomatoes:mean") == task_category("rotten_tomatoes")
    assert get_task("rotten_tomatoes:sum") is get_task("rotten_tomatoes")


def test_the_cli_measures_each_mode_and_trains_with_the_chosen_one(cli, tiny_dirs, tmp_path):
    task = _choice_task_file(tmp_path)
    out = tmp_path / "modes"
    code, stdout, err = cli("experiment", "choice-scoring", "--tasks", task, "--backbone", tiny_dirs["causal"],
                            "--out", out, "--dtype", "float32")
    assert code == 0, err
    (row,) = json.loads((out / "results.json").read_text())["tasks"]
    assert set(row["accuracy"]) == {"sum", "mean", "letters"} and row["chance"] == pytest.approx(1 / 3)
    assert row["chosen"] == max(row["accuracy"], key=lambda mode: row["accuracy"][mode]["validation"])
    assert "chosen on validation" in stdout
    code, stdout, err = cli("train", "--task", task, "--choice-scoring", "letters", "--backbone", tiny_dirs["causal"],
                            "--steps", 2, "--eval-every", 2, "--prompt-length", 4, "--test-size", 4, "--out",
                            tmp_path / "p", "--dtype", "float32", "--no-store")
    assert code == 0, err
    assert json.loads((tmp_path / "p" / "prompt.json").read_text())["task"] == "toy_choices:letters"
    code, _, err = cli("train", "--task", f"{task}:letters", "--choice-scoring", "mean", "--backbone",
                       tiny_dirs["causal"], "--steps", 2, "--out", tmp_path / "q", "--dtype", "float32", "--no-store")
    assert code == 2 and "already scored by letters" in err and not (tmp_path / "q").exists()


def test_the_shuffled_answer_task_keeps_the_examples_and_split_but_not_the_letter_of_a_label(tmp_path):
    """reports/choice-scoring/shuffled_task.py: the probe of whether a prompt reads lettered options."""
    script = Path(__file__).parents[1] / "reports" / "choice-scoring" / "shuffled_task.py"
    subprocess.run([sys.executable, str(script), "rotten_tomatoes", str(tmp_path)], check=True, capture_output=True)
    original, shuffled = get_task("rotten_tomatoes"), get_task(f"{tmp_path / 'task.json'}:letters")
    assert len(shuffled.examples) == len(original.examples)
    for before, after in zip(original.examples, shuffled.examples):
        assert after.text == before.text and after.choices[after.label] == original.verbalizer[before.label]
    assert [e.text for e in split(shuffled).test] == [e.text for e in split(original).test]
    first = sum(e.label == 0 for e in shuffled.examples) / len(shuffled.examples)
    assert 0.45 < first < 0.55  # A is right about half the time, whatever the label
    negative = [e for e, b in zip(shuffled.examples, original.examples) if b.label == 0]
    assert {e.label for e in negative} == {0, 1}
