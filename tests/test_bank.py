import hashlib
import io
import random
import subprocess
import sys
import tarfile
import time

import pytest
import torch

from promptbank.bank import PromptBank, catalog
from promptbank.bank.archive import export_archive, import_archive
from promptbank.errors import BadArgumentError, DataError, IncompatiblePromptError
from promptbank.tuning.prompt import SoftPrompt


def make_prompt(seed: int, task: str = "t", length: int = 5, backbone: str = "bb", accuracy: float = 0.5) -> SoftPrompt:
    tensor = torch.randn(length, 8, generator=torch.Generator().manual_seed(seed))
    return SoftPrompt(tensor, backbone, "fp", "random", info={
        "task": task, "task_format": "single", "labels": ["n", "p"], "data_fingerprint": "abc",
        "metrics": {"dev": {"accuracy": accuracy}, "test": {"accuracy": accuracy - 0.1}},
        "training": {"steps": 10}, "curve": [{"step": 0, "dev_accuracy": 0.5, "wall_seconds": 0.1}]})


@pytest.fixture
def bank(tmp_path):
    with PromptBank(tmp_path / "bank", create=True) as opened:
        yield opened


def test_add_records_everything(bank):
    record = bank.add(make_prompt(0, accuracy=0.8), name="first", tags=["x", "y"],
                      lineage={"method": "weighted-average", "sources": ["a1", "b2"]})
    full = bank.get(record.id)
    assert (full.name, full.task, full.task_format, full.labels, full.backbone) == ("first", "t", "single", ["n", "p"], "bb")
    assert (full.hidden_size, full.length, full.init, full.kind, full.tags) == (8, 5, "random", "task", ["x", "y"])
    assert full.lineage == {"method": "weighted-average", "sources": ["a1", "b2"]}
    assert full.metrics["dev"]["accuracy"] == 0.8 and full.training == {"steps": 10} and full.curve[0]["step"] == 0
    assert full.data_fingerprint == "abc" and full.tokenizer_fingerprint == "fp" and full.created
    assert torch.equal(bank.load(record.id).tensor, make_prompt(0).tensor)
    blob = bank.blob_root / record.blob[:2] / f"{record.blob}.safetensors"
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == record.blob


def test_list_filters_and_sorts(bank):
    bank.add(make_prompt(0, task="a", accuracy=0.6), tags=["keep"])
    bank.add(make_prompt(1, task="b", accuracy=0.9))
    bank.add(make_prompt(2, task="a", backbone="other", accuracy=0.7), kind="mixture")
    assert [r.task for r in bank.list(task="a")] == ["a", "a"]
    assert [r.backbone for r in bank.list(backbone="other")] == ["other"]
    assert [r.kind for r in bank.list(kind="mixture")] == ["mixture"]
    assert [r.tags for r in bank.list(tag="keep")] == [["keep"]]
    assert sorted(r.metric("dev.accuracy") for r in bank.list(min_metric=("dev.accuracy", 0.7))) == [0.7, 0.9]
    assert [r.metric("dev.accuracy") for r in bank.list(sort="dev.accuracy", descending=True)] == [0.9, 0.7, 0.6]
    assert len(bank.list(limit=2)) == 2 and bank.list()[0].curve is None  # summaries leave the curve out
    with pytest.raises(BadArgumentError):
        bank.list(sort="dev.accuracy; DROP TABLE prompts")


def test_ids_tags_and_removal(bank):
    first, second = bank.add(make_prompt(0)), bank.add(make_prompt(0))  # same tensor: one shared blob
    assert bank.get(first.id[:6]).id == first.id
    assert bank.tag(first.id, add=["new"], remove=[]).tags == ["new"]
    assert bank.tag(first.id, remove=["new"]).tags == []
    bank.remove(first.id)
    assert bank.verify().ok and len(bank) == 1  # the blob stays: the second record still uses it
    bank.remove(second.id)
    assert len(bank) == 0 and not list(bank.blob_root.glob("*/*.safetensors"))
    with pytest.raises(DataError, match="no prompt"):
        bank.get(first.id)


def test_stack_and_length_policy(bank):
    records = [bank.add(make_prompt(i, length=5)) for i in range(3)]
    bank.add(make_prompt(9, backbone="other"))
    stacked, listed = bank.stack("bb")
    assert stacked.shape == (3, 5, 8) and {r.id for r in listed} == {r.id for r in records}
    for row, record in zip(stacked, listed):
        assert torch.equal(row, bank.load(record.id).tensor)
    bank.add(make_prompt(5, length=3))
    with pytest.raises(IncompatiblePromptError, match="lengths"):
        bank.stack("bb")
    padded, _ = bank.stack("bb", length_policy="pad")
    truncated, _ = bank.stack("bb", length_policy="truncate")
    assert padded.shape == (4, 5, 8) and truncated.shape == (4, 3, 8)
    short = [i for i, r in enumerate(_) if r.length == 3][0]
    assert padded[short, 3:].abs().sum() == 0
    with pytest.raises(IncompatiblePromptError, match="fewer than the length 4"):
        bank.stack("bb", length_policy="truncate", length=4)
    with pytest.raises(IncompatiblePromptError, match="more than the length 4"):
        bank.stack("bb", length_policy="pad", length=4)
    assert bank.stack("nothing")[0].shape[0] == 0


def test_verify_and_load_name_a_corrupted_or_missing_blob(bank):
    damaged, missing = bank.add(make_prompt(0)), bank.add(make_prompt(1))
    bank.add(make_prompt(2))
    damaged_path = bank.blob_root / damaged.blob[:2] / f"{damaged.blob}.safetensors"
    data = bytearray(damaged_path.read_bytes())
    data[-1] ^= 0xFF
    damaged_path.write_bytes(bytes(data))
    (bank.blob_root / missing.blob[:2] / f"{missing.blob}.safetensors").unlink()
    report = bank.verify()
    assert not report.ok and report.checked == 3 and len(report.problems) == 2
    assert any(damaged.blob in p and "corrupted" in p for p in report.problems)
    assert any(missing.blob in p and "missing" in p for p in report.problems)
    with pytest.raises(DataError, match=damaged.blob):
        bank.load(damaged.id)


def test_add_interrupted_before_commit_leaves_no_record(bank, monkeypatch):
    bank.add(make_prompt(0))

    def crash(*_):
        raise KeyboardInterrupt
    monkeypatch.setattr(catalog, "insert", crash)
    with pytest.raises(KeyboardInterrupt):
        bank.add(make_prompt(1))
    monkeypatch.undo()
    report = bank.verify()
    assert report.ok and len(bank) == 1 and len(report.unreferenced) == 1
    assert bank.gc(min_age_seconds=0) == report.unreferenced and not bank.verify().unreferenced


ADDER = """
import sys, time, torch
from pathlib import Path
from promptbank.bank import PromptBank
from promptbank.tuning.prompt import SoftPrompt
root, name, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
go = root.parent / "go"
print("ready", flush=True)
while len(sys.argv) > 4 and not go.exists():
    time.sleep(0.005)
with PromptBank(root, create=True) as bank:
    for i in range(count):
        bank.add(SoftPrompt(torch.randn(20, 64), "bb", "fp", "random", info={"task": name}), name=f"{name}-{i}")
"""


def test_sigkill_at_any_point_during_adds_leaves_the_bank_consistent(tmp_path):
    root = tmp_path / "bank"
    PromptBank(root, create=True).close()
    rng = random.Random(0)
    for attempt in range(6):
        adder = subprocess.Popen([sys.executable, "-c", ADDER, str(root), f"run{attempt}", "100000"],
                                 stdout=subprocess.PIPE, text=True)
        assert adder.stdout.readline().strip() == "ready"
        time.sleep(0.2 + rng.random() * 0.6)
        assert adder.poll() is None
        adder.kill()
        adder.wait()
        with PromptBank(root) as bank:
            report = bank.verify()
            assert report.ok, report.problems
            for path in report.unreferenced:  # a leftover is a temp file or a complete blob, never a torn one
                assert path.name.startswith(".tmp-") or hashlib.sha256(path.read_bytes()).hexdigest() in path.name
            names = [r.name for r in bank.list(task=f"run{attempt}")]
            assert names == [f"run{attempt}-{i}" for i in range(len(names))]
    with PromptBank(root) as bank:
        assert len(bank) > 0


def test_two_processes_adding_at_once(tmp_path):
    root = tmp_path / "bank"
    adders = [subprocess.Popen([sys.executable, "-c", ADDER, str(root), name, "50", "wait"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for name in ("left", "right")]
    for adder in adders:
        assert adder.stdout.readline().strip() == "ready"
    (tmp_path / "go").touch()
    for adder in adders:
        _, err = adder.communicate(timeout=300)
        assert adder.returncode == 0, err
    with PromptBank(root) as bank:
        assert len(bank) == 100 and bank.verify().ok
        assert len(bank.list(task="left")) == len(bank.list(task="right")) == 50


OPENER = """
import sys, time
from pathlib import Path
from promptbank.bank import catalog
roots, me, count = sorted(Path(sys.argv[1]).glob("bank-*")), sys.argv[2], int(sys.argv[3])
for root in roots:  # a file barrier per catalog, so that all the processes switch each one together
    (root / f"ready-{me}").touch()
    deadline = time.monotonic() + 10  # a peer that failed never arrives
    while len(list(root.glob("ready-*"))) < count and time.monotonic() < deadline:
        time.sleep(0.001)
    catalog.connect(root / "catalog.sqlite").close()
"""


def test_processes_opening_a_new_catalog_at_once(tmp_path):
    # several processes switching the same new catalog to WAL at once once failed with "database is locked"
    for i in range(30):
        (tmp_path / f"bank-{i:02d}").mkdir()
    openers = [subprocess.Popen([sys.executable, "-c", OPENER, str(tmp_path), str(n), "3"], stderr=subprocess.PIPE,
                                text=True) for n in range(3)]
    for opener in openers:
        _, err = opener.communicate(timeout=120)
        assert opener.returncode == 0, err


def test_archive_roundtrip_selection_and_idempotence(bank, tmp_path):
    records = [bank.add(make_prompt(i), tags=["t"]) for i in range(3)]
    export_archive(bank, tmp_path / "all.tar.gz")
    export_archive(bank, tmp_path / "one.tar.gz", [records[1].id])
    with PromptBank(tmp_path / "other", create=True) as other:
        added, present = import_archive(other, tmp_path / "one.tar.gz")
        assert [r.id for r in added] == [records[1].id] and not present
        added, present = import_archive(other, tmp_path / "all.tar.gz")
        assert len(added) == 2 and [r.id for r in present] == [records[1].id]
        for record in records:
            assert other.get(record.id) == bank.get(record.id)
            assert torch.equal(other.load(record.id).tensor, bank.load(record.id).tensor)
        assert other.verify().ok


def test_foreign_damaged_or_tampered_archives_are_refused(bank, tmp_path):
    bank.add(make_prompt(0))
    export_archive(bank, tmp_path / "good.tar.gz")
    foreign = tmp_path / "foreign.tar"
    (tmp_path / "notes.txt").write_text("hello")
    with tarfile.open(foreign, "w") as tar:
        tar.add(tmp_path / "notes.txt", arcname="notes.txt")
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes((tmp_path / "good.tar.gz").read_bytes()[:200])
    tampered = tmp_path / "tampered.tar"
    with tarfile.open(tmp_path / "good.tar.gz") as src, tarfile.open(tampered, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name.startswith("blobs/"):
                data = data[:-4] + b"\0\0\0\0"
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    with PromptBank(tmp_path / "other", create=True) as other:
        for path, message in ((foreign, "not a promptbank archive"), (truncated, "damaged"), (tampered, "checksum"),
                              (tmp_path / "absent.tar", "does not exist")):
            with pytest.raises(DataError, match=message):
                import_archive(other, path)
        assert len(other) == 0 and other.verify().ok


def test_verify_reports_a_blob_of_non_finite_values_stored_before_they_were_refused(bank):
    from promptbank.bank import blobs
    record = bank.add(make_prompt(0))
    poisoned = make_prompt(0).tensor
    poisoned[0, 0] = float("nan")
    data, digest = blobs.encode(poisoned, None)
    blobs.write(bank.blob_root, data, digest)
    bank.connection.execute("UPDATE prompts SET blob = ? WHERE id = ?", (digest, record.id))
    report = bank.verify()
    assert not report.ok and any("non-finite" in p and record.id in p for p in report.problems)
    with pytest.raises(DataError, match="non-finite"):
        bank.load(record.id)
