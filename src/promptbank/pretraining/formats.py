"""PPT's self-supervised pre-training tasks, built from a Corpus as promptbank Tasks of kind "pretrained".

Gu et al. (2022) pre-train one soft prompt per task format on unlabeled text, then use it to start prompt
tuning on downstream tasks of that format (`format_for`):
- pair tasks: `nsp3`, a 3-way next sentence prediction scored with the NLI words yes / maybe / no;
- multiple choice: `next_sentence_selection`, the true next sentence among 6 options lettered (A)-(F) in the input,
  the letter scored (PPT's form);
- single-text classification: `sentence_sentiment5`, sentences pseudo-labelled on 5 sentiment levels;
and `unified`, PPT's unified multiple choice: lettered next sentence selection with 2 to 16 options, for a single
prompt across formats (downstream tasks read it as `<task>:letters`).
Every builder is deterministic for a seed, returns exactly the number of examples asked for, with classes
(or answer positions) balanced to within one, and never repeats an example.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from promptbank.errors import BadArgumentError, DataError
from promptbank.pretraining.corpus import Corpus
from promptbank.pretraining.labeller import LevelLabeller, lexicon_levels
from promptbank.tasks.builtin import NLI_VERBALIZER, REVIEW
from promptbank.tasks.task import LETTERS, Example, Task

FORMATS_VERSION = 2  # bump when a format's examples change: prompts pre-trained on the old ones are then not reused
OPTIONS = 6
UNIFIED_OPTIONS = (2, 16)  # the fewest and most options of a unified example
CHOICE_LABELS = tuple(LETTERS[:OPTIONS])
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

def _selections(corpus: Corpus, examples: int, seed: int, sizes: list[int] | None = None) -> list[Example]:
    """A context sentence and its options (`sizes[k]` for example k, OPTIONS for all by default): its next sentence
    at a balanced random place, and others from the same document (its other sentences) where it has enough,
    else from random other documents."""
    _check_size(examples)
    rng = random.Random(seed)
    documents, positions = corpus.documents, _positions(corpus)
    sizes = sizes or [OPTIONS] * examples

    def context() -> Position | None:
        d, i = rng.choice(positions)
        return (d, i) if i + 1 < len(documents[d].sentences) else None

    def others(d: int, i: int, wanted: int) -> list[str]:
        sentences = documents[d].sentences
        picked = rng.sample([s for j, s in enumerate(sentences) if j not in (i, i + 1)],
                            min(wanted, len(sentences) - 2))
        for _ in range(ATTEMPTS):
            if len(picked) == wanted:
                return picked
            e, j = rng.choice(positions)
            if e != d and documents[e].sentences[j] not in picked:
                picked.append(documents[e].sentences[j])
        raise DataError("The corpus is too small for next sentence selection; use more documents.")

    seen: set = set()
    rows = []
    for size, place in zip(sizes, _balanced(examples, max(sizes), rng)):
        d, i = _draw("next_sentence_selection", context, seen)
        options = others(d, i, size - 1)
        rng.shuffle(options)
        answer = place % size  # answer positions balanced among examples of one size
        options.insert(answer, documents[d].sentences[i + 1])
        rows.append(Example(documents[d].sentences[i], answer, choices=tuple(options)))
    return rows


def next_sentence_selection(corpus: Corpus, examples: int, seed: int = 0) -> Task:
    """PPT's pre-training task for multiple-choice tasks: which of 6 lettered options is the next sentence."""
    return Task("next_sentence_selection", "multiple_choice", "pretrained", "{text}\nWhich sentence comes next?",
                CHOICE_LABELS, (), tuple(_selections(corpus, examples, seed)),
                _describe(corpus, "the next sentence among 6 lettered options"), choice_scoring="letters")


# ---- sentence sentiment -----------------------------------------------------------------------------------

def _sentiments(corpus: Corpus, examples: int, seed: int,
                labeller: LevelLabeller | None) -> list[tuple[str, int]]:
    """(sentence, level): sentences the labeller (the lexicons' agreement by default) gives a level, drawn with the
    levels balanced. The strongly polar levels are rare in running text, so the corpus bounds how many can be had."""
    _check_size(examples)
    rng = random.Random(seed)
    sentences = [sentence for document in corpus.documents for sentence in document.sentences]
    by_level: list[list[str]] = [[] for _ in SENTIMENT_LABELS]
    for sentence, level in zip(sentences, (labeller or lexicon_levels)(sentences)):
        if level is not None:
            by_level[level].append(sentence)
    wanted = _balanced(examples, len(SENTIMENT_LABELS), rng)
    if short := [SENTIMENT_LABELS[k] for k, pool in enumerate(by_level) if wanted.count(k) > len(pool)]:
        raise DataError(f"The corpus has too few sentences labelled {', '.join(short)} for {examples} "
                        f"sentence_sentiment5 examples (at most {len(SENTIMENT_LABELS) * min(map(len, by_level))}); "
                        "ask for fewer or use more documents.")
    picked = {level: iter(rng.sample(pool, wanted.count(level))) for level, pool in enumerate(by_level)}
    return [(next(picked[level]), level) for level in wanted]


def sentence_sentiment5(corpus: Corpus, examples: int, seed: int = 0, labeller: LevelLabeller | None = None) -> Task:
    """PPT's pre-training task for single-text classification: 5-level sentiment of pseudo-labelled sentences.

    A sentence's level is where two sentiment lexicons agree (labeller.py); sentences they disagree on are left
    out, and the five levels are drawn equally often. The template is the built-in sentiment tasks' one, and the
    middle three answers their words.
    """
    rows = tuple(Example(text, level) for text, level in _sentiments(corpus, examples, seed, labeller))
    return Task("sentence_sentiment5", "single", "pretrained", REVIEW, SENTIMENT_LABELS, SENTIMENT_VERBALIZER, rows,
                _describe(corpus, "5-level sentiment where two lexicons agree"))


# ---- all as multiple choice -------------------------------------------------------------------------------

def unified(corpus: Corpus, examples: int, seed: int = 0) -> Task:
    """PPT's unified multiple choice: next sentence selection with 2 to 16 lettered options (each count equally
    often), so that one prompt reads any lettered choice, a binary sentiment recast as "(A) bad (B) good" included."""
    _check_size(examples)
    low, high = UNIFIED_OPTIONS
    sizes = [low + k % (high - low + 1) for k in range(examples)]
    random.Random(seed).shuffle(sizes)
    return Task("unified", "multiple_choice", "pretrained", "{text}\nWhich sentence comes next?", tuple(LETTERS),
                (), tuple(_selections(corpus, examples, seed, sizes)),
                _describe(corpus, "the next sentence among 2 to 16 lettered options"), choice_scoring="letters")


PRETRAINING_TASKS: dict[str, Callable[..., Task]] = {
    "nsp3": nsp3, "next_sentence_selection": next_sentence_selection, "sentence_sentiment5": sentence_sentiment5,
    "unified": unified,
}


def format_for(task: Task) -> str:
    """The pre-training task whose prompt suits a downstream task of this task's format."""
    return {"pair": "nsp3", "multiple_choice": "next_sentence_selection", "single": "sentence_sentiment5"}[task.format]
