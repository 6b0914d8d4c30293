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
    (tmp_path / "broken.tar.gz").write_bytes(b"\x1f\x8b garbage")
    assert_user_error(cli("bank", "import", tmp_path / "broken.tar.gz", "--bank", bank), "damaged")
    assert cli("bank", "export-peft", record_id, "--out", tmp_path / "peft", "--bank", bank)[0] == 0
    assert_user_error(cli("bank", "import-peft", tmp_path / "peft", "--backbone", tiny_dirs["causal48"], "--bank", bank),
                      "hidden size")
    assert_user_error(cli("bank", "export-peft", record_id, "--out", tmp_path / "peft", "--bank", bank), "exists")
    assert "1 prompts" in cli("bank", "list", "--bank", bank)[1]
