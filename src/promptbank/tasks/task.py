"""A task is examples + a template + a verbalizer; every format is scored as a choice among candidates."""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Literal

from promptbank.errors import BadArgumentError, DataError

Format = Literal["single", "pair", "multiple_choice"]
FORMATS: tuple[str, ...] = ("single", "pair", "multiple_choice")
SPLIT_SEED = 20211115  # fixed: the train/validation/test split of a task never changes
# How a choice among candidates is scored: each candidate's summed log-likelihood (sum), its mean per token (mean),
# or PPT's lettered form (letters: the options listed as (A) … in the input, and the letter scored)
CHOICE_SCORINGS: tuple[str, ...] = ("sum", "mean", "letters")
LETTERS = "ABCDEFGHIJKLMNOP"  # PPT's unified multiple choice has 2-16 options
LETTER_CUE = "The correct one is"


@dataclass(frozen=True)
class Example:
    """One labelled input. `label` indexes the task's verbalizer, or this example's `choices`."""

    text: str
    label: int
    text_b: str | None = None
    choices: tuple[str, ...] | None = None  # multiple choice: the answer texts of this example


@dataclass(frozen=True)
class Task:
    """A classification problem phrased for a language model.

    `template` uses {text} and, for pairs, {text_b}; it ends with the cue after which the answer
    (a verbalizer word, or a choice's text) is scored. `category` is the task type (sentiment,
    topic, nli, qa, intent, ...), which transfer studies group by (a bank record's `kind` is something else: how
    the prompt was made).
    """

    name: str
    format: Format
    category: str
    template: str
    labels: tuple[str, ...]
    verbalizer: tuple[str, ...]
    examples: tuple[Example, ...] = field(repr=False)
    description: str = ""
    choice_scoring: str = "sum"  # one of CHOICE_SCORINGS; a task's name says when it is not sum (see scored_as)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise DataError(f"Task {self.name!r} has format {self.format!r}; use one of {', '.join(FORMATS)}.")
        if not self.examples:
            raise DataError(f"Task {self.name!r} has no examples.")
        if self.format != "multiple_choice" and len(self.verbalizer) != len(self.labels):
            raise DataError(f"Task {self.name!r} needs one verbalizer word per label.")

    def render(self, example: Example) -> str:
        """The model's input text for an example (without the answer); lettered, the options follow it, then the
        cue the letter answers."""
        text = self.template.format(text=example.text, text_b=example.text_b or "")
        if self.choice_scoring != "letters":
            return text
        options = " ".join(f"({letter}) {option}" for letter, option in zip(LETTERS, self.options(example)))
        return f"{text}\n{options}\n{LETTER_CUE}"

    def options(self, example: Example) -> tuple[str, ...]:
        """The answers to choose among: the example's choices, or the verbalizer's words."""
        return example.choices if example.choices is not None else self.verbalizer

    def candidates(self, example: Example) -> tuple[str, ...]:
        """The answer texts scored for an example (lettered, the letters); the right one is at `example.label`."""
        options = self.options(example)
        return tuple(LETTERS[:len(options)]) if self.choice_scoring == "letters" else options

    def with_examples(self, examples: list[Example] | tuple[Example, ...]) -> Task:
        return replace(self, examples=tuple(examples))


def scored_as(task: Task, choice_scoring: str) -> Task:
    """The task with its choices scored another way, named `<name>:<scoring>` (so records and reports say how);
    `sum` is the task itself. Any task can be lettered: a binary one becomes "(A) bad (B) good", PPT's unified
    form."""
    if choice_scoring not in CHOICE_SCORINGS:
        raise BadArgumentError(f"Unknown choice scoring {choice_scoring!r}; use one of {', '.join(CHOICE_SCORINGS)}.")
    if choice_scoring == task.choice_scoring:
        return task
    if task.choice_scoring != "sum":
        raise BadArgumentError(f"Task {task.name!r} is already scored by {task.choice_scoring}.")
    widest = max(len(task.options(ex)) for ex in task.examples)
    if choice_scoring == "letters" and widest > len(LETTERS):
        raise DataError(f"Task {task.name!r} has examples with {widest} options; lettered choices stop at "
                        f"{len(LETTERS)}.")
    return replace(task, name=f"{task.name}:{choice_scoring}", choice_scoring=choice_scoring)


def fingerprint(examples: list[Example] | tuple[Example, ...]) -> str:
    """A short sha256 of the examples' content, recorded with every trained prompt."""
    digest = hashlib.sha256()
    for ex in examples:
        digest.update(repr((ex.text, ex.text_b, ex.label, ex.choices)).encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Splits:
    train: tuple[Example, ...]
    validation: tuple[Example, ...]
    test: tuple[Example, ...]


def split(task: Task, test_size: int = 1000, validation_size: int = 500) -> Splits:
    """The task's fixed train/validation/test split: 20% / 10% of the data, capped at the given sizes.

    The shuffle uses a constant seed, so the split is the same on every machine and in every run.
    """
    order = list(task.examples)
    random.Random(SPLIT_SEED).shuffle(order)
    n = len(order)
    n_test = min(test_size, max(1, n // 5))
    n_val = min(validation_size, max(1, n // 10))
    if n - n_test - n_val < 1:
        raise DataError(f"Task {task.name!r} has only {n} examples; at least 3 are needed to split it.")
    return Splits(train=tuple(order[n_test + n_val:]), validation=tuple(order[n_test:n_test + n_val]),
                  test=tuple(order[:n_test]))


def few_shot(examples: tuple[Example, ...] | list[Example], shots: int, seed: int) -> tuple[Example, ...]:
    """K examples of each label, drawn with `seed` (fewer where a label has fewer), in shuffled order."""
    if shots <= 0:
        raise BadArgumentError(f"--shots must be a positive number of examples per class, not {shots}.")
    by_label: dict[int, list[Example]] = defaultdict(list)
    for ex in examples:
        by_label[ex.label].append(ex)
    rng = random.Random(seed)
    picked = [ex for label in sorted(by_label) for ex in rng.sample(by_label[label], min(shots, len(by_label[label])))]
    rng.shuffle(picked)
    return tuple(picked)
