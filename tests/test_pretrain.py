"""PPT pre-training end to end on a tiny model and a small fixed corpus: stored with lineage, resumed after a kill,
skipped when done, and picked by format for a downstream task."""

import json

import pytest
import torch

from promptbank.bank import PromptBank
from promptbank.errors import BadArgumentError, DataError
from promptbank.pretraining import formats
from promptbank.pretraining import run as pretraining_run
from promptbank.pretraining.corpus import Corpus, Document
from promptbank.pretraining.run import FORMAT_TAG, PretrainSpec, pretrain, pretrained_for
from promptbank.tasks.task import Example, Task
from promptbank.tuning import loop as train
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.prompt import SoftPrompt, load_prompt

MOODS = ("awful dreadful", "sad poor", "plain usual", "nice pleasant", "wonderful superb")


@pytest.fixture
def small_corpus(monkeypatch) -> Corpus:
    corpus = Corpus(tuple(Document("news", f"doc{d}", tuple(f"Story {d} part {i} felt {MOODS[(d + i) % 5]} today."
                                                             for i in range(4 + d % 5))) for d in range(16)))
    monkeypatch.setattr(pretraining_run, "load_corpus", lambda documents, seed: corpus)
    monkeypatch.setattr(formats, "lexicon_levels",
                        lambda texts: [next(k for k, mood in enumerate(MOODS) if mood in text) for text in texts])
    return corpus


def spec_for(tiny_dirs, formats_=("nsp3", "next_sentence_selection"), gate=None) -> PretrainSpec:
    """Tiny random models learn nothing in 4 steps: no gate, unless a test is about the gate."""
    return PretrainSpec(backbone=str(tiny_dirs["causal"]), formats=formats_, examples=24, dev_size=6,
                        prompt_length=4, dtype="float32", train=TrainConfig(steps=4, eval_every=2, patience=0),
                        gate=gate)


def test_pretrain_stores_each_format_with_lineage_and_skips_what_is_done(tiny_dirs, small_corpus, tmp_path, monkeypatch):
    spec = spec_for(tiny_dirs)
    with PromptBank(tmp_path / "bank", create=True) as bank:
        records, refused = pretrain(spec, bank, tmp_path / "work", progress=False)
        assert [r.lineage["format"] for r in records] == ["nsp3", "next_sentence_selection"] and refused == {}
        for record, fmt, chance in zip(records, spec.formats, (1 / 3, 1 / 6)):
            assert record.kind == "pretrained" and FORMAT_TAG + fmt in record.tags and record.length == 4
            assert record.metrics["dev"]["chance"] == pytest.approx(chance)  # beside dev.accuracy
            assert record.lineage["corpus"] == small_corpus.fingerprint and record.lineage["method"] == "ppt"
            assert record.task == f"ppt-{fmt}" and [p["step"] for p in bank.get(record.id).curve] == [0, 2, 4]
        assert record.task_format == "multiple_choice" and not list((tmp_path / "work").iterdir())
        monkeypatch.setattr(pretraining_run, "train_many", lambda *a, **k: pytest.fail("a finished format was retrained"))
        again, _ = pretrain(spec, bank, tmp_path / "work", progress=False)
        assert [r.id for r in again] == [r.id for r in records] and len(bank) == 2
        monkeypatch.undo()
        monkeypatch.setattr(pretraining_run, "load_corpus", lambda documents, seed: small_corpus)
        other, _ = pretrain(PretrainSpec(**{**spec.__dict__, "seed": 1}), bank, tmp_path / "work", progress=False)
        assert len(bank) == 4 and {r.id for r in other}.isdisjoint(r.id for r in records)  # other settings: new
        assert records[0].lineage["settings"]["formats_version"] == formats.FORMATS_VERSION  # the formats' own


def test_a_killed_pretraining_continues_to_the_same_prompt(tiny_dirs, small_corpus, tmp_path, monkeypatch):
    spec = spec_for(tiny_dirs, ("nsp3",))
    with PromptBank(tmp_path / "whole", create=True) as bank:
        whole = bank.load(pretrain(spec, bank, tmp_path / "w1", progress=False)[0][0].id)
    save = train.save_checkpoint

    def killed_after_step_2(directory, tensors, state):
        save(directory, tensors, state)
        if state["step"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(train, "save_checkpoint", killed_after_step_2)
    with PromptBank(tmp_path / "bank", create=True) as bank:
        with pytest.raises(KeyboardInterrupt):
            pretrain(spec, bank, tmp_path / "w2", progress=False)
        assert len(bank) == 0 and any((tmp_path / "w2").iterdir())  # nothing half-stored; the checkpoint is kept
        monkeypatch.setattr(train, "save_checkpoint", save)
        resumed = bank.load(pretrain(spec, bank, tmp_path / "w2", progress=False)[0][0].id)
    assert torch.equal(resumed.tensor, whole.tensor)


def test_formats_trained_together_end_as_each_would_alone(tiny_dirs, small_corpus, tmp_path):
    spec = spec_for(tiny_dirs)
    with PromptBank(tmp_path / "together", create=True) as bank:
        together = [bank.load(r.id).tensor for r in pretrain(spec, bank, tmp_path / "w1", progress=False)[0]]
    for fmt, tensor in zip(spec.formats, together):
        with PromptBank(tmp_path / f"alone-{fmt}", create=True) as bank:
            (record,), _ = pretrain(spec_for(tiny_dirs, (fmt,)), bank, tmp_path / "w2", progress=False)
            torch.testing.assert_close(bank.load(record.id).tensor, tensor)
    assert not any((tmp_path / "w1").iterdir())  # the shared checkpoint goes once the prompts are stored


def test_a_format_below_the_gate_is_kept_out_of_the_bank_and_saved_aside(tiny_dirs, small_corpus, tmp_path):
    spec = spec_for(tiny_dirs, ("nsp3", "next_sentence_selection"), gate=0.15)
    with PromptBank(tmp_path / "bank", create=True) as bank:
        records, refused = pretrain(spec, bank, tmp_path / "work", progress=False)
        stored = {r.lineage["format"]: r.metrics["dev"] for r in records}
        for fmt, prompt in refused.items():  # a tiny random model: whatever it scores, the gate decides
            dev = prompt.info["metrics"]["dev"]
            assert dev["accuracy"] < dev["chance"] + 0.15
            assert load_prompt(tmp_path / "work" / "below-gate" / f"{spec.backbone.replace('/', '_')}-{fmt}-seed0")
        assert all(dev["accuracy"] >= dev["chance"] + 0.15 for dev in stored.values())
        assert set(stored) | set(refused) == set(spec.formats) and len(bank) == len(stored)
        assert refused, "4 steps of a tiny random model should not pass a 15-point gate"
    ungated = spec_for(tiny_dirs, ("nsp3",), gate=-1.0)  # a gate no accuracy can miss
    with PromptBank(tmp_path / "bank2", create=True) as bank:
        assert len(pretrain(ungated, bank, tmp_path / "work", progress=False)[0]) == 1


def _store(bank: PromptBank, backbone: str, fmt: str, length: int = 4) -> str:
    prompt = SoftPrompt(torch.randn(length, 32), backbone, "tok", "random", info={"task": f"ppt-{fmt}"})
    return bank.add(prompt, kind="pretrained", tags=[FORMAT_TAG + fmt], lineage={"method": "ppt", "format": fmt}).id


def test_pretrained_init_picks_the_format_that_matches_the_task(tmp_path, toy_task, toy_choice_task):
    pair = Task("toy_nli", "pair", "nli", "Premise: {text}\nHypothesis: {text_b}\nEntailed:", ("no", "yes"), ("no", "yes"),
                tuple(Example(f"premise {i}", i % 2, text_b=f"hypothesis {i}") for i in range(10)))
    with PromptBank(tmp_path / "bank", create=True) as bank:
        ids = {fmt: _store(bank, "b", fmt) for fmt in ("nsp3", "next_sentence_selection", "sentence_sentiment5",
                                                       "unified")}
        picked = lambda task, init="pretrained": pretrained_for(bank, "b", task, init, 4).info["bank_id"]
        assert picked(pair) == ids["nsp3"]  # sentence pair
        assert picked(toy_choice_task) == ids["next_sentence_selection"]  # multiple choice
        assert picked(toy_task) == ids["sentence_sentiment5"]  # single text
        assert picked(toy_task, "pretrained-unified") == ids["unified"]
        newer = _store(bank, "b", "nsp3")
        assert picked(pair) == newer  # the newest of a format
        with pytest.raises(BadArgumentError, match="has 4 tokens, not --prompt-length 8"):
            pretrained_for(bank, "b", toy_choice_task, "pretrained", 8)
        with pytest.raises(DataError, match="no pre-trained nsp3 prompt for backbone 'other'"):
            pretrained_for(bank, "other", pair, "pretrained", 4)


def test_train_cli_starts_from_the_pretrained_prompt_and_pretrain_cli_reports(cli, tiny_dirs, small_corpus, tmp_path):
    backbone = str(tiny_dirs["causal"])
    code, out, err = cli("pretrain", "--bank", tmp_path / "bank", "--backbone", backbone, "--formats",
                         "sentence_sentiment5", "--steps", 2, "--eval-every", 2, "--examples", 20, "--dev-size", 5, "--prompt-length", 4,
                         "--work-dir", tmp_path / "work", "--dtype", "float32", "--gate", -1)
    assert code == 0, err
    assert "sentence_sentiment5" in out and small_corpus.fingerprint[:12] in out
    code, out, err = cli("pretrain", "--bank", tmp_path / "gated", "--backbone", backbone, "--formats", "nsp3",
                         "--steps", 2, "--eval-every", 2, "--examples", 20, "--dev-size", 5, "--prompt-length", 4,
                         "--work-dir", tmp_path / "work", "--dtype", "float32", "--gate", 0.7)  # above any accuracy
    assert code == 0 and "below the gate" in out and "nsp3" in out, err
    assert (tmp_path / "work" / "curves.png").stat().st_size > 0  # each format's curve beside chance and the gate
    with PromptBank(tmp_path / "gated") as bank:
        assert len(bank) == 0
    with PromptBank(tmp_path / "bank") as bank:
        (stored,) = bank.list(kind="pretrained")
        tensor = bank.load(stored.id).tensor
    code, out, err = cli("train", "--task", "movie_sentences", "--backbone", backbone, "--shots", 2, "--steps", 2,
                         "--eval-every", 2, "--prompt-length", 4, "--init", "pretrained", "--bank", tmp_path / "bank",
                         "--test-size", 4, "--dtype", "float32", "--lr", 1e-9, "--out", tmp_path / "run")
    assert code == 0, err
    trained = load_prompt(tmp_path / "run")
    assert trained.init == f"pretrained:{stored.name}" and trained.source == stored.id
    assert torch.allclose(trained.tensor, tensor, atol=1e-5)  # a negligible lr: it is still the pre-trained prompt
    code, out, err = cli("pretrain", "--bank", tmp_path / "bank", "--formats", "nsp4")
    assert code == 2 and "Unknown pre-training format 'nsp4'" in err
    code, out, err = cli("train", "--task", _choice_task_file(tmp_path), "--backbone", backbone, "--shots", 2, "--steps", 2,
                         "--prompt-length", 4, "--init", "pretrained", "--bank", tmp_path / "bank", "--out",
                         tmp_path / "run2")
    assert code == 2 and "no pre-trained next_sentence_selection prompt" in err and not (tmp_path / "run2").exists()


def _choice_task_file(folder) -> str:
    """A user multiple-choice task (JSONL data and its spec)."""
    rows = [{"question": f"question {i}?", "options": ["yes", "no", "maybe"], "answer": i % 3} for i in range(30)]
    (folder / "choices.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    spec = folder / "choices.json"
    spec.write_text(json.dumps({"name": "toy_choices", "data": "choices.jsonl", "format": "multiple_choice",
                                "text": "question", "choices": "options", "label": "answer",
                                "template": "Q: {text}\nA:", "category": "qa"}))
    return str(spec)


def test_a_transfer_run_starts_from_a_pretrained_prompt_which_is_never_retrieved_as_a_source(tiny_dirs, tmp_path):
    from promptbank.backbones import load_backbone
    from promptbank.transfer.retrieval import sources_for
    from promptbank.transfer.run import TransferSpec, transfer_run
    from promptbank.tuning.init import init_prompt
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    with PromptBank(tmp_path / "bank", create=True) as bank:
        unified = bank.add(init_prompt(backbone, 4, "vocab", seed=3), kind="pretrained", tags=[FORMAT_TAG + "unified"])
        with pytest.raises(DataError, match="no source prompts"):
            sources_for(bank, backbone, 4)
        spec = TransferSpec("movie_sentences", "pretrained-unified", backbone=backbone.name, shots=2, prompt_length=4,
                            dtype="float32", test_size=4, train=TrainConfig(steps=2, eval_every=2, lr=1e-9))
        result = transfer_run(spec, bank, progress=False)
    assert result.lineage == {"method": "pretrained-unified", "sources": [unified.id]} and result.ranking == []
    assert torch.allclose(result.prompt.tensor, bank_tensor(tmp_path / "bank", unified.id), atol=1e-5)


def bank_tensor(root, record_id):
    with PromptBank(root) as bank:
        return bank.load(record_id).tensor
