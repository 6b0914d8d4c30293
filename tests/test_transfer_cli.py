"""`promptbank transfer`, `promptbank similarity` and `promptbank bank build` on a tiny model."""

import re

import pytest
from test_cli import assert_user_error

from promptbank.bank import PromptBank


@pytest.fixture(scope="module")
def built(tiny_dirs, tmp_path_factory):
    """A bank built by the CLI: two sentiment tasks and one hedge-detection task."""
    import sys

    from promptbank.cli import main
    bank = tmp_path_factory.mktemp("cli") / "bank"
    argv = sys.argv
    sys.argv = ["promptbank", "bank", "build", "--bank", str(bank), "--backbone", str(tiny_dirs["causal"]), "--tasks",
                "movie_sentences,food_reviews,wiki_hedges", "--shots", "2", "--steps", "2", "--eval-every",
                "2", "--prompt-length", "4", "--test-size", "4", "--dtype", "float32", "--no-bar"]
    try:
        with pytest.raises(SystemExit) as exit_:
            main()
    finally:
        sys.argv = argv
    assert exit_.value.code == 0
    return bank


def test_transfer_prints_the_ranking_and_stores_lineage(cli, tiny_dirs, built):
    code, out, err = cli("transfer", "--target", "rotten_tomatoes", "--bank", built, "--strategy", "best-of-k", "--k",
                         2, "--by", "zero-shot", "--backbone", tiny_dirs["causal"], "--shots", 2, "--steps", 2,
                         "--eval-every", 2, "--prompt-length", 4, "--test-size", 4, "--dtype", "float32")
    assert code == 0, err
    assert "sources ranked by zero-shot" in out and "movie_sentences" in out and "wiki_hedges" in out
    stored = re.search(r"stored as\W*([0-9a-f]{12})", out).group(1)
    code, shown, _ = cli("bank", "show", stored, "--bank", built)
    assert code == 0 and "best-of-k" in shown and "rotten_tomatoes" in shown
    assert "exact: its init is stored" in shown  # it began from the best probe's prompt


@pytest.mark.parametrize("strategy", ["learned-mixture", "attention-mixture"])
def test_a_learned_mixture_shows_what_it_took_from_each_source(cli, tiny_dirs, built, strategy):
    code, out, err = cli("transfer", "--target", "rotten_tomatoes", "--bank", built, "--strategy", strategy,
                         "--k", 2, "--by", "similarity", "--on", "delta", "--backbone", tiny_dirs["causal"], "--shots",
                         2, "--steps", 2, "--eval-every", 2, "--prompt-length", 4, "--test-size", 4, "--dtype",
                         "float32")
    assert code == 0, err
    assert "sources ranked by similarity (spot-avg-cosine of deltas)" in out
    weights = re.search(r"learned weights\W*(\w+) ([0-9.]+), (\w+) ([0-9.]+)", out)
    assert weights and float(weights.group(2)) + float(weights.group(4)) == pytest.approx(1, abs=2e-3)
    assert "learned scale" in out
    if strategy == "attention-mixture":  # per input: the stored prompt is the train items' mean, scored beside it
        assert re.search(r"weights' spread over inputs\W*[0-9.]+", out) and "stored prompt's test accuracy" in out


@pytest.mark.parametrize("metric", ["spot-avg-cosine", "on"])
def test_similarity_prints_a_matrix_and_draws_a_heatmap(cli, tiny_dirs, built, tmp_path, metric):
    code, out, err = cli("similarity", "--bank", built, "--backbone", tiny_dirs["causal"], "--metric", metric,
                         "--out", tmp_path / "s.png")
    assert code == 0, err
    with PromptBank(built) as bank:
        count = len(bank)
    compared = "prompts" if metric == "on" else "task vectors"  # every prompt here knows its init
    assert f"{metric} similarity of {count} {compared}" in out and "1.000" in out
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_similarity_falls_back_to_the_prompts_only_when_asked_for_nothing(cli, tiny_dirs, built, tmp_path):
    import shutil
    from dataclasses import replace
    shutil.copytree(built, tmp_path / "b")
    with PromptBank(tmp_path / "b") as bank:  # a prompt whose init is neither stored nor rebuildable
        prompt = bank.load(bank.list()[0].id)
        unknown = bank.add(replace(prompt, init="labels", init_tensor=None))
        older = bank.add(replace(prompt, init_tensor=None))  # as stored before inits were kept: a random init
        count = len(bank)
    for record, says in ((unknown, "none: its init was not stored"), (older, "rebuilt from its recipe")):
        code, shown, _ = cli("bank", "show", record.id, "--bank", tmp_path / "b")
        assert code == 0 and says in shown
    common = ("similarity", "--bank", tmp_path / "b", "--backbone", tiny_dirs["causal"], "--dtype", "float32",
              "--out", tmp_path / "s.png")
    code, out, err = cli(*common)
    assert code == 0 and "Comparing the prompts, not their task vectors" in out and f"similarity of {count} prompts" in out
    assert_user_error(cli(*common, "--on", "delta"), "'labels' init cannot be rebuilt")
    code, out, err = cli(*common, "--on", "prompt")
    assert code == 0 and "Comparing" not in out and f"similarity of {count} prompts" in out


def test_transfer_and_similarity_mistakes(cli, tiny_dirs, built, tmp_path):
    common = ["--bank", built, "--backbone", tiny_dirs["causal"], "--dtype", "float32"]
    assert_user_error(cli("transfer", "--target", "rotten_tomatoes", "--strategy", "magic", *common), "magic")
    assert_user_error(cli("transfer", "--target", "nope", *common), "nope")
    assert_user_error(cli("transfer", "--target", "rotten_tomatoes", "--k", 0, *common), "--k")
    assert_user_error(cli("transfer", "--target", "rotten_tomatoes", "--prompt-length", 9, "--by", "zero-shot",
                          *common), "9 or more tokens")
    assert_user_error(cli("similarity", "--bank", built, "--backbone", tiny_dirs["causal"], "--metric", "vibes"),
                      "vibes")
    assert_user_error(cli("bank", "build", "--bank", tmp_path / "b", "--tasks", "movie_sentences,nope",
                          "--backbone", tiny_dirs["causal"]), "nope")
    assert not (tmp_path / "b").exists()


def test_staged_retrieval_from_the_cli(cli, tiny_dirs, tmp_path):
    from promptbank.bank import PromptBank
    from promptbank.bank.build import build_bank
    from promptbank.tuning.config import TrainConfig
    with PromptBank(tmp_path / "b", create=True) as bank:
        build_bank(["movie_sentences", "food_reviews", "bbc_news"], bank, str(tiny_dirs["causal"]), shots=2,
                   prompt_length=4, config=TrainConfig(steps=2, eval_every=2, patience=0, batch_size=4),
                   dtype="float32", test_size=4, margin=None, progress=False)
    common = ("--target", "rotten_tomatoes", "--bank", tmp_path / "b", "--by", "staged", "--k", 2, "--backbone",
              tiny_dirs["causal"], "--shots", 2, "--steps", 2, "--eval-every", 2, "--prompt-length", 4, "--test-size",
              4, "--dtype", "float32")
    assert_user_error(cli("transfer", *common, "--prefilter", 2), "1 ≤ k ≤ final ≤ prefilter")
    assert_user_error(cli("transfer", *common, "--k", 9), "not k=9")  # the last round keeps 8: refused up front
    code, out, err = cli("transfer", *common, "--prefilter", 9)
    assert code == 0, err
    assert "sources ranked by staged" in out
    with PromptBank(tmp_path / "b") as bank:
        (stored,) = bank.list(task="rotten_tomatoes")
    assert stored.lineage["by"] == "staged" and stored.lineage["evaluations"] > 0 and len(stored.lineage["sources"]) == 2
    assert stored.lineage["prefilter"] == 9
