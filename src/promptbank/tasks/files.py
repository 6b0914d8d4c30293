"""User tasks: a small JSON spec naming a JSONL, CSV or Parquet file and how to read it.

    {"name": "my_reviews", "data": "reviews.csv", "format": "single", "text": "review", "text_b": null,
     "label": "stars", "verbalizer": {"1": "bad", "5": "good"}, "template": "Review: {text}\\nSentiment:",
     "category": "sentiment"}

`data` is relative to the spec's folder. For "multiple_choice", `choices` names a column holding a list of
answer texts and `label` holds the right one's index or text; there is no verbalizer. Every mistake in the
spec or the data raises a DataError of one sentence that names the file and the problem.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

from promptbank.errors import DataError
from promptbank.paths import cache_dir
from promptbank.tasks.task import FORMATS, Example, Task

REQUIRED = ("name", "data", "format", "text", "label", "template")
OPTIONAL = ("text_b", "verbalizer", "choices", "category", "kind", "description")  # kind: category's old name
READERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}


def load_spec(path: str | Path) -> Task:
    """The task a spec file describes, with every row of its data file as an example, in file order."""
    path = Path(path)
    spec = _read_spec(path)
    fmt = spec["format"]
    _check_template(spec["template"], fmt, path)
    data = path.parent / spec["data"]
    rows = _read_rows(data)
    fields = [spec["text"], *([spec["text_b"]] if fmt == "pair" else []), spec["label"],
              *([spec["choices"]] if fmt == "multiple_choice" else [])]
    _check_fields(rows, fields, data)
    if fmt == "multiple_choice":
        examples = [_choice_example(row, spec, data, i) for i, row in enumerate(rows)]
        labels = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ"[:max(len(ex.choices) for ex in examples)])
        verbalizer: tuple[str, ...] = ()
    else:
        labels, verbalizer = _verbalizer(spec["verbalizer"], path)
        examples = [_class_example(row, spec, labels, data, i) for i, row in enumerate(rows)]
        if len({ex.label for ex in examples}) < 2:
            raise DataError(f"Every example in {data} has the label {labels[examples[0].label]!r}; a task needs "
                            "examples of at least two labels to learn anything.")
    return Task(spec["name"], fmt, spec.get("category") or spec.get("kind") or "custom", spec["template"], labels, verbalizer,
                tuple(examples), spec.get("description") or f"User task from {path.name}.")


def _read_spec(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise DataError(f"The task spec {path} does not exist.")
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"The task spec {path} is not valid UTF-8 JSON ({_reason(error)}).") from None
    if not isinstance(spec, dict):
        raise DataError(f"The task spec {path} must hold a JSON object with the keys {', '.join(REQUIRED)}.")
    missing = [key for key in REQUIRED if spec.get(key) in (None, "")]
    unknown = sorted(set(spec) - set(REQUIRED) - set(OPTIONAL))
    if missing or unknown:
        problem = f"lacks {', '.join(missing)}" if missing else f"has unknown keys {', '.join(unknown)}"
        raise DataError(f"The task spec {path} {problem}; its keys are {', '.join(REQUIRED + OPTIONAL)}.")
    wrong = [key for key in spec if key != "verbalizer" and spec[key] is not None and not isinstance(spec[key], str)]
    if wrong:
        raise DataError(f"The task spec {path} must give {wrong[0]} as a string.")
    if spec["format"] not in FORMATS:
        raise DataError(f"The task spec {path} has format {spec['format']!r}; use one of {', '.join(FORMATS)}.")
    needed = {"pair": "text_b", "multiple_choice": "choices"}.get(spec["format"], "verbalizer")
    if not spec.get(needed):
        raise DataError(f"The task spec {path} has format {spec['format']!r}, which needs the key {needed}.")
    return spec


def _check_template(template: object, fmt: str, path: Path) -> None:
    """The template may only use {text} (and {text_b} for pairs), and must use each of them."""
    allowed = {"text", "text_b"} if fmt == "pair" else {"text"}
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(str(template)) if name is not None}
    except ValueError as error:
        raise DataError(f"The template in {path} is malformed ({error}); write literal braces as {{{{ and }}}}.") \
            from None
    if unknown := sorted(names - allowed):
        raise DataError(f"The template in {path} has the unknown placeholder {{{unknown[0]}}}; "
                        f"use {' and '.join('{' + n + '}' for n in sorted(allowed))}.")
    if missing := sorted(allowed - names):
        raise DataError(f"The template in {path} lacks the placeholder {{{missing[0]}}}.")


def _verbalizer(mapping: object, path: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Label values (as text) and their answer words, from the spec's {label value: word} object."""
    if not isinstance(mapping, dict) or len(mapping) < 2:
        raise DataError(f"The verbalizer in {path} must be an object mapping at least two label values to words.")
    words = [word.strip() if isinstance(word, str) else "" for word in mapping.values()]
    if not all(words) or len(set(words)) != len(words):
        raise DataError(f"The verbalizer in {path} must map each label to a different non-empty word.")
    return tuple(str(label) for label in mapping), tuple(words)


def _read_rows(data: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL/CSV/Parquet file, read with Hugging Face datasets (no network needed)."""
    if data.suffix.lower() not in READERS:
        raise DataError(f"The data file {data} has an unsupported type; use .jsonl, .csv or .parquet.")
    if not data.is_file():
        raise DataError(f"The data file {data} does not exist.")
    raw = data.read_bytes()
    if not raw.strip():
        raise DataError(f"The data file {data} is empty.")
    reader = READERS[data.suffix.lower()]
    text = _utf8(raw, data) if reader != "parquet" else ""
    if reader == "csv" and sum(1 for line in text.splitlines() if line.strip()) < 2:
        raise DataError(f"The data file {data} has no rows.")  # datasets' own message for this is cryptic
    rows = _load_dataset(data)
    if not rows:
        raise DataError(f"The data file {data} has no rows.")
    return rows


def _utf8(raw: bytes, data: Path) -> str:
    """Checked here, since datasets would either fail obscurely or silently replace the bad bytes."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"The data file {data} is not UTF-8 text (byte {error.start}); re-save it as UTF-8.") from None


def _load_dataset(data: Path) -> list[dict[str, Any]]:
    import datasets  # slow to import; only user tasks need it

    datasets.disable_progress_bars()
    reader = READERS[data.suffix.lower()]
    try:
        table = datasets.load_dataset(reader, data_files=str(data), split="train",
                                      cache_dir=str(cache_dir() / "datasets"))
    except Exception as error:  # datasets raises many kinds (Arrow, parser, generation); all mean "unreadable"
        raise DataError(f"The data file {data} could not be read as {reader.upper()} ({_reason(error)}).") from None
    return list(table)


def _reason(error: BaseException) -> str:
    """The first line of an error message, short enough to sit inside one sentence."""
    text = str(error.__cause__ or error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:160].rstrip(".")


def _check_fields(rows: list[dict[str, Any]], fields: list[str], data: Path) -> None:
    if missing := [field for field in fields if field not in rows[0]]:
        raise DataError(f"The data file {data} has no field {missing[0]!r}; its fields are {', '.join(rows[0])}.")


def _text(row: dict[str, Any], field: str, data: Path, index: int) -> str:
    value = row[field]
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"Row {index + 1} of {data} has no text in field {field!r}.")
    return value.strip()


def _class_example(row: dict[str, Any], spec: dict[str, Any], labels: tuple[str, ...], data: Path,
                   index: int) -> Example:
    value = row[spec["label"]]
    if str(value) not in labels:
        raise DataError(f"Row {index + 1} of {data} has the label {value!r}, which is not in the verbalizer "
                        f"({', '.join(labels)}).")
    text_b = _text(row, spec["text_b"], data, index) if spec["format"] == "pair" else None
    return Example(_text(row, spec["text"], data, index), labels.index(str(value)), text_b)


def _choice_example(row: dict[str, Any], spec: dict[str, Any], data: Path, index: int) -> Example:
    choices = row[spec["choices"]]
    if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) and c.strip() for c in choices):
        raise DataError(f"Row {index + 1} of {data} needs a list of at least two answer texts in {spec['choices']!r}.")
    choices = [choice.strip() for choice in choices]
    value = row[spec["label"]]
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(choices):
        label = value
    elif isinstance(value, str) and value.strip() in choices:
        label = choices.index(value.strip())
    else:
        raise DataError(f"Row {index + 1} of {data} has the label {value!r}, which is neither an index nor the text "
                        f"of one of its choices.")
    return Example(_text(row, spec["text"], data, index), label, choices=tuple(choices))
