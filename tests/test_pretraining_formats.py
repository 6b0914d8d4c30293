"""PPT's pre-training tasks built from a small fixed corpus: right labels, balanced classes, determinism."""

from collections import Counter

import pytest

from promptbank.errors import BadArgumentError, DataError
from promptbank.pretraining import formats, labeller
from promptbank.pretraining.corpus import Corpus, Document
from promptbank.pretraining.formats import (
    NSP_ANSWERS,
    OPTIONS,
    SENTIMENT_VERBALIZER,
    format_for,
    next_sentence_selection,
    nsp3,
    sentence_sentiment5,
    unified,
)
from promptbank.tasks.task import Example, Task, split

MOODS = ("awful dreadful", "sad poor", "plain usual", "nice pleasant", "wonderful superb")


def _sentence(d: int, i: int) -> str:
    return f"Document {d} line {i} was {MOODS[(d + i) % 5]} for everyone."


@pytest.fixture(scope="module")
def small() -> Corpus:
    """12 documents of 3 to 10 sentences, every sentence unique (as the corpus guarantees)."""
    return Corpus(tuple(Document("news" if d % 2 else "fiction", f"doc{d}",
                                 tuple(_sentence(d, i) for i in range(3 + d % 8))) for d in range(12)))


@pytest.fixture(scope="module")
def toy_labeller() -> labeller.Labeller:
    rows = [(f"{word} {word} thing", target) for words, target in zip(MOODS, (0.0, 0.25, 0.5, 0.75, 1.0))
            for word in words.split()]
    return labeller.train([text for text, _ in rows], [target for _, target in rows])


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


def test_next_sentence_selection_has_six_distinct_options_one_right(small):
    task = next_sentence_selection(small, 48, seed=1)
    where = _where(small)
    assert (task.format, task.category, task.verbalizer) == ("multiple_choice", "pretrained", ())
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


def test_sentiment_levels_are_balanced_and_follow_the_scores(small, toy_labeller):
    task = sentence_sentiment5(small, 50, seed=0, labeller=toy_labeller)
    assert (task.format, task.category, task.verbalizer) == ("single", "pretrained", SENTIMENT_VERBALIZER)
    assert Counter(ex.label for ex in task.examples) == {k: 10 for k in range(5)}
    scores = dict(zip((ex.text for ex in task.examples), toy_labeller.scores([ex.text for ex in task.examples])))
    by_level = [[scores[ex.text] for ex in task.examples if ex.label == level] for level in range(5)]
    assert all(max(low) <= min(high) for low, high in zip(by_level, by_level[1:]))
    assert all("wonderful" in ex.text or "superb" in ex.text for ex in task.examples if ex.label == 4)
    assert all("awful" in ex.text or "dreadful" in ex.text for ex in task.examples if ex.label == 0)


def test_sentiment_levels_are_quantiles_even_with_ties():
    assert labeller.sentiment_levels([0.5] * 10) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert labeller.sentiment_levels([0.9, 0.1, 0.5, 0.3, 0.7]) == [4, 0, 2, 1, 3]


def test_unified_mixes_the_three_as_multiple_choice(small, toy_labeller):
    task = unified(small, 31, seed=2, labeller=toy_labeller)
    assert (task.format, task.category, len(task.examples)) == ("multiple_choice", "pretrained", 31)
    kinds = Counter("nsp" if ex.choices == NSP_ANSWERS else "sentiment" if ex.choices == SENTIMENT_VERBALIZER
                    else "selection" for ex in task.examples)
    assert kinds == {"nsp": 11, "selection": 10, "sentiment": 10}
    for ex in task.examples:
        assert 0 <= ex.label < len(ex.choices)
        assert task.candidates(ex) == ex.choices
    assert [ex.label for ex in task.examples] != sorted(ex.label for ex in task.examples)  # shuffled together


@pytest.mark.parametrize("build", [nsp3, next_sentence_selection, sentence_sentiment5, unified])
def test_builders_are_deterministic_for_a_seed(small, toy_labeller, build, monkeypatch):
    monkeypatch.setattr(labeller, "review_labeller", lambda: toy_labeller)
    monkeypatch.setattr(formats, "review_labeller", lambda: toy_labeller)
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


def test_review_labeller_trains_on_food_and_drug_reviews_once_then_loads(tmp_path, monkeypatch):
    """Trained on the two review tasks (never on the movie review targets), saved as safetensors + JSON."""
    monkeypatch.setenv("PROMPTBANK_CACHE", str(tmp_path))
    asked = []

    def fake_task(name):
        asked.append(name)
        words = {"food_reviews": ("bland", "tasty"), "drug_reviews": ("worse", "meh", "better")}[name]
        rows = tuple(Example(f"it was {words[i % len(words)]} number {i}", i % len(words)) for i in range(40))
        return Task(name, "single", "sentiment", "{text}", words, words, rows)

    monkeypatch.setattr("promptbank.tasks.get_task", fake_task)
    trained = labeller.review_labeller()
    assert sorted(asked) == ["drug_reviews", "food_reviews"]
    folder = tmp_path / "corpus" / f"labeller-v{labeller.VERSION}"
    assert sorted(path.name for path in folder.iterdir()) == ["labeller.json", "labeller.safetensors"]
    low, high = trained.scores(["it was bland", "it was tasty"])
    assert low < 0.5 < high
    loaded = labeller.review_labeller()
    assert len(asked) == 2  # read from the cache, not trained again
    assert loaded.weights.equal(trained.weights) and loaded.bias == pytest.approx(trained.bias)
