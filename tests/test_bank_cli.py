"""`promptbank bank ...` end to end on a tiny model, and one sentence + exit 2 for every user mistake."""

import tarfile

import pytest
from test_cli import assert_user_error, write_spec


@pytest.fixture
def trained(cli, tiny_dirs, tmp_path):
    """A bank holding one prompt trained through `promptbank train --bank`."""
    spec = write_spec(tmp_path)
    code, out, err = cli("train", "--task", spec, "--backbone", tiny_dirs["causal"], "--shots", 4, "--steps", 4,
                         "--eval-every", 2, "--out", tmp_path / "p", "--bank", tmp_path / "bank")
    assert code == 0, err
    record_id = out.split("as ")[-1].split()[0]
    return tmp_path / "bank", record_id, spec


def test_train_adds_to_the_bank_and_bank_commands_work(cli, trained, tiny_dirs, tmp_path):
    bank, record_id, _ = trained
    code, out, _ = cli("bank", "list", "--bank", bank, "--task", "my_reviews")
    assert code == 0 and record_id in out and "1 prompts" in out
    code, out, _ = cli("bank", "show", record_id[:5], "--bank", bank)
    assert code == 0 and "my_reviews" in out and "3 evaluations over 4 steps" in out
    assert cli("bank", "tag", record_id, "--add", "gold", "--bank", bank)[0] == 0
    assert record_id in cli("bank", "list", "--bank", bank, "--tag", "gold")[1]
    assert record_id not in cli("bank", "list", "--bank", bank, "--min", "test.accuracy=1.01")[1]
    assert cli("bank", "verify", "--bank", bank)[0] == 0
    assert cli("bank", "add", "--prompt", tmp_path / "p", "--bank", bank, "--tag", "copy")[0] == 0
    assert cli("bank", "export", "--out", tmp_path / "a.tar.gz", "--bank", bank)[0] == 0
    code, out, _ = cli("bank", "import", tmp_path / "a.tar.gz", "--bank", tmp_path / "bank2")
    assert code == 0 and "imported 2 prompts" in out
    assert cli("bank", "export-peft", record_id, "--out", tmp_path / "peft", "--bank", bank)[0] == 0
    code, out, _ = cli("bank", "import-peft", tmp_path / "peft", "--backbone", tiny_dirs["causal"], "--bank", bank)
    assert code == 0 and "added" in out
    assert cli("bank", "rm", record_id, "--bank", bank)[0] == 0
    assert "2 prompts" in cli("bank", "list", "--bank", bank)[1]


def test_verify_names_a_corrupted_blob_and_fails(cli, trained):
    bank, record_id, _ = trained
    blob = next((bank / "blobs").glob("*/*.safetensors"))
    blob.write_bytes(blob.read_bytes()[:-8])
    code, out, _ = cli("bank", "verify", "--bank", bank)
    assert code == 1 and blob.stem in out and "corrupted" in out


def test_bank_user_mistakes(cli, trained, tiny_dirs, tmp_path):
    bank, record_id, _ = trained
    assert_user_error(cli("bank", "show", "zzzz", "--bank", bank), "zzzz")
    assert_user_error(cli("bank", "rm", "zzzz", "--bank", bank), "zzzz")
    assert_user_error(cli("bank", "list", "--bank", tmp_path / "nowhere"), "no prompt bank")
    assert_user_error(cli("bank", "list", "--bank", bank, "--min", "accuracy"), "--min")
    assert_user_error(cli("bank", "add", "--prompt", tmp_path / "p", "--bank", bank, "--kind", "weird"), "weird")
    (tmp_path / "x.txt").write_text("x")
    with tarfile.open(tmp_path / "foreign.tar", "w") as tar:
        tar.add(tmp_path / "x.txt", arcname="x.txt")
    assert_user_error(cli("bank", "import", tmp_path / "foreign.tar", "--bank", tmp_path / "fresh"), "not a promptbank")
    assert not (tmp_path / "fresh").exists()
    assert_user_error(cli("bank", "build", "--tasks", ",", "--bank", tmp_path / "fresh"), "names no task")
    assert not (tmp_path / "fresh").exists()

    (tmp_path / "broken.tar.gz").write_bytes(b"\x1f\x8b garbage")
    assert_user_error(cli("bank", "import", tmp_path / "broken.tar.gz", "--bank", bank), "damaged")
    assert cli("bank", "export-peft", record_id, "--out", tmp_path / "peft", "--bank", bank)[0] == 0
    assert_user_error(cli("bank", "import-peft", tmp_path / "peft", "--backbone", tiny_dirs["causal48"], "--bank", bank),
                      "hidden size")
    assert_user_error(cli("bank", "export-peft", record_id, "--out", tmp_path / "peft", "--bank", bank), "exists")
    assert "1 prompts" in cli("bank", "list", "--bank", bank)[1]


@pytest.mark.parametrize("damage", ["empty", "not a database"])
def test_a_damaged_catalog_is_reported_and_gc_deletes_nothing(cli, trained, damage):
    bank, _, _ = trained
    files = sorted((bank / "blobs").rglob("*.safetensors"))
    for suffix in ("-wal", "-shm"):  # the catalog as a crash or a bad copy leaves it: the file alone
        (bank / f"catalog.sqlite{suffix}").unlink(missing_ok=True)
    (bank / "catalog.sqlite").write_bytes(b"" if damage == "empty" else b"this is not a database" * 100)
    code, out, err = cli("bank", "verify", "--bank", bank)
    assert code == 1 and "damaged" in out and "Traceback" not in out + err
    code, out, err = cli("bank", "gc", "--bank", bank)
    assert_user_error((code, out, err), "damaged")
    assert_user_error(cli("bank", "list", "--bank", bank), "damaged")
    assert sorted((bank / "blobs").rglob("*.safetensors")) == files  # every prompt file is still there


def test_gc_deletes_nothing_when_the_catalog_references_no_prompt_file(trained):
    from promptbank.bank import PromptBank
    from promptbank.errors import DamagedBankError
    bank, record_id, _ = trained
    with PromptBank(bank) as store:
        store.connection.execute("DELETE FROM tags")
        store.connection.execute("DELETE FROM details")
        store.connection.execute("DELETE FROM prompts")  # a catalog emptied behind the bank's back
        files = sorted((bank / "blobs").rglob("*.safetensors"))
        with pytest.raises(DamagedBankError, match="references none of its 1 prompt files"):
            store.gc(min_age_seconds=0)
    assert sorted((bank / "blobs").rglob("*.safetensors")) == files


def test_an_import_racing_another_counts_what_it_added_as_present(trained, tmp_path, monkeypatch):
    """The check for prompts already present runs before the write lock is taken; another process may insert them
    in between (simulated: the check sees none). The insert then finds them and leaves them."""
    from promptbank.bank import PromptBank
    from promptbank.bank.archive import export_archive, import_archive
    bank, record_id, _ = trained
    with PromptBank(bank) as store:
        export_archive(store, tmp_path / "a.tar.gz", None)
    with PromptBank(tmp_path / "target", create=True) as store:
        assert [r.id for r in import_archive(store, tmp_path / "a.tar.gz")[0]] == [record_id]
        monkeypatch.setattr(store, "list", lambda **kwargs: [])  # a check made before the other process committed
        added, present = import_archive(store, tmp_path / "a.tar.gz")
        assert added == [] and [r.id for r in present] == [record_id]
        assert len(store.connection.execute("SELECT id FROM prompts").fetchall()) == 1


def test_three_concurrent_imports_of_one_archive_all_succeed(cli, trained, tmp_path):
    import subprocess
    import sys
    bank, record_id, _ = trained
    assert cli("bank", "export", "--out", tmp_path / "a.tar.gz", "--bank", bank)[0] == 0
    command = [sys.executable, "-c", "from promptbank.cli import main; main()", "bank", "import", str(tmp_path / "a.tar.gz"), "--bank",
               str(tmp_path / "shared")]
    running = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in running]
    assert all(code == 0 for code, _ in results), results
    code, out, _ = cli("bank", "list", "--bank", tmp_path / "shared")
    assert code == 0 and "1 prompts" in out


@pytest.mark.parametrize("command", [
    ("experiment", "matrix", "--targets", "rotten_tomatoes", "--sources", "", "--strategies", "vocab",
     "--no-per-source", "--steps", 0),
    ("experiment", "zero-shot", "--tasks", "rotten_tomatoes", "--test-size", 0),
    ("experiment", "sweep", "--tasks", "rotten_tomatoes", "--steps", 0),
    ("experiment", "choice-scoring", "--tasks", "rotten_tomatoes", "--test-size", 0)])
def test_a_refused_experiment_leaves_nothing_that_blocks_the_corrected_one(cli, tmp_path, command):
    assert_user_error(cli(*command, "--out", tmp_path / "out"), "must be positive")
    assert not (tmp_path / "out").exists()
