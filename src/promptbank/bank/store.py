"""PromptBank: a directory holding a SQLite catalog and one content-addressed safetensors blob per prompt.

An add writes the blob first (temp file + fsync + rename) and then inserts the record in one transaction,
so a process killed at any point leaves either the whole prompt or no record at all; at worst an
unreferenced blob or temp file remains, which `verify` reports and `gc` removes.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from promptbank.bank import blobs, catalog
from promptbank.bank.catalog import KINDS, PromptRecord
from promptbank.bank.inits import rebuilt_init
from promptbank.errors import BadArgumentError, DamagedBankError, DataError, IncompatiblePromptError
from promptbank.tuning.prompt import SoftPrompt

if TYPE_CHECKING:
    from promptbank.backbones import Backbone

CATALOG_FILE, BLOB_DIR = "catalog.sqlite", "blobs"
LENGTH_POLICIES = ("reject", "pad", "truncate")
GC_MIN_AGE = 600.0


def default_root() -> Path:
    """$PROMPTBANK_HOME, else ~/.local/share/promptbank."""
    return Path(os.environ.get("PROMPTBANK_HOME") or Path.home() / ".local" / "share" / "promptbank")


@dataclass
class VerifyReport:
    checked: int
    problems: list[str] = field(default_factory=list)  # records whose blob is missing, altered or unreadable
    unreferenced: list[Path] = field(default_factory=list)  # leftovers of interrupted adds or removals

    @property
    def ok(self) -> bool:
        return not self.problems


class PromptBank:
    """The catalog and the blobs, kept consistent. Safe to use from several processes at once."""

    def __init__(self, root: Path | str | None = None, create: bool = False) -> None:
        self.root = Path(root) if root is not None else default_root()
        if self.root.exists() and not self.root.is_dir():
            raise DataError(f"{self.root} is a file, not a prompt bank folder; give a folder for the bank.")
        path = self.root / CATALOG_FILE
        if not path.exists():
            if not create:
                raise DataError(f"There is no prompt bank at {self.root}; add a prompt to create one.")
            (self.root / BLOB_DIR).mkdir(parents=True, exist_ok=True)
        self.blob_root = self.root / BLOB_DIR
        damaged = (f"The bank at {self.root} is damaged: its catalog ({path}) is {{}}; its prompt files are kept, "
                   "and nothing that could delete them runs until the catalog is restored.")
        if path.is_file() and path.stat().st_size == 0 and blobs.all_digests(self.blob_root):
            raise DamagedBankError(damaged.format("empty"))  # a fresh catalog has no prompt files beside it
        try:
            self.connection = catalog.connect(path)
        except sqlite3.DatabaseError:
            raise DamagedBankError(damaged.format("not a readable catalog")) from None

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> PromptBank:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ---- writing ---------------------------------------------------------------------------------------

    def add(self, prompt: SoftPrompt, *, name: str | None = None, kind: str = "task", tags: Iterable[str] = (),
            lineage: dict[str, Any] | None = None) -> PromptRecord:
        """Store a prompt with its metadata (from `prompt.info`, as a training run fills it) and return its record."""
        return self.add_many([prompt], names=[name], kind=kind, tags=tags, lineages=[lineage])[0]

    def add_many(self, prompts: list[SoftPrompt], *, names: list[str | None] | None = None, kind: str = "task",
                 tags: Iterable[str] = (), lineages: list[dict[str, Any] | None] | None = None) -> list[PromptRecord]:
        """Store several prompts in one transaction: all of them or none."""
        if kind not in KINDS:
            raise BadArgumentError(f"Unknown kind {kind!r}; use one of {', '.join(KINDS)}.")
        names = names or [None] * len(prompts)
        lineages = lineages or [None] * len(prompts)
        records = []
        for prompt, name, lineage in zip(prompts, names, lineages):
            data, digest = blobs.encode(prompt.tensor, prompt.init_tensor)
            blobs.write(self.blob_root, data, digest)
            records.append(_record_of(prompt, digest, name, kind, sorted(set(tags)), lineage))
        with catalog.transaction(self.connection):
            for record in records:
                catalog.insert(self.connection, record)
        return records

    def insert_records(self, records: list[PromptRecord], tensors: list[dict[str, torch.Tensor]]) -> list[PromptRecord]:
        """Store records made elsewhere (an import) with their blobs' tensors, keeping their ids; all or none. A
        record whose id the bank holds by the time the transaction runs (another process importing the same
        prompts) is left as it is; the records inserted are returned."""
        for tensor, record in zip(tensors, records):
            if not all(bool(torch.isfinite(t).all()) for t in tensor.values()):
                raise DataError(f"The prompt {record.id} holds non-finite values (NaN or infinity); nothing was added.")
            data, digest = blobs.encode(tensor["prompt"], tensor.get("init"))
            if digest != record.blob:
                raise DataError(f"The tensor of prompt {record.id} does not match its recorded checksum.")
            blobs.write(self.blob_root, data, digest)
        inserted = []
        with catalog.transaction(self.connection):  # the write lock: what is present cannot change meanwhile
            for record in records:
                held = self.connection.execute("SELECT blob FROM prompts WHERE id = ?", (record.id,)).fetchone()
                if held is None:
                    catalog.insert(self.connection, record)
                    inserted.append(record)
                elif held[0] != record.blob:
                    raise DataError(f"The prompt {record.id} clashes with a different prompt of the same id in the "
                                    f"bank at {self.root}.")
        return inserted

    def remove(self, record_id: str) -> PromptRecord:
        """Delete a record; its blob goes too unless another record shares it."""
        record = self.get(record_id)
        with catalog.transaction(self.connection):
            self.connection.execute("DELETE FROM prompts WHERE id = ?", (record.id,))
        if not self.connection.execute("SELECT 1 FROM prompts WHERE blob = ?", (record.blob,)).fetchone():
            blobs.path_of(self.blob_root, record.blob).unlink(missing_ok=True)
        return record

    def tag(self, record_id: str, add: Iterable[str] = (), remove: Iterable[str] = ()) -> PromptRecord:
        record = self.get(record_id)
        with catalog.transaction(self.connection):
            self.connection.executemany("INSERT OR IGNORE INTO tags VALUES (?, ?)", [(record.id, t) for t in add])
            self.connection.executemany("DELETE FROM tags WHERE id = ? AND tag = ?", [(record.id, t) for t in remove])
        return self.get(record.id)

    # ---- reading ---------------------------------------------------------------------------------------

    def resolve(self, record_id: str) -> str:
        """The full id of a record from its id or a unique prefix of it."""
        matches = catalog.ids_with_prefix(self.connection, record_id) if record_id else []
        if record_id in matches or len(matches) == 1:
            return record_id if record_id in matches else matches[0]
        if not matches:
            raise DataError(f"There is no prompt {record_id!r} in the bank at {self.root}.")
        raise DataError(f"The id prefix {record_id!r} matches several prompts; give more of the id.")

    def get(self, record_id: str) -> PromptRecord:
        """The full record (training config and curve included)."""
        record = catalog.fetch(self.connection, self.resolve(record_id))
        assert record is not None
        return record

    def list(self, **filters: Any) -> list[PromptRecord]:
        """Summary records; filters: task, backbone, kind, tag, min_metric=(path, value), sort, descending, limit."""
        return catalog.select(self.connection, **filters)

    def __len__(self) -> int:
        return self.connection.execute("SELECT count(*) FROM prompts").fetchone()[0]

    def load(self, record_id: str) -> SoftPrompt:
        """The prompt of a record, checksum verified, with the exact tensor it began from where it records one."""
        record = self.get(record_id)
        tensors = blobs.read_all(self.blob_root, record.blob)
        return SoftPrompt(tensors["prompt"], record.backbone, record.tokenizer_fingerprint, record.init,
                          info={"task": record.task, "bank_id": record.id, "name": record.name},
                          init_tensor=tensors.get("init"))

    def init_of(self, record_id: str, backbone: Backbone | None = None) -> torch.Tensor:
        """The exact tensor a prompt's training began from. A record made before inits were stored is rebuilt from
        its recipe where it has one (a seeded random or vocab init: its seed is the training seed), which needs its
        `backbone` loaded in the precision it was trained in; other inits cannot be rebuilt."""
        record = self.get(record_id)
        return _init(record, blobs.read_all(self.blob_root, record.blob), backbone)

    def delta(self, record_id: str, backbone: Backbone | None = None) -> torch.Tensor:
        """A prompt's task vector: the (L, d) tensor training added to the one it began from."""
        record = self.get(record_id)
        tensors = blobs.read_all(self.blob_root, record.blob)
        return tensors["prompt"] - _init(record, tensors, backbone)

    def stack(self, backbone: str, *, ids: list[str] | None = None, length_policy: str = "reject",
              length: int | None = None, check: bool = False, delta: bool = False,
              loaded: Backbone | None = None) -> tuple[torch.Tensor, list[PromptRecord]]:
        """All prompts of one backbone (or the given ids, in their order) as one (N, L, d) float32 tensor, with their
        records; with
        `delta`, their task vectors (a record stored before inits were kept has its init rebuilt on `loaded`, the
        backbone loaded; see `init_of`).

        Prompts of different lengths are rejected unless asked for: "pad" appends zero vectors up to `length`
        (default: the longest), "truncate" keeps the first `length` tokens (default: the shortest).
        """
        if length_policy not in LENGTH_POLICIES:
            raise BadArgumentError(f"Unknown length policy {length_policy!r}; use one of {', '.join(LENGTH_POLICIES)}.")
        records = self.list(backbone=backbone, ids=ids)
        if ids is not None and len(records) != len(set(ids)):
            raise IncompatiblePromptError(f"Some of the prompts asked for are not in the bank or not of backbone "
                                          f"{backbone!r}.")
        if ids is not None:  # in the order asked for, so stacks of the same ids line up
            found = {r.id: r for r in records}
            records = [found[i] for i in dict.fromkeys(ids)]
        if not records:
            return torch.zeros(0, length or 0, 0), []
        lengths = {r.length for r in records}
        if len({r.hidden_size for r in records}) > 1:
            raise IncompatiblePromptError(f"Prompts of backbone {backbone!r} have different hidden sizes.")
        if length_policy == "reject" and len(lengths) > 1:
            raise IncompatiblePromptError(f"Prompts of backbone {backbone!r} have lengths {sorted(lengths)}; choose "
                                          "a length policy (pad or truncate) to compare them.")
        target = length or (max(lengths) if length_policy == "pad" else min(lengths))
        for record in records:
            if (length_policy == "truncate" and record.length < target) or (length_policy != "truncate"
                                                                            and record.length > target):
                relation = "fewer" if record.length < target else "more"
                raise IncompatiblePromptError(f"Prompt {record.id} has {record.length} tokens, {relation} than the "
                                              f"length {target} asked for.")
        out = torch.zeros(len(records), target, records[0].hidden_size)
        for i, record in enumerate(records):
            tensors = blobs.read_all(self.blob_root, record.blob, check=check)
            tensor = tensors["prompt"] - _init(record, tensors, loaded) if delta else tensors["prompt"]
            out[i, :min(target, tensor.shape[0])] = tensor[:target]
        return out, records

    # ---- integrity ---------------------------------------------------------------------------------------

    def verify(self) -> VerifyReport:
        """Check every record's blob exists, matches its checksum and shape; list unreferenced files."""
        rows = self.connection.execute("SELECT id, blob, length, hidden_size FROM prompts").fetchall()
        report = VerifyReport(checked=len(rows))
        for record_id, digest, length, hidden in rows:
            try:
                tensor = blobs.read(self.blob_root, digest)
            except DataError as error:
                report.problems.append(f"prompt {record_id}: {error}")
                continue
            if tuple(tensor.shape) != (length, hidden):
                report.problems.append(f"prompt {record_id}: blob {digest} has shape {tuple(tensor.shape)}, "
                                       f"the record says {(length, hidden)}.")
            elif not bool(torch.isfinite(tensor).all()):
                report.problems.append(f"prompt {record_id}: blob {digest} holds non-finite values.")
        referenced = {digest for _, digest, _, _ in rows}
        report.unreferenced = sorted([blobs.path_of(self.blob_root, d) for d in blobs.all_digests(self.blob_root)
                                      - referenced] + blobs.temp_files(self.blob_root))
        return report

    def gc(self, min_age_seconds: float = GC_MIN_AGE) -> list[Path]:
        """Delete files no record references (left by interrupted adds or removals); returns them.

        Files younger than `min_age_seconds` are kept: they may belong to an add still in progress in another
        process, which writes its blob before it commits its record.
        """
        now = time.time()
        with catalog.transaction(self.connection):  # no add can commit a reference while we look
            report = self.verify()
            if report.checked == 0 and blobs.all_digests(self.blob_root):
                raise DamagedBankError(f"The catalog of the bank at {self.root} references none of its "
                                       f"{len(blobs.all_digests(self.blob_root))} prompt files, so it is more likely "
                                       "damaged than the files stale; nothing was deleted.")
            stale = [p for p in report.unreferenced if now - p.stat().st_mtime >= min_age_seconds]
            for path in stale:
                path.unlink(missing_ok=True)
        return stale


def _init(record: PromptRecord, tensors: dict[str, torch.Tensor], backbone: Backbone | None) -> torch.Tensor:
    """A record's init: the one its blob stores, else rebuilt from its recipe (see `rebuilt_init`)."""
    init = tensors.get("init")
    return init if init is not None else rebuilt_init(record, backbone)


def _record_of(prompt: SoftPrompt, digest: str, name: str | None, kind: str, tags: list[str],
               lineage: dict[str, Any] | None) -> PromptRecord:
    info = prompt.info
    record_id = uuid.uuid4().hex[:12]
    return PromptRecord(
        id=record_id, name=name or f"{info.get('task') or 'prompt'}-{record_id[:6]}", task=info.get("task"),
        task_format=info.get("task_format"), labels=list(info.get("labels", [])), backbone=prompt.backbone,
        hidden_size=prompt.hidden_size, tokenizer_fingerprint=prompt.tokenizer_fingerprint, length=prompt.length,
        init=prompt.init, lineage=lineage or info.get("lineage") or {"method": prompt.init, "sources": []},
        data_fingerprint=info.get("data_fingerprint"), metrics=info.get("metrics", {}),
        created=datetime.now(timezone.utc).isoformat(timespec="microseconds"), kind=kind, blob=digest, tags=tags,
        training=info.get("training", {}), curve=info.get("curve", []))
