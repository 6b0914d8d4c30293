"""The bank's SQLite catalog: one row per prompt, with lineage, metrics and curve, tags beside it.

Summary columns live in `prompts` (what list and filter read); the bulky training config and curve live in
`details`, read only by `show`, so listing 10,000 records never parses 10,000 curves.
"""

from __future__ import annotations

import gc
import json
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptbank.errors import BadArgumentError

KINDS = ("task", "pretrained", "projected", "mixture")
SORTS = ("created", "name", "task", "backbone", "length")
SCHEMA_VERSION = "1"
BUSY_TIMEOUT_S = 60  # how long a writer waits on another before giving up
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS prompts (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, task TEXT, task_format TEXT, labels TEXT NOT NULL,
    backbone TEXT NOT NULL, hidden_size INTEGER NOT NULL, tokenizer_fingerprint TEXT NOT NULL,
    length INTEGER NOT NULL, init TEXT NOT NULL, lineage TEXT NOT NULL, data_fingerprint TEXT,
    metrics TEXT NOT NULL, created TEXT NOT NULL, kind TEXT NOT NULL, blob TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS details (
    id TEXT PRIMARY KEY REFERENCES prompts(id) ON DELETE CASCADE, training TEXT NOT NULL, curve TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tags (
    id TEXT NOT NULL REFERENCES prompts(id) ON DELETE CASCADE, tag TEXT NOT NULL, PRIMARY KEY (id, tag));
CREATE INDEX IF NOT EXISTS prompts_backbone ON prompts(backbone);
CREATE INDEX IF NOT EXISTS prompts_task ON prompts(task);
CREATE INDEX IF NOT EXISTS prompts_blob ON prompts(blob);
CREATE INDEX IF NOT EXISTS prompts_created ON prompts(created);
CREATE INDEX IF NOT EXISTS tags_tag ON tags(tag);
"""
SUMMARY = ("id", "name", "task", "task_format", "backbone", "hidden_size", "tokenizer_fingerprint", "length", "init",
           "data_fingerprint", "created", "kind", "blob", "labels", "lineage", "metrics")  # in field order
JSON_FIELDS = ("labels", "lineage", "metrics", "training", "curve")
METRIC_PATH = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*")


@dataclass(slots=True)
class PromptRecord:
    """Everything the bank knows about one prompt. `lineage` = {"method": how, "sources": [prompt ids]}."""

    id: str
    name: str
    task: str | None
    task_format: str | None
    backbone: str
    hidden_size: int
    tokenizer_fingerprint: str
    length: int
    init: str
    data_fingerprint: str | None
    created: str
    kind: str
    blob: str
    labels: list[str]
    lineage: dict[str, Any]
    metrics: dict[str, Any]
    tags: list[str] = field(default_factory=list)
    training: dict[str, Any] | None = None  # None in list results: read by `show`
    curve: list[dict[str, Any]] | None = None

    def metric(self, path: str) -> float | None:
        """A metric by dotted path, e.g. "test.accuracy"; None where it was not recorded."""
        value: Any = self.metrics
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value if isinstance(value, (int, float)) else None


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL journal, waiting on busy writers."""
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    _enable_wal(connection)
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA foreign_keys=ON")
    with transaction(connection):
        for statement in filter(str.strip, SCHEMA.split(";")):
            connection.execute(statement)
        connection.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
    return connection


def _enable_wal(connection: sqlite3.Connection) -> None:
    """Switch to WAL, retrying: SQLite answers "database is locked" at once, without waiting on its busy
    timeout, when another process is switching the same new catalog at that moment."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, taking the write lock up front so concurrent writers queue instead of failing."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def insert(connection: sqlite3.Connection, record: PromptRecord) -> None:
    """Insert one record with its details and tags (the caller holds the transaction)."""
    row = [getattr(record, name) for name in SUMMARY]
    row = [json.dumps(v) if name in JSON_FIELDS else v for name, v in zip(SUMMARY, row)]
    connection.execute(f"INSERT INTO prompts ({', '.join(SUMMARY)}) VALUES ({', '.join('?' * len(SUMMARY))})", row)
    connection.execute("INSERT INTO details VALUES (?, ?, ?)",
                       (record.id, json.dumps(record.training or {}), json.dumps(record.curve or [])))
    connection.executemany("INSERT OR IGNORE INTO tags VALUES (?, ?)", [(record.id, t) for t in record.tags])


_PLAIN = [c for c in SUMMARY if c not in JSON_FIELDS]
_PACKED = [c for c in SUMMARY if c in JSON_FIELDS]
# each row's JSON columns packed into one array text, so a whole result is decoded by a single json.loads
_COLUMNS = (", ".join(f"p.{c}" for c in _PLAIN) + ", '[' || " + " || ',' || ".join(f"p.{c}" for c in _PACKED)
            + " || ']', (SELECT group_concat(tag, char(31)) FROM tags t WHERE t.id = p.id)")


def _records(rows: list[tuple]) -> list[PromptRecord]:
    plain = len(_PLAIN)
    with _cyclic_gc_paused():
        packed = json.loads("[" + ",".join(row[plain] for row in rows) + "]")
        return [PromptRecord(*row[:plain], *values, sorted(row[plain + 1].split("\x1f")) if row[plain + 1] else [])
                for row, values in zip(rows, packed)]


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Building thousands of records creates no reference cycles; the cyclic collector would only re-scan the
    heap over and over while they are made (measured: 50 ms become up to 300 ms in a large process)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def select(connection: sqlite3.Connection, *, task: str | None = None, backbone: str | None = None,
           kind: str | None = None, tag: str | None = None, min_metric: tuple[str, float] | None = None,
           sort: str = "created", descending: bool = False, limit: int | None = None,
           ids: list[str] | None = None) -> list[PromptRecord]:
    """Summary records matching every filter given. `sort` is a column of SORTS or a metric path."""
    where, params = [], []
    for column, value in (("task", task), ("backbone", backbone), ("kind", kind)):
        if value is not None:
            where.append(f"p.{column} = ?")
            params.append(value)
    if tag is not None:
        where.append("EXISTS (SELECT 1 FROM tags t WHERE t.id = p.id AND t.tag = ?)")
        params.append(tag)
    if ids is not None:
        where.append("p.id IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(ids))
    if min_metric is not None:
        where.append("json_extract(p.metrics, ?) >= ?")
        params += [_metric_path(min_metric[0]), min_metric[1]]
    if sort in SORTS:
        order = f"p.{sort}"
    else:
        order = "json_extract(p.metrics, ?)"
        params.append(_metric_path(sort))
    sql = (f"SELECT {_COLUMNS} FROM prompts p" + (f" WHERE {' AND '.join(where)}" if where else "")
           + f" ORDER BY {order} {'DESC' if descending else 'ASC'}, p.id" + (" LIMIT ?" if limit is not None else ""))
    return _records(connection.execute(sql, params + ([limit] if limit is not None else [])).fetchall())


def _metric_path(path: str) -> str:
    if not METRIC_PATH.fullmatch(path):
        raise BadArgumentError(f"{path!r} is not a metric path such as test.accuracy or dev.accuracy, nor one of "
                               f"{', '.join(SORTS)}.")
    return "$." + path


def fetch(connection: sqlite3.Connection, record_id: str) -> PromptRecord | None:
    """The full record (details included) of an exact id."""
    row = connection.execute(f"SELECT {_COLUMNS}, d.training, d.curve FROM prompts p JOIN details d ON d.id = p.id "
                             "WHERE p.id = ?", (record_id,)).fetchone()
    if row is None:
        return None
    record = _records([row[:-2]])[0]
    record.training, record.curve = json.loads(row[-2]), json.loads(row[-1])
    return record


def ids_with_prefix(connection: sqlite3.Connection, prefix: str) -> list[str]:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return [r[0] for r in connection.execute("SELECT id FROM prompts WHERE id LIKE ? ESCAPE '\\' LIMIT 2",
                                             (escaped + "%",))]
