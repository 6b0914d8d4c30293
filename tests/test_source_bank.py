"""Building a source bank: the bar that keeps weak sources out, and a build that continues where it stopped."""

import json

import pytest
import torch

from promptbank.bank import PromptBank
from promptbank.bank import build as source_bank
from promptbank.bank.build import build_bank, verdict
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.run import RunSpec

TINY = TrainConfig(steps=2, eval_every=2, patience=0, batch_size=4)


def test_the_bar_needs_a_margin_over_majority_and_over_the_bare_template():
    assert verdict(0.70, 0.50, 0.60, 0.05) == ""
    assert "majority" in verdict(0.54, 0.50, 0.30, 0.05)  # within 5 points of always answering the top label
    assert "no prompt" in verdict(0.70, 0.50, 0.70, 0.05)  # no better than the template alone
    assert verdict(0.10, 0.50, 0.90, None) == ""  # no bar: everything is kept


def test_weak_sources_are_left_out_with_the_reason_and_not_trained_again(tiny_dirs, tmp_path, monkeypatch):
    model = str(tiny_dirs["causal"])
    with PromptBank(tmp_path / "bank", create=True) as bank:
        first = build_bank(["movie_sentences", "food_reviews"], bank, model, shots=2, prompt_length=4, config=TINY,
                           dtype="float32", test_size=20, margin=0.05, progress=False)
        # every source is judged by the bar it was given, kept or left out with a reason
        for outcome in first:
            assert outcome.kept == (outcome.test_accuracy >= outcome.majority + 0.05
                                    and outcome.test_accuracy > outcome.template_accuracy)
            assert outcome.kept or outcome.reason
        assert not all(o.kept for o in first)  # deterministic: this tiny model fails the bar on at least one
        assert {r.task for r in bank.list()} == {o.task for o in first if o.kept}
        saved = json.loads((tmp_path / "bank" / ".build" / "movie_sentences-s0.json").read_text())
        assert saved["reason"] == first[0].reason and 0 <= saved["template_accuracy"] <= 1

        def no_training(*args, **kwargs):
            raise AssertionError("a source already built was trained again")
        monkeypatch.setattr(source_bank, "train_task", no_training)
        monkeypatch.setattr(source_bank, "train_many", no_training)
        assert build_bank(["movie_sentences", "food_reviews"], bank, model, shots=2, prompt_length=4, config=TINY,
                          dtype="float32", test_size=20, margin=0.05, progress=False) == first


def test_a_build_killed_after_adding_a_source_reads_it_back_from_the_bank(tiny_dirs, tmp_path, monkeypatch):
    model = str(tiny_dirs["causal"])
    with PromptBank(tmp_path / "bank", create=True) as bank:
        first = build_bank(["movie_sentences"], bank, model, shots=2, prompt_length=4, config=TINY, dtype="float32",
                           test_size=8, margin=None, progress=False)
        (tmp_path / "bank" / ".build" / "movie_sentences-s0.json").unlink()  # killed between the add and the outcome
        monkeypatch.setattr(source_bank, "train_task", lambda *a, **k: pytest.fail("trained again"))
        monkeypatch.setattr(source_bank, "train_many", lambda *a, **k: pytest.fail("trained again"))
        again = build_bank(["movie_sentences"], bank, model, shots=2, prompt_length=4, config=TINY, dtype="float32",
                           test_size=8, margin=None, progress=False)
        assert len(bank) == 1 and again[0].record_id == first[0].record_id
        assert again[0].test_accuracy == first[0].test_accuracy and again[0].kept


def test_a_local_build_trains_its_sources_together_as_they_would_be_trained_one_by_one(tiny_dirs, tmp_path):
    model = str(tiny_dirs["causal"])
    config = TrainConfig(steps=4, eval_every=2, patience=1, batch_size=4)  # early stopping stays per source
    with PromptBank(tmp_path / "bank", create=True) as bank:
        together = build_bank(["movie_sentences", "wiki_hedges"], bank, model, shots=2, prompt_length=4,
                              seeds=(0, 1), config=config, dtype="float32", test_size=12, margin=None, progress=False)
        assert not (tmp_path / "bank" / ".build" / "together.partial").exists()  # removed once all are stored
        for outcome in together:
            spec = RunSpec(outcome.task, model, 2, 4, dtype="float32", test_size=12,
                           train=TrainConfig(**{**config.__dict__, "seed": outcome.seed}))
            unit = source_bank.SourceUnit(spec, None, tmp_path / f"alone-{outcome.task}-{outcome.seed}", progress=False)
            alone = source_bank.train_source(unit)
            assert alone.outcome.test_accuracy == outcome.test_accuracy
            assert alone.outcome.steps_done == outcome.steps_done and alone.outcome.dev_accuracy == outcome.dev_accuracy
            stored = bank.load(outcome.record_id).tensor
            assert torch.allclose(alone.prompt.tensor, stored, atol=1e-5)
