"""The command line, end to end on tiny models: results, and one clear sentence + exit 2 for user mistakes."""

import json

import pytest
import torch

from promptbank.backbones import load_backbone
from promptbank.bank import PromptBank
from promptbank.tuning.config import DEFAULT_RECIPE
from promptbank.tuning.prompt import load_prompt

WORDS = ["good", "fine", "great", "bad", "awful", "poor"]


def write_spec(folder, rows=None, data_bytes=None, verbalizer=None):
    """A user task: a CSV file and the JSON spec naming its fields and verbalizer."""
    data = folder / "reviews.csv"
    if data_bytes is None:
        rows = rows if rows is not None else [(f"the film number {i} was {WORDS[i % 6]}", "pos" if i % 6 < 3 else "neg")
                                              for i in range(60)]
        data_bytes = ("review,stars\n" + "".join(f'"{t}",{s}\n' for t, s in rows)).encode()
    data.write_bytes(data_bytes)
    spec = folder / "task.json"
    spec.write_text(json.dumps({"name": "my_reviews", "data": "reviews.csv", "format": "single", "text": "review",
                                "label": "stars", "verbalizer": verbalizer or {"neg": "bad", "pos": "good"},
                                "template": "Review: {text}\nSentiment:", "category": "sentiment"}))
    return spec


def assert_user_error(result, *words):
    code, out, err = result
    assert code == 2, (code, out, err)
    assert "Traceback" not in err + out
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_backbones_lists_the_bundled_ones(cli):
    code, out, _ = cli("backbones")
    assert code == 0 and "smollm2-135m" in out and "minilm-l6" in out


def test_train_then_eval_on_a_user_task(cli, tiny_dirs, tmp_path, default_bank):
    spec = write_spec(tmp_path)
    out = tmp_path / "prompt"
    code, stdout, err = cli("train", "--task", spec, "--backbone", tiny_dirs["causal"], "--shots", 8, "--steps", 6,
                            "--eval-every", 3, "--prompt-length", 5, "--init", "labels", "--out", out)
    assert code == 0, err
    assert "test accuracy" in stdout and "my_reviews" in stdout
    # --bank left out means the default bank, as in every command: the prompt is stored there too
    assert f"added to the bank at {default_bank}" in stdout
    with PromptBank(default_bank) as bank:
        assert [r.task for r in bank.list()] == ["my_reviews"]
    prompt = load_prompt(out)
    assert prompt.length == 5 and prompt.init == "labels" and prompt.info["task"] == "my_reviews"
    assert [p["step"] for p in prompt.info["curve"]] == [0, 3, 6]
    assert prompt.info["train_examples"] == 16 and 0 <= prompt.info["metrics"]["test"]["accuracy"] <= 1
    assert prompt.info["training"]["lr"] == DEFAULT_RECIPE.lr  # --lr left out keeps the library default
    assert prompt.info["training"]["dtype"] in ("float32", "bfloat16")  # what --dtype auto meant on this host
    assert not (tmp_path / "prompt.partial").exists()
    code, stdout, err = cli("eval", "--prompt", out, "--task", spec, "--split", "validation")
    assert code == 0, err
    assert "accuracy" in stdout and "validation" in stdout


@pytest.mark.parametrize("args, words", [
    (["--task", "no_such_task"], ["no_such_task"]),
    (["--backbone", "/no/such/model"], ["/no/such/model"]),
    (["--shots", "0"], ["--shots"]),
    (["--prompt-length", "0"], ["--prompt-length"]),
    (["--steps", "-5"], ["--steps"]),
    (["--init", "magic"], ["--init", "magic", "pretrained-unified"]),  # the choices are listed
    (["--dtype", "float64"], ["--dtype", "float64"]),
    (["--shots", "many"], ["--shots", "many", "all"]),
    (["--shots", "all", "--train-size", "0"], ["--train-size"]),
    (["--lr", "0"], ["learning rate"]),
])
def test_bad_train_arguments(cli, tiny_dirs, tmp_path, args, words):
    defaults = {"--task": str(write_spec(tmp_path)), "--backbone": str(tiny_dirs["causal"]), "--steps": "2"}
    merged = {**defaults, **dict(zip(args[::2], args[1::2]))}
    flat = [x for pair in merged.items() for x in pair]
    assert_user_error(cli("train", *flat, "--out", tmp_path / "out"), *words)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()
    assert not (tmp_path / "default-bank").exists()


@pytest.mark.parametrize("kind, words", [
    ("empty", ["empty"]),
    ("unknown_label", ["meh"]),
    ("latin1", ["UTF-8"]),
])
def test_bad_data_files(cli, tiny_dirs, tmp_path, kind, words):
    if kind == "empty":
        spec = write_spec(tmp_path, data_bytes=b"")
    elif kind == "unknown_label":
        spec = write_spec(tmp_path, rows=[("fine film", "pos"), ("so so", "meh"), ("bad film", "neg")] * 5)
    else:
        spec = write_spec(tmp_path, data_bytes="review,stars\n\"café crème\",pos\n".encode("latin-1"))
    result = cli("train", "--task", spec, "--backbone", tiny_dirs["causal"], "--steps", 2, "--out", tmp_path / "out")
    assert_user_error(result, *words)
    assert not (tmp_path / "out").exists()


def test_prompt_of_another_backbone(cli, tiny_dirs, tmp_path, default_bank):
    spec = write_spec(tmp_path)
    code, out, err = cli("train", "--task", spec, "--backbone", tiny_dirs["causal"], "--steps", 2, "--shots", 4,
                         "--out", tmp_path / "p", "--no-store")
    assert code == 0, err
    assert "added to the bank" not in out and not default_bank.exists()  # --no-store: only --out is written
    assert_user_error(cli("eval", "--prompt", tmp_path / "p", "--task", spec, "--backbone", tiny_dirs["causal48"]),
                      "hidden size")


def test_existing_output_and_missing_prompt(cli, tiny_dirs, tmp_path):
    spec = write_spec(tmp_path)
    (tmp_path / "taken").mkdir()
    assert_user_error(cli("train", "--task", spec, "--backbone", tiny_dirs["causal"], "--out", tmp_path / "taken"),
                      "already exists")
    assert_user_error(cli("eval", "--prompt", tmp_path / "nothing", "--task", spec), "not a saved prompt")


def test_eval_of_a_file_instead_of_a_prompt_directory(cli, tmp_path):
    (tmp_path / "some_file").write_text("not a prompt")
    assert_user_error(cli("eval", "--prompt", tmp_path / "some_file", "--task", "movie_sentences"),
                      "not a saved prompt directory")


def test_init_prompt_takes_a_run_directory_a_bank_id_or_a_peft_adapter(cli, tiny_dirs, tmp_path):
    spec, model = write_spec(tmp_path), str(tiny_dirs["causal"])
    common = ["--task", spec, "--backbone", model, "--steps", 2, "--eval-every", 2, "--shots", 4, "--prompt-length", 5]
    assert cli("train", *common, "--out", tmp_path / "first", "--bank", tmp_path / "bank")[0] == 0
    first = load_prompt(tmp_path / "first")
    with PromptBank(tmp_path / "bank") as bank:
        bank_id = bank.list()[0].id
    assert cli("bank", "export-peft", bank_id, "--bank", tmp_path / "bank", "--out", tmp_path / "adapter")[0] == 0
    for reference, origin in ((tmp_path / "first", str(tmp_path / "first")), (bank_id[:8], bank_id),
                              (tmp_path / "adapter", str(tmp_path / "adapter"))):
        out = tmp_path / f"from-{len(origin)}-{origin[-3:]}".replace("/", "_")
        code, _, err = cli("train", *common, "--init", "prompt", "--init-prompt", reference,
                           "--bank", tmp_path / "bank", "--out", out)
        assert code == 0, err
        started = load_prompt(out)
        assert started.init == "prompt" and started.source == origin
        # same task, seed and shots, so the same dev set: the start scores what the first run kept
        assert started.info["curve"][0]["dev_accuracy"] == first.info["metrics"]["dev"]["accuracy"]
    assert_user_error(cli("train", *common, "--init", "prompt", "--init-prompt", "nosuchid",
                          "--bank", tmp_path / "bank", "--out", tmp_path / "bad"), "nosuchid")
    assert not (tmp_path / "bad").exists()


def test_device_option_is_checked_and_used(cli, tiny_dirs, tmp_path):
    base = ("train", "--task", "movie_sentences", "--backbone", tiny_dirs["causal"], "--shots", 2, "--steps", 2,
            "--eval-every", 2, "--prompt-length", 4, "--test-size", 4, "--dtype", "float32")
    assert_user_error(cli(*base, "--device", "tpu", "--out", tmp_path / "a"), "--device must be")
    if not torch.cuda.is_available():
        assert_user_error(cli(*base, "--device", "cuda", "--out", tmp_path / "b"), "not available")
    code, _, err = cli(*base, "--device", "cpu", "--out", tmp_path / "c")
    assert code == 0, err
    assert load_backbone(str(tiny_dirs["causal"]), "float32").device.type == "cpu"  # the command's choice holds


def test_both_scoring_paths_train_the_same_prompt(cli, tiny_dirs, tmp_path, monkeypatch):
    from promptbank.scoring import causal
    base = ("train", "--task", "movie_sentences", "--backbone", tiny_dirs["causal"], "--shots", 2, "--steps", 3,
            "--eval-every", 3, "--prompt-length", 4, "--test-size", 4, "--dtype", "float32", "--no-store")
    used, path_of = [], causal.scoring_path
    monkeypatch.setattr(causal, "scoring_path", lambda backbone: used.append(path_of(backbone)) or used[-1])
    for path in ("one-pass", "shared-cache"):
        code, _, err = cli(*base, "--scoring-path", path, "--out", tmp_path / path)
        assert code == 0, err
        assert set(used) == {path}
        used.clear()
    torch.testing.assert_close(load_prompt(tmp_path / "one-pass").tensor, load_prompt(tmp_path / "shared-cache").tensor,
                               atol=1e-4, rtol=1e-4)
    assert_user_error(cli(*base, "--scoring-path", "two-pass", "--out", tmp_path / "x"), "--scoring-path", "one-pass")


def test_shots_all_trains_on_the_whole_training_split(cli, tiny_dirs, tmp_path):
    spec = write_spec(tmp_path)
    code, _, err = cli("train", "--task", spec, "--backbone", tiny_dirs["causal"], "--shots", "all", "--train-size", 10,
                       "--dev-size", 5, "--steps", 2, "--eval-every", 2, "--prompt-length", 4, "--out", tmp_path / "p")
    assert code == 0, err
    info = load_prompt(tmp_path / "p").info
    assert info["shots"] is None and info["train_examples"] == 10  # the first 10 of the (shuffled) training split
