"""PPT's pre-training tasks built from a small fixed corpus: right labels, balanced classes, determinism."""

from collections import Counter

import pytest

from promptbank.errors import BadArgumentError, DataError
from promptbank.pretraining import formats, labeller
from promptbank.pretraining.corpus import Corpus, Document
from promptbank.pretraining.formats import (
    OPTIONS,
    UNIFIED_OPTIONS,
    SENTIMENT_VERBALIZER,
    format_for,
    next_sentence_selection,
    nsp3,
    sentence_sentiment5,
    unified,
)
from promptbank.tasks.task import LETTER_CUE, Example, Task, split

MOODS = ("awful dreadful", "sad poor", "plain usual", "nice pleasant", "wonderful superb")


def _sentence(d: int, i: int) -> str:
    return f"Document {d} line {i} was {MOODS[(d + i) % 5]} for everyone."


@pytest.fixture(scope="module")
def small() -> Corpus:
    """12 documents of 3 to 10 sentences, every sentence unique (as the corpus guarantees)."""
    return Corpus(tuple(Document("news" if d % 2 else "fiction", f"doc{d}",
                                 tuple(_sentence(d, i) for i in range(3 + d % 8))) for d in range(12)))


def toy_labeller(texts: list[str]) -> list[int | None]:
    """The mood's level, and no label for the sentences of every third document (as if the lexicons disagreed)."""
    levels = []
    for text in texts:
        document = int(text.split()[1])
        levels.append(None if document % 3 == 0 else next(k for k, mood in enumerate(MOODS) if mood in text))
    return levels


def _where(corpus: Corpus) -> dict[str, tuple[int, int]]:
    return {s: (d, i) for d, document in enumerate(corpus.documents) for i, s in enumerate(document.sentences)}


def test_nsp3_labels_are_right(small):
    task = nsp3(small, 90, seed=3)
    where = _where(small)
    assert (task.format, task.category, task.verbalizer) == ("pair", "pretrained", ("yes", "maybe", "no"))
    assert Counter(ex.label for ex in task.examples) == {0: 30, 1: 30, 2: 30}
    for ex in task.examples:
        (da, ia), (db, ib) = where[ex.text], where[ex.text_b]
        assert ex.text != ex.text_b
        if ex.label == 0:
            assert (db, ib) == (da, ia + 1)
        elif ex.label == 1:
            assert db == da and abs(ib - ia) >= 2
        else:
            assert db != da
    assert len({(ex.text, ex.text_b) for ex in task.examples}) == 90
    assert task.render(task.examples[0]).startswith(f"Sentence 1: {task.examples[0].text}\nSentence 2: ")


def test_next_sentence_selection_has_six_distinct_lettered_options_one_right(small):
    task = next_sentence_selection(small, 48, seed=1)
    where = _where(small)
    assert (task.format, task.category, task.verbalizer) == ("multiple_choice", "pretrained", ())
    first = task.examples[0]
    assert task.candidates(first) == tuple("ABCDEF") and task.render(first).endswith(
        f"(A) {first.choices[0]} (B) {first.choices[1]} (C) {first.choices[2]} (D) {first.choices[3]} "
        f"(E) {first.choices[4]} (F) {first.choices[5]}\n{LETTER_CUE}")
    assert Counter(ex.label for ex in task.examples) == {k: 8 for k in range(OPTIONS)}
    for ex in task.examples:
        d, i = where[ex.text]
        assert len(ex.choices) == OPTIONS == len(set(ex.choices))
        assert ex.text not in ex.choices
        nexts = [k for k, choice in enumerate(ex.choices) if where[choice] == (d, i + 1)]
        assert nexts == [ex.label]
        same = sum(where[choice][0] == d for choice in ex.choices)
        assert same == min(OPTIONS, len(small.documents[d].sentences) - 1)  # same document where it can
    assert len({ex.text for ex in task.examples}) == 48


def test_sentiment_levels_are_balanced_and_keep_only_labelled_sentences(small):
    task = sentence_sentiment5(small, 25, seed=0, labeller=toy_labeller)
    assert (task.format, task.category, task.verbalizer) == ("single", "pretrained", SENTIMENT_VERBALIZER)
    assert Counter(ex.label for ex in task.examples) == {k: 5 for k in range(5)}
    assert all(MOODS[ex.label] in ex.text and int(ex.text.split()[1]) % 3 for ex in task.examples)
    with pytest.raises(DataError, match="too few sentences labelled"):
        sentence_sentiment5(small, 200, seed=0, labeller=toy_labeller)


def test_the_lexicons_label_only_where_they_agree():
    texts = ["What a wonderful, superb and delightful day.", "The meeting is on Tuesday at noon.",
             "This is a terrible, awful disaster.", "I love it, though it is sad."]
    scores = labeller.lexicon_scores(texts)
    levels = labeller.lexicon_levels(texts)
    assert levels[:3] == [4, 2, 0]
    for (vader, blob), value in zip(scores, levels):
        agree = labeller.level(vader) == labeller.level(blob)
        assert (value is not None) == agree and (value is None or value == labeller.level(vader))
    assert labeller.level(0.05) == 2 and labeller.level(0.051) == 3 and labeller.level(-0.6) == 0


def test_agreement_accuracy_collapses_levels_to_three_classes():
    def fixed(texts):
        return [0, 2, 4, None, 3]
    result = labeller.agreement_accuracy(fixed, list("abcde"), [0, 1, 0, 2, 2])
    assert result == {"coverage": 0.8, "accuracy": 0.75}  # a: right, b: right, c: wrong, e: right


def test_unified_is_lettered_selection_with_2_to_16_options(small):
    task = unified(small, 45, seed=2)
    low, high = UNIFIED_OPTIONS
    assert (task.format, task.category, len(task.examples)) == ("multiple_choice", "pretrained", 45)
    sizes = Counter(len(ex.choices) for ex in task.examples)
    assert set(sizes) == set(range(low, high + 1)) and max(sizes.values()) - min(sizes.values()) <= 1
    where = _where(small)
    for ex in task.examples:
        assert 0 <= ex.label < len(ex.choices) and len(set(ex.choices)) == len(ex.choices)
        assert where[ex.choices[ex.label]] == (where[ex.text][0], where[ex.text][1] + 1)
        assert task.candidates(ex) == tuple("ABCDEFGHIJKLMNOP"[:len(ex.choices)])
    assert task.render(task.examples[0]).endswith(LETTER_CUE)


@pytest.mark.parametrize("build", [nsp3, next_sentence_selection, sentence_sentiment5, unified])
def test_builders_are_deterministic_for_a_seed(small, build, monkeypatch):
    monkeypatch.setattr(formats, "lexicon_levels", toy_labeller)
    first = build(small, 30, seed=7)
    assert first.examples == build(small, 30, seed=7).examples
    assert first.examples != build(small, 30, seed=8).examples
    assert len(first.examples) == 30 and small.fingerprint[:16] in first.description
    split(first)  # a pre-training task splits like any other


def test_too_small_a_corpus_or_request_is_refused(small):
    tiny = Corpus((Document("news", "a", ("One sentence here is fine.", "Two sentences here is fine.")),))
    with pytest.raises(DataError):
        nsp3(tiny, 3)  # needs another document and a non-adjacent sentence
    with pytest.raises(DataError):
        next_sentence_selection(tiny, 1)
    with pytest.raises(DataError):
        nsp3(small, 100_000)
    with pytest.raises(BadArgumentError):
        nsp3(small, 0)


def test_format_for_matches_downstream_formats():
    example = (Example("a b", 0, "c d"),)
    pair = Task("nli", "pair", "nli", "{text} {text_b}", ("y", "n"), ("yes", "no"), example)
    single = Task("sent", "single", "sentiment", "{text}", ("n", "p"), ("negative", "positive"), example)
    choice = Task("qa", "multiple_choice", "qa", "{text}", ("A", "B"), (), (Example("q", 1, choices=("x", "y")),))
    assert [format_for(task) for task in (pair, choice, single)] == ["nsp3", "next_sentence_selection",
                                                                     "sentence_sentiment5"]
