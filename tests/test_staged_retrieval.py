"""Staged retrieval: a similarity prefilter, then successive halving of zero-shot dev accuracy.

Most tests replace the zero-shot scorer with a table of known hits (prompt × dev example), so the true ranking is
known and every scored pair is seen; one runs the real scorer on a tiny causal model.
"""

import math

import pytest
import torch

from promptbank import scoring
from promptbank.transfer import staged as staged_retrieval
from promptbank.backbones import load_backbone
from promptbank.bank import PromptRecord
from promptbank.errors import BadArgumentError
from promptbank.scoring.evaluate import accuracy_of_many
from promptbank.transfer.retrieval import rank_by_zero_shot
from promptbank.transfer.similarity import similarity_matrix
from promptbank.transfer.staged import rank_staged
from promptbank.tuning.init import init_prompt

N, DEV, WINNERS = 300, 128, (17, 123, 250)  # the planted winners answer 95% of the dev set, the others 20-60%


def records(n: int) -> list[PromptRecord]:
    return [PromptRecord(id=f"p{i:04d}", name=f"p{i}", task=f"task{i}", task_format="single", backbone="fake",
                         hidden_size=8, tokenizer_fingerprint="f", length=4, init="random", data_fingerprint=None,
                         created="", kind="task", blob="", labels=[], lineage={}, metrics={}) for i in range(n)]


class Table:
    """Known hits per (prompt, dev example) standing in for the model; records every pair it is asked to score."""

    def __init__(self, prompts: torch.Tensor, hits: torch.Tensor) -> None:
        self.index = {p.numpy().tobytes(): i for i, p in enumerate(prompts)}
        self.hits, self.calls = hits, []

    def __call__(self, _backbone, prompts: torch.Tensor, items: list, _batch_rows: int = 64) -> torch.Tensor:
        ids = [self.index[p.numpy().tobytes()] for p in prompts]
        self.calls.append((ids, list(items)))
        return self.hits[ids][:, items].float().mean(1)

    def pairs(self) -> list[tuple[int, int]]:
        return [(i, j) for ids, items in self.calls for i in ids for j in items]


@pytest.fixture
def planted(monkeypatch) -> tuple[torch.Tensor, Table]:
    generator = torch.Generator().manual_seed(0)
    prompts = torch.randn(N, 4, 8, generator=generator)
    rate = 0.2 + 0.4 * torch.rand(N, 1, generator=generator)
    rate[list(WINNERS)] = torch.tensor([[0.97], [0.95], [0.93]])
    table = Table(prompts, torch.rand(N, DEV, generator=generator) < rate)
    monkeypatch.setattr(staged_retrieval, "accuracy_of_many", table)
    return prompts, table


def true_top(table: Table, k: int) -> list[str]:
    accuracy = table.hits.float().mean(1)
    return [f"p{i:04d}" for i in sorted(range(N), key=lambda i: -float(accuracy[i]))[:k]]


@pytest.mark.parametrize("seed", range(4))
def test_finds_the_true_top_k_for_a_fraction_of_the_cost(planted, seed):
    prompts, table = planted
    result = rank_staged(None, prompts, records(N), list(range(DEV)), None, k=3, start=8, seed=seed)
    assert sorted(r.record.id for r in result.ranking[:3]) == sorted(true_top(table, 3))
    assert [r.score for r in result.ranking[:3]] == pytest.approx(
        [float(table.hits[int(r.record.id[1:])].float().mean()) for r in result.ranking[:3]])
    assert result.evaluations == len(table.pairs()) < result.exhaustive_evaluations / 5


def test_rounds_halve_the_pool_and_grow_nested_subsets_without_rescoring(planted):
    prompts, table = planted
    result = rank_staged(None, prompts, records(N), list(range(DEV)), None, k=3, start=8, eta=2, final=8, seed=1)
    assert [(s.prompts, s.examples) for s in result.stages] == [(300, 8), (150, 16), (75, 32), (38, 64), (19, 128)]
    assert [s.evaluations for s in result.stages] == [300 * 8, 150 * 8, 75 * 16, 38 * 32, 19 * 64]
    pairs = table.pairs()
    assert len(pairs) == len(set(pairs))  # no prompt×example pair scored twice
    seen: dict[int, list[int]] = {}
    for i, j in pairs:
        seen.setdefault(i, []).append(j)
    for i, items in seen.items():  # each prompt saw a prefix of the seeded dev order: the subsets are nested
        assert items == result.dev_order[:len(items)]
    assert sorted(result.dev_order) == list(range(DEV))
    assert len(result.ranking) == N and len({r.record.id for r in result.ranking}) == N
    # survivors first (whole dev set), then each round's losers, later rounds first, each by score
    assert result.examples == [128] * 19 + [64] * 19 + [32] * 37 + [16] * 75 + [8] * 150
    for n in (128, 64, 32, 16, 8):
        scores = [r.score for r, e in zip(result.ranking, result.examples) if e == n]
        assert scores == sorted(scores, reverse=True)
    for ranked, n in zip(result.ranking, result.examples):
        i = int(ranked.record.id[1:])
        assert ranked.score == pytest.approx(float(table.hits[i, result.dev_order[:n]].float().mean()))


def test_a_small_pool_is_scored_on_the_whole_dev_set_at_once(planted):
    prompts, table = planted
    result = rank_staged(None, prompts[:6], records(6), list(range(DEV)), None, k=3, final=8)
    assert [(s.prompts, s.examples) for s in result.stages] == [(6, DEV)]
    accuracy = table.hits[:6].float().mean(1)
    assert [r.score for r in result.ranking] == pytest.approx(sorted(accuracy.tolist(), reverse=True))


def test_same_seed_same_ranking_other_seed_other_subsets(planted):
    prompts, _ = planted
    run = lambda seed: rank_staged(None, prompts, records(N), list(range(DEV)), None, start=8, seed=seed)
    first, again, other = run(3), run(3), run(4)
    assert first == again
    assert first.dev_order != other.dev_order
    assert [r.record.id for r in first.ranking] != [r.record.id for r in other.ranking]


def test_prefilter_keeps_the_most_similar_and_never_scores_the_rest(planted):
    prompts, table = planted
    target = torch.randn(4, 8, generator=torch.Generator().manual_seed(5))
    result = rank_staged(None, prompts, records(N), list(range(DEV)), target, metric="spot-avg-cosine", k=3,
                         prefilter=40, start=8, final=8)
    similarity = similarity_matrix("spot-avg-cosine", target.unsqueeze(0), prompts)[0]
    most_similar = set(similarity.topk(40).indices.tolist())
    assert {i for i, _ in table.pairs()} == most_similar
    assert result.prefiltered == 40 and result.stages[0].prompts == 40
    dropped = result.ranking[40:]
    assert all(math.isnan(r.score) for r in dropped) and result.examples[40:] == [0] * (N - 40)
    dropped_similarity = [float(similarity[int(r.record.id[1:])]) for r in dropped]
    assert dropped_similarity == sorted(dropped_similarity, reverse=True)
    assert {int(r.record.id[1:]) for r in result.ranking[:40]} == most_similar


def test_real_scorer_on_a_tiny_model(tiny_dirs, toy_task):
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    items = scoring.encode(backbone, toy_task, toy_task.examples[:24])
    prompts = torch.stack([init_prompt(backbone, 4, "random", seed=s).tensor * 20 for s in range(12)])
    found = records(12)
    exhaustive = {r.record.id: r.score for r in rank_by_zero_shot(backbone, prompts, found, items)}
    everything = rank_staged(backbone, prompts, found, items, None, k=3, final=12, prefilter=12)
    assert {r.record.id: r.score for r in everything.ranking} == pytest.approx(exhaustive)
    staged = rank_staged(backbone, prompts, found, items, prompts[0], k=2, prefilter=10, start=4, final=2)
    assert [(s.prompts, s.examples) for s in staged.stages] == [(10, 4), (5, 8), (3, 16), (2, 24)]
    assert staged.evaluations == 10 * 4 + 5 * 4 + 3 * 8 + 2 * 8 < 12 * 24
    full = accuracy_of_many(backbone, prompts, items)
    for ranked in staged.ranking[:2]:  # survivors' accumulated counts are their accuracy on the whole dev set
        assert ranked.score == pytest.approx(float(full[int(ranked.record.id[1:])]))


@pytest.mark.parametrize("change, words", [
    ({"k": 0}, "1 ≤ k ≤ final ≤ prefilter"), ({"k": 9}, "1 ≤ k ≤ final ≤ prefilter"),
    ({"prefilter": 4}, "1 ≤ k ≤ final ≤ prefilter"), ({"eta": 1}, "eta ≥ 2"), ({"start": 0}, "start=0"),
    ({"metric": "nope"}, "Unknown similarity metric"), ({"dev_items": []}, "dev items"),
    ({"records": records(3)}, "one record each"), ({"prompts": torch.zeros(5, 8)}, "(N, L, d)"),
    ({"task_embedding": torch.zeros(4, 7)}, "task embedding"),
])
def test_bad_arguments_are_refused_in_one_sentence(planted, change, words):
    prompts, table = planted
    arguments = {"prompts": prompts[:5], "records": records(5), "dev_items": list(range(DEV)),
                 "task_embedding": None} | change
    with pytest.raises(BadArgumentError) as error:
        rank_staged(None, **arguments)
    assert words in str(error.value) and str(error.value).count(". ") == 0 and not table.calls
