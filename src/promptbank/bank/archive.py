"""Portable bank archives: a tar holding a JSON manifest of full records and their safetensors blobs.

Import checks everything before it writes anything: the manifest, every blob's checksum and shape, and
id clashes; then all records go in one transaction. No file of an archive is ever unpickled or executed.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import asdict, fields
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load

from promptbank.atomic import atomic_file
from promptbank.bank import blobs
from promptbank.bank.catalog import PromptRecord
from promptbank.bank.store import PromptBank
from promptbank.errors import DataError

MANIFEST, FORMAT, VERSION = "promptbank-archive.json", "promptbank-archive", 1


def export_archive(bank: PromptBank, out: Path, ids: list[str] | None = None) -> list[PromptRecord]:
    """Write the whole bank, or the given ids, to a .tar.gz archive at `out` (atomically)."""
    out = Path(out)
    chosen = [bank.resolve(i) for i in ids] if ids else [r.id for r in bank.list()]
    records = [bank.get(i) for i in chosen]
    manifest = json.dumps({"format": FORMAT, "version": VERSION, "records": [asdict(r) for r in records]}).encode()
    with atomic_file(out) as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
        _add_bytes(tar, MANIFEST, manifest)
        for digest in sorted({r.blob for r in records}):
            _add_bytes(tar, f"blobs/{digest}{blobs.SUFFIX}", blobs.path_of(bank.blob_root, digest).read_bytes())
    return records


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def import_archive(bank: PromptBank, archive: Path) -> tuple[list[PromptRecord], list[PromptRecord]]:
    """Add an archive's prompts to the bank, keeping their ids. Returns (added, already present)."""
    records, tensors = read_archive(archive)
    added, present = [], []
    for record, tensor in zip(records, tensors):
        existing = bank.list(ids=[record.id])
        if existing and existing[0].blob != record.blob:
            raise DataError(f"The archive's prompt {record.id} clashes with a different prompt of the same id in "
                            f"the bank at {bank.root}.")
        (present if existing else added).append((record, tensor))
    inserted = bank.insert_records([r for r, _ in added], [t for _, t in added])
    # what another process imported meanwhile counts as present
    return inserted, [r for r, _ in present] + [r for r, _ in added if r not in inserted]


def read_archive(archive: Path) -> tuple[list[PromptRecord], list[dict[str, torch.Tensor]]]:
    """The records and the tensors of each blob (its prompt and, where recorded, its init), fully checked; a foreign
    or damaged file is a DataError."""
    archive = Path(archive)
    if not archive.is_file():
        raise DataError(f"The archive {archive} does not exist.")
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}
            if MANIFEST not in members:
                raise DataError(f"{archive} is not a promptbank archive (it has no {MANIFEST}).")
            manifest = json.loads(tar.extractfile(members[MANIFEST]).read())
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise DataError(f"{archive} is not a promptbank archive.")
            if manifest.get("version") != VERSION:
                raise DataError(f"{archive} is a promptbank archive of version {manifest.get('version')}; this "
                                f"promptbank reads version {VERSION}.")
            records = [_record(raw, archive) for raw in manifest.get("records", [])]
            tensors = [_tensor(tar, members, record, archive) for record in records]
    except (tarfile.TarError, EOFError, OSError, json.JSONDecodeError, UnicodeDecodeError):
        raise DataError(f"The archive {archive} is damaged or not a tar archive.") from None
    return records, tensors


def _record(raw: object, archive: Path) -> PromptRecord:
    names = {f.name for f in fields(PromptRecord)}
    if not isinstance(raw, dict) or set(raw) != names:
        raise DataError(f"The archive {archive} holds a record that is not a promptbank prompt record.")
    return PromptRecord(**raw)


def _tensor(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], record: PromptRecord,
            archive: Path) -> dict[str, torch.Tensor]:
    name = f"blobs/{record.blob}{blobs.SUFFIX}"
    if name not in members:
        raise DataError(f"The archive {archive} lacks the tensor of prompt {record.id}.")
    data = tar.extractfile(members[name]).read()
    if hashlib.sha256(data).hexdigest() != record.blob:
        raise DataError(f"The archive {archive} is damaged: the tensor of prompt {record.id} fails its checksum.")
    try:
        tensors = load(data)
        tensor = tensors["prompt"]
    except (SafetensorError, KeyError):
        raise DataError(f"The archive {archive} is damaged: the tensor of prompt {record.id} is unreadable.") from None
    if any(tuple(t.shape) != (record.length, record.hidden_size) for t in tensors.values()):
        raise DataError(f"The archive {archive} is damaged: prompt {record.id} has shape {tuple(tensor.shape)}, "
                        f"its record says {(record.length, record.hidden_size)}.")
    return tensors
