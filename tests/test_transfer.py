"""Retrieval and transfer initialisation on a tiny model with real built-in tasks."""

from collections import Counter
from dataclasses import replace

import pytest
import torch

from promptbank import scoring
from promptbank.backbones import load_backbone
from promptbank.bank import PromptBank
from promptbank.bank.build import build_bank
from promptbank.errors import BadArgumentError, DataError
from promptbank.scoring.evaluate import accuracy_of_many, evaluate
from promptbank.tasks import get_task, split
from promptbank.transfer.inits import LAMBDAS, weighted_average_init
from promptbank.transfer.retrieval import rank_by_zero_shot
from promptbank.transfer.run import TransferSpec, retrieve, transfer_run
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.init import init_prompt
from promptbank.tuning.loop import train_prompt
from promptbank.tuning.run import target_data

TINY = TrainConfig(steps=4, eval_every=2, patience=0, batch_size=4)


@pytest.fixture(scope="module")
def source_bank(tiny_dirs, tmp_path_factory):
    """Source prompts for two sentiment tasks and one hedge-detection task (two seeds of one of them)."""
    bank = PromptBank(tmp_path_factory.mktemp("bank") / "b", create=True)
    build_bank(["movie_sentences", "food_reviews"], bank, str(tiny_dirs["causal"]), shots=2, prompt_length=4,
               seeds=(0, 1), config=TINY, dtype="float32", test_size=8, margin=None, progress=False)
    build_bank(["wiki_hedges"], bank, str(tiny_dirs["causal"]), shots=2, prompt_length=4, config=TINY,
               dtype="float32", test_size=8, margin=None, progress=False)
    yield bank
    bank.close()


def test_many_prompts_in_one_pass_equal_separate_evaluations(tiny_dirs, toy_task):
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    items = scoring.encode(backbone, toy_task, toy_task.examples)
    prompts = torch.stack([init_prompt(backbone, 4, "random", seed=s).tensor for s in range(5)])
    together = accuracy_of_many(backbone, prompts, items, batch_rows=16)
    separate = [evaluate(backbone, p, items).accuracy for p in prompts]
    assert together.tolist() == pytest.approx(separate)


def test_weighted_average_follows_softmax_of_scores():
    prompts = torch.stack([torch.full((2, 3), float(v)) for v in (0, 1, 2)])
    tensor, weights = weighted_average_init(prompts, [0.5, 0.5, 0.5])
    assert weights == pytest.approx([1 / 3] * 3) and torch.allclose(tensor, torch.ones(2, 3))
    tensor, weights = weighted_average_init(prompts, [0.0, 0.0, 1.0], temperature=0.1)
    assert weights[2] > 0.99 and weights[0] == pytest.approx(weights[1])


def test_zero_shot_ranking_orders_by_dev_accuracy(tiny_dirs, toy_task, source_bank):
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    prompts, records = source_bank.stack(str(tiny_dirs["causal"]))
    items = scoring.encode(backbone, toy_task, toy_task.examples[:20])
    ranking = rank_by_zero_shot(backbone, prompts, records, items)
    scores = [r.score for r in ranking]
    assert scores == sorted(scores, reverse=True) and len(ranking) == 5
    by_id = {r.id: p for r, p in zip(records, prompts)}
    assert ranking[0].score == pytest.approx(evaluate(backbone, by_id[ranking[0].record.id], items).accuracy)


@pytest.mark.parametrize("strategy", ["weighted-average", "best-of-k", "mixture", "learned-mixture",
                                      "attention-mixture", "delta-average", "delta-best"])
def test_transfer_strategies_record_their_lineage(tiny_dirs, source_bank, strategy):
    spec = TransferSpec(target="rotten_tomatoes", strategy=strategy, k=2, by="zero-shot",
                        backbone=str(tiny_dirs["causal"]), shots=2, prompt_length=4, probe_steps=2, mixture_steps=2,
                        dtype="float32", test_size=8, train=TINY)
    result = transfer_run(spec, source_bank, progress=False)
    assert len(result.ranking) == 5 and result.lineage["method"] == strategy and result.lineage["by"] == "zero-shot"
    assert result.lineage["sources"] == [r.record.id for r in result.ranking[:2]]
    assert result.prompt.info["lineage"] == result.lineage and result.prompt.init == strategy
    assert result.prompt.init_tensor is not None  # a transfer's init is the prompt it started from
    if strategy == "weighted-average":
        chosen = source_bank.stack(spec.backbone, ids=result.lineage["sources"], length_policy="truncate",
                                   length=4)[0]
        expected, _ = weighted_average_init(chosen, result.lineage["scores"])
        assert torch.equal(result.prompt.init_tensor, expected)
    assert 0 <= result.test.accuracy <= 1 and result.test.n == 8
    if strategy == "weighted-average":
        assert sum(result.lineage["weights"]) == pytest.approx(1)
    if strategy == "best-of-k":
        assert result.lineage["chosen"] in result.lineage["sources"] and len(result.lineage["probe_dev_accuracy"]) == 2
    if strategy == "learned-mixture":  # the target's init plus a trained mixture of the sources' task vectors
        assert len(result.lineage["learned_weights"]) == 2 and sum(result.lineage["learned_weights"]) == pytest.approx(1)
        assert result.lineage["learned_scale"] > 0 and result.prompt.info["lineage"]["learned_weights"]
        deltas = source_bank.stack(spec.backbone, ids=result.lineage["sources"], length_policy="truncate", length=4,
                                   delta=True)
        position = {r.id: i for i, r in enumerate(deltas[1])}
        mean = deltas[0][[position[i] for i in result.lineage["sources"]]].mean(0)
        backbone = load_backbone(spec.backbone, spec.dtype)
        torch.testing.assert_close(result.prompt.init_tensor, init_prompt(backbone, 4, "random").tensor + mean)
    if strategy == "attention-mixture":  # weights for each input; the bank gets the train items' mean prompt
        assert len(result.lineage["learned_weights"]) == 2 and result.lineage["weights_spread"] >= 0
        assert 0 <= result.lineage["stored_prompt_test_accuracy"] <= 1
    if strategy.startswith("delta-"):  # the target's own init plus λ times the sources' (mean) task vector
        assert result.lineage["base"] == "target" and result.lineage["lambda"] in LAMBDAS
        assert len(result.lineage["lambda_dev_accuracy"]) == len(LAMBDAS)
        deltas = source_bank.stack(spec.backbone, ids=result.lineage["sources"], length_policy="truncate", length=4,
                                   delta=True)
        position = {r.id: i for i, r in enumerate(deltas[1])}
        ordered = deltas[0][[position[i] for i in result.lineage["sources"]]]
        vector = (weighted_average_init(ordered, result.lineage["scores"])[0] if strategy == "delta-average"
                  else ordered[0])
        backbone = load_backbone(spec.backbone, spec.dtype)
        torch.testing.assert_close(result.prompt.init_tensor, init_prompt(backbone, 4, "random").tensor
                                   + result.lineage["lambda"] * vector)
    if strategy == "mixture":
        assert set(result.lineage["mixed_tasks"]) <= {"movie_sentences", "food_reviews", "wiki_hedges"}


def test_a_shared_ranking_and_encoding_give_the_same_result_as_a_fresh_run(tiny_dirs, source_bank):
    spec = TransferSpec(target="rotten_tomatoes", strategy="weighted-average", k=2, by="similarity",
                        metric="cosine", backbone=str(tiny_dirs["causal"]), shots=2, prompt_length=4,
                        embedding_steps=2, dtype="float32", test_size=8, train=TINY)
    fresh = transfer_run(spec, source_bank, progress=False)
    backbone = load_backbone(spec.backbone, spec.dtype)
    data = target_data(backbone, spec.target, spec.shots, spec.train.seed, test_size=spec.test_size)
    retrieval = retrieve(spec, backbone, source_bank, data)
    shared = transfer_run(spec, source_bank, progress=False, data=data, retrieval=retrieval)
    assert [(r.record.id, r.score) for r in shared.ranking] == [(r.record.id, r.score) for r in fresh.ranking]
    assert torch.equal(shared.prompt.tensor, fresh.prompt.tensor) and shared.lineage == fresh.lineage


@pytest.mark.parametrize("on", ["delta", "prompt"])
def test_retrieval_by_similarity_compares_task_vectors_or_prompts(tiny_dirs, source_bank, on, monkeypatch):
    import promptbank.transfer.retrieval as retrieval_module
    seen = {}
    rank = retrieval_module.rank_by_similarity
    monkeypatch.setattr(retrieval_module, "rank_by_similarity",
                        lambda backbone, vectors, records, target, metric: seen.update(
                            vectors=vectors, records=records, target=target) or rank(backbone, vectors, records,
                                                                                       target, metric))
    spec = TransferSpec(target="rotten_tomatoes", k=2, by="similarity", metric="cosine", on=on,
                        backbone=str(tiny_dirs["causal"]), shots=2, prompt_length=4, embedding_steps=2,
                        dtype="float32", test_size=8, train=TINY)
    backbone = load_backbone(spec.backbone, spec.dtype)
    data = target_data(backbone, spec.target, spec.shots, spec.train.seed, test_size=spec.test_size)
    retrieve(spec, backbone, source_bank, data)
    ids = [r.id for r in seen["records"]]
    expected = source_bank.stack(spec.backbone, ids=ids, length_policy="truncate", length=4, delta=on == "delta")[0]
    assert torch.equal(seen["vectors"], expected)
    start = init_prompt(backbone, 4, "random", seed=0)  # the task embedding, trained again: its delta is from here
    embedding = train_prompt(backbone, data.train_items, data.dev_items, start,
                             replace(spec.train, steps=spec.embedding_steps, patience=0), progress=False).prompt
    assert torch.equal(seen["target"], embedding.tensor - start.tensor if on == "delta" else embedding.tensor)


def test_the_target_tasks_own_prompts_are_never_sources(tiny_dirs, source_bank):
    spec = TransferSpec(target="movie_sentences", k=1, by="zero-shot", backbone=str(tiny_dirs["causal"]), shots=2,
                        prompt_length=4, dtype="float32", test_size=4, train=TINY)
    result = transfer_run(spec, source_bank, progress=False)
    assert all(r.record.task != "movie_sentences" for r in result.ranking) and len(result.ranking) == 3


def test_baseline_needs_no_bank_sources_and_bad_choices_are_refused(tiny_dirs, tmp_path):
    with PromptBank(tmp_path / "empty", create=True) as empty:
        spec = TransferSpec(target="rotten_tomatoes", strategy="labels", backbone=str(tiny_dirs["causal"]), shots=2,
                            prompt_length=4, dtype="float32", test_size=4, train=TINY)
        assert transfer_run(spec, empty, progress=False).lineage == {"method": "labels", "sources": []}
        with pytest.raises(DataError, match="no source prompts"):
            transfer_run(TransferSpec(**{**spec.__dict__, "strategy": "weighted-average", "by": "zero-shot"}), empty,
                         progress=False)
    with pytest.raises(BadArgumentError, match="strategy"):
        TransferSpec(target="x", strategy="magic")
    with pytest.raises(BadArgumentError, match="--k"):
        TransferSpec(target="x", k=0)
    with pytest.raises(BadArgumentError, match="--by"):
        TransferSpec(target="x", by="vibes")


def test_majority_baseline_comes_from_the_whole_training_split(tiny_dirs):
    """K-per-class samples are balanced: their most frequent label would be a tie, broken differently per seed."""
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    parts = split(get_task("drug_reviews"))
    most = Counter(ex.label for ex in parts.train).most_common(1)[0][0]
    expected = sum(ex.label == most for ex in parts.test[:50]) / 50
    majorities = [target_data(backbone, "drug_reviews", 2, seed, test_size=50).majority for seed in range(3)]
    assert majorities == [pytest.approx(expected)] * 3


def test_ppt_plus_transfer_adds_the_sources_task_vectors_to_the_pretrained_prompt(tiny_dirs, tmp_path):
    from promptbank.pretraining.run import FORMAT_TAG
    bank = PromptBank(tmp_path / "b", create=True)
    build_bank(["movie_sentences", "food_reviews"], bank, str(tiny_dirs["causal"]), shots=2, prompt_length=4,
               config=TINY, dtype="float32", test_size=8, margin=None, progress=False)
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    ppt = init_prompt(backbone, 4, "vocab", seed=5)
    ppt.info = {"task": "ppt-sentence_sentiment5"}
    stored = bank.add(ppt, kind="pretrained", tags=[FORMAT_TAG + "sentence_sentiment5"])
    spec = TransferSpec(target="rotten_tomatoes", strategy="delta-average", k=2, by="zero-shot", base="pretrained",
                        backbone=backbone.name, shots=2, prompt_length=4, dtype="float32", test_size=8, train=TINY)
    result = transfer_run(spec, bank, progress=False)
    assert result.lineage["base"] == "pretrained" and result.lineage["base_prompt"] == stored.id
    assert stored.id not in result.lineage["sources"]  # a pre-trained prompt is a base, never a source
    deltas = bank.stack(backbone.name, ids=result.lineage["sources"], length_policy="truncate", length=4, delta=True)[0]
    vector = weighted_average_init(deltas, result.lineage["scores"])[0]
    torch.testing.assert_close(result.prompt.init_tensor, ppt.tensor + result.lineage["lambda"] * vector)
    bank.close()
