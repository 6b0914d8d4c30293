"""PPT's self-supervised pre-training tasks, built from a Corpus as promptbank Tasks of kind "pretrained".

Gu et al. (2022) pre-train one soft prompt per task format on unlabeled text, then use it to start prompt
tuning on downstream tasks of that format (`format_for`):
- pair tasks: `nsp3`, a 3-way next sentence prediction scored with the NLI words yes / maybe / no;
- multiple choice: `next_sentence_selection`, the true next sentence among 6;
- single-text classification: `sentence_sentiment5`, sentences pseudo-labelled on 5 sentiment levels;
and `unified` phrases all three as multiple choice, for a single prompt across formats.
Every builder is deterministic for a seed, returns exactly the number of examples asked for, with classes
(or answer positions) balanced to within one, and never repeats an example.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from promptbank.errors import BadArgumentError, DataError
from promptbank.pretraining.corpus import Corpus
from promptbank.pretraining.labeller import Labeller, review_labeller, sentiment_levels
from promptbank.tasks.builtin import NLI_VERBALIZER, REVIEW
from promptbank.tasks.task import Example, Task

OPTIONS = 6
CHOICE_LABELS = ("A", "B", "C", "D", "E", "F")
NSP_LABELS = ("next", "same_document", "other_document")
NSP_TEMPLATE = "Sentence 1: {text}\nSentence 2: {text_b}\nContinues:"
NSP_ANSWERS = ("the next sentence", "a sentence from the same text", "a sentence from another text")
SENTIMENT_LABELS = ("very_negative", "negative", "neutral", "positive", "very_positive")
SENTIMENT_VERBALIZER = ("terrible", "negative", "neutral", "positive", "great")
ATTEMPTS = 1000  # draws per example before the corpus is judged too small for the request


Position = tuple[int, int]  # (document index, sentence index)


def _check_size(examples: int) -> None:
    if examples <= 0:
        raise BadArgumentError(f"The number of pre-training examples must be positive, not {examples}.")


def _balanced(examples: int, classes: int, rng: random.Random) -> list[int]:
    """`examples` labels, each class within one of the others, in random order."""
    labels = [i % classes for i in range(examples)]
    rng.shuffle(labels)
    return labels


def _positions(corpus: Corpus) -> list[Position]:
    return [(d, i) for d, document in enumerate(corpus.documents) for i in range(len(document.sentences))]


def _draw(what: str, draw: Callable[[], tuple | None], seen: set) -> tuple:
    """A new (unseen) draw; a DataError when ATTEMPTS draws find none (the corpus is too small)."""
    for _ in range(ATTEMPTS):
        found = draw()
        if found is not None and found not in seen:
            seen.add(found)
            return found
    raise DataError(f"The corpus is too small for that many {what} examples; ask for fewer or use more documents.")


def _describe(corpus: Corpus, what: str) -> str:
    return f"PPT pre-training ({what}) on corpus {corpus.fingerprint[:16]}."


# ---- sentence pairs ---------------------------------------------------------------------------------------

def _pairs(corpus: Corpus, examples: int, seed: int) -> list[tuple[str, str, int]]:
    """(sentence A, sentence B, label): B follows A (0), is elsewhere in A's document (1), or in another (2).

    A is drawn uniformly among the corpus's sentences (with a next sentence, or a non-adjacent one, where the
    label needs it). Sentences are unique in a corpus, so B is never A.
    """
    _check_size(examples)
    rng = random.Random(seed)
    documents, positions = corpus.documents, _positions(corpus)

    def pair(label: int) -> tuple[str, str] | None:
        d, i = rng.choice(positions)
        sentences = documents[d].sentences
        if label == 0:
            return (sentences[i], sentences[i + 1]) if i + 1 < len(sentences) else None
        if label == 1:
            far = [j for j in range(len(sentences)) if abs(j - i) >= 2]
            return (sentences[i], sentences[rng.choice(far)]) if far else None
        e, j = rng.choice(positions)
        return (sentences[i], documents[e].sentences[j]) if e != d else None

    seen: set = set()
    return [(*_draw("nsp3", lambda: pair(label), seen), label) for label in _balanced(examples, 3, rng)]


def nsp3(corpus: Corpus, examples: int, seed: int = 0) -> Task:
    """Next sentence prediction with 3 classes, PPT's pre-training task for sentence-pair tasks.

    The answers are the NLI words of the built-in pair tasks (yes = next, maybe = same document, no = another
    document), as in the paper, so the prompt starts downstream NLI where its answers already mean something.
    """
    rows = tuple(Example(a, label, b) for a, b, label in _pairs(corpus, examples, seed))
    return Task("nsp3", "pair", "pretrained", NSP_TEMPLATE, NSP_LABELS, NLI_VERBALIZER, rows,
                _describe(corpus, "next sentence, same document or another document"))


# ---- next sentence selection ------------------------------------------------------------------------------

def _selections(corpus: Corpus, examples: int, seed: int) -> list[Example]:
    """A context sentence and 6 distinct options: its next sentence at a balanced random place, and 5 others
    from the same document (its other sentences) where it has enough, else from random other documents."""
    _check_size(examples)
    rng = random.Random(seed)
    documents, positions = corpus.documents, _positions(corpus)

    def context() -> Position | None:
        d, i = rng.choice(positions)
        return (d, i) if i + 1 < len(documents[d].sentences) else None

    def others(d: int, i: int) -> list[str]:
        sentences = documents[d].sentences
        picked = rng.sample([s for j, s in enumerate(sentences) if j not in (i, i + 1)],
                            min(OPTIONS - 1, len(sentences) - 2))
        for _ in range(ATTEMPTS):
            if len(picked) == OPTIONS - 1:
                return picked
            e, j = rng.choice(positions)
            if e != d and documents[e].sentences[j] not in picked:
                picked.append(documents[e].sentences[j])
        raise DataError("The corpus is too small for next sentence selection; use more documents.")

    seen: set = set()
    rows = []
    for answer in _balanced(examples, OPTIONS, rng):
        d, i = _draw("next_sentence_selection", context, seen)
        options = others(d, i)
        rng.shuffle(options)
        options.insert(answer, documents[d].sentences[i + 1])
        rows.append(Example(documents[d].sentences[i], answer, choices=tuple(options)))
    return rows


def next_sentence_selection(corpus: Corpus, examples: int, seed: int = 0) -> Task:
    """PPT's pre-training task for multiple-choice tasks: pick the sentence that comes next, among 6."""
    return Task("next_sentence_selection", "multiple_choice", "pretrained", "{text}\nNext sentence:",
                CHOICE_LABELS, (), tuple(_selections(corpus, examples, seed)),
                _describe(corpus, "the next sentence among 6"))


# ---- sentence sentiment -----------------------------------------------------------------------------------

def _sentiments(corpus: Corpus, examples: int, seed: int, labeller: Labeller | None) -> list[tuple[str, int]]:
    """(sentence, level): the level is the labeller's score's quintile over all the corpus's sentences."""
    _check_size(examples)
    rng = random.Random(seed)
    sentences = [sentence for document in corpus.documents for sentence in document.sentences]
    levels = sentiment_levels((labeller or review_labeller()).scores(sentences), len(SENTIMENT_LABELS))
    by_level: list[list[str]] = [[] for _ in SENTIMENT_LABELS]
    for sentence, level in zip(sentences, levels):
        by_level[level].append(sentence)
    wanted = _balanced(examples, len(SENTIMENT_LABELS), rng)
    if any(wanted.count(level) > len(pool) for level, pool in enumerate(by_level)):
        raise DataError("The corpus is too small for that many sentence_sentiment5 examples; ask for fewer.")
    picked = {level: iter(rng.sample(pool, wanted.count(level))) for level, pool in enumerate(by_level)}
    return [(next(picked[level]), level) for level in wanted]


def sentence_sentiment5(corpus: Corpus, examples: int, seed: int = 0, labeller: Labeller | None = None) -> Task:
    """PPT's pre-training task for single-text classification: 5-level sentiment of pseudo-labelled sentences.

    The levels are quintiles of the labeller's polarity score over the corpus (see labeller.py), so the five
    classes are equally common; `labeller` defaults to the one trained on food and drug reviews. The template
    is the built-in sentiment tasks' one, and the middle three answers their words.
    """
    rows = tuple(Example(text, level) for text, level in _sentiments(corpus, examples, seed, labeller))
    return Task("sentence_sentiment5", "single", "pretrained", REVIEW, SENTIMENT_LABELS, SENTIMENT_VERBALIZER, rows,
                _describe(corpus, "5-level sentiment from a review-trained labeller"))


# ---- all as multiple choice -------------------------------------------------------------------------------

def unified(corpus: Corpus, examples: int, seed: int = 0, labeller: Labeller | None = None) -> Task:
    """PPT's unified multiple choice: the three tasks above, a third each, with their answers given as texts.

    Each input ends with its question; the options are scored as the answer texts (promptbank's multiple
    choice), so they are not also listed in the input as the paper's letter options are.
    """
    _check_size(examples)
    sizes = [examples // 3 + (k < examples % 3) for k in range(3)]
    rows = []
    if sizes[0]:
        rows += [Example(f"Sentence 1: {a}\nSentence 2: {b}\nWhere does sentence 2 come from?", label,
                         choices=NSP_ANSWERS) for a, b, label in _pairs(corpus, sizes[0], seed)]
    if sizes[1]:
        rows += [Example(f"{ex.text}\nWhich sentence comes next?", ex.label, choices=ex.choices)
                 for ex in _selections(corpus, sizes[1], seed)]
    if sizes[2]:
        rows += [Example(f"Text: {text}\nHow positive is it?", level, choices=SENTIMENT_VERBALIZER)
                 for text, level in _sentiments(corpus, sizes[2], seed, labeller)]
    random.Random(seed).shuffle(rows)
    return Task("unified", "multiple_choice", "pretrained", "{text}\nAnswer:", CHOICE_LABELS, (), tuple(rows),
                _describe(corpus, "next sentence, next sentence selection and sentiment as multiple choice"))


PRETRAINING_TASKS: dict[str, Callable[..., Task]] = {
    "nsp3": nsp3, "next_sentence_selection": next_sentence_selection, "sentence_sentiment5": sentence_sentiment5,
    "unified": unified,
}


def format_for(task: Task) -> str:
    """The pre-training task whose prompt suits a downstream task of this task's format."""
    return {"pair": "nsp3", "multiple_choice": "next_sentence_selection", "single": "sentence_sentiment5"}[task.format]
