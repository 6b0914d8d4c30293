"""A transfer run end to end: retrieve the bank's source prompts for a target, build the target's initial prompt
from them (or a baseline init), train it on the same budget a baseline gets, and evaluate it on test."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from promptbank.backbones import DEFAULT_BACKBONE, Backbone, load_backbone
from promptbank.bank import PromptBank
from promptbank.errors import BadArgumentError
from promptbank.pretraining.run import PRETRAINED_INITS
from promptbank.scoring.evaluate import Evaluation, accuracy_of_many, evaluate, evaluate_each
from promptbank.tasks import get_task
from promptbank.transfer.inits import (
    BASELINES,
    BASES,
    TASK_VECTOR_STRATEGIES,
    best_of_k_init,
    check_choice,
    delta_init,
    mixture_init,
    weighted_average_init,
)
from promptbank.transfer.guard import Verdict, check_alpha, fallback_for, judge
from promptbank.transfer.mixture import AttentionMixture, LearnedMixture, input_features
from promptbank.transfer.retrieval import Ranked, Retrieval, retrieve
from promptbank.transfer.similarity import COMPARED
from promptbank.transfer.staged import PREFILTER, check_stages
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.init import init_prompt
from promptbank.tuning.loop import Job, TrainResult, train_many
from promptbank.tuning.prompt import SoftPrompt
from promptbank.tuning.run import TargetData, check_sizes, pretrained_start, run_info, target_data


@dataclass(frozen=True)
class TransferSpec:
    target: str
    strategy: str = "weighted-average"  # or best-of-k, mixture; random, vocab, labels are the baselines
    k: int = 3
    by: str = "similarity"  # or "zero-shot", or "staged" (similarity prefilter, then successive halving on dev)
    metric: str = "spot-avg-cosine"
    on: str = "delta"  # what similarity compares: task vectors (prompt - init), or the prompts (the ON metric: always)
    base: str = "target"  # delta-average and delta-best: the target's own init, the sources' init, or its PPT prompt
    backbone: str = DEFAULT_BACKBONE
    shots: int | None = 16
    prompt_length: int = 20
    embedding_steps: int = 30  # training of the target's task embedding (retrieval by similarity)
    prefilter: int = PREFILTER  # staged retrieval: the prompts most similar to the task embedding that are scored
    guard: float | None = None  # a level: start from random init unless the best source is above the dev floor
    probe_steps: int = 10  # per source, for best-of-k
    mixture_steps: int = 60  # training on the sources' mixed data, for mixture
    dtype: str = "auto"
    test_size: int | None = None
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        check_choice(self.strategy, self.k, self.by)
        if self.on not in COMPARED:
            raise BadArgumentError(f"--on must be one of {', '.join(COMPARED)}, not {self.on!r}.")
        if self.base not in BASES:
            raise BadArgumentError(f"--base must be one of {', '.join(BASES)}, not {self.base!r}.")
        check_sizes(self.shots, self.prompt_length, self.test_size)
        if self.by == "staged":
            check_stages(self.k, self.prefilter)
        check_alpha(self.guard)
        object.__setattr__(self, "train", self.train.for_backbone(self.backbone))  # the recipe, as the CLI gets it


@dataclass
class TransferResult:
    prompt: SoftPrompt
    ranking: list[Ranked]  # every candidate source, best first (empty for baselines)
    lineage: dict
    training: TrainResult
    test: Evaluation
    majority: float


def transfer_start(spec: TransferSpec, backbone: Backbone, bank: PromptBank, data: TargetData,
                   retrieval: Retrieval | None = None,
                   progress: bool = False) -> tuple[SoftPrompt | LearnedMixture, list[Ranked], dict]:
    """The prompt a transfer run starts from, as `spec` says: a baseline init, a pre-trained prompt, or the bank's
    retrieved sources combined by the strategy (for learned-mixture, the parameterisation that trains the mixture).
    Returned with the ranking (empty unless retrieved) and lineage."""
    seed = spec.train.seed
    if spec.strategy in BASELINES:
        return init_prompt(backbone, spec.prompt_length, spec.strategy, seed=seed, task=data.task), [], {
            "method": spec.strategy, "sources": []}
    if spec.strategy in PRETRAINED_INITS:
        start = pretrained_start(bank, backbone, data.task, spec.strategy, spec.prompt_length)
        return start, [], {"method": spec.strategy, "sources": [start.source]}
    retrieval = retrieval or retrieve(spec, backbone, bank, data)
    chosen, top = retrieval.top(spec.k)
    lineage = {"method": spec.strategy, "sources": [r.record.id for r in top], "by": spec.by,
               "metric": spec.metric if spec.by != "zero-shot" else None, "scores": [r.score for r in top],
               "evaluations": retrieval.evaluations}
    if spec.by == "staged":
        lineage["prefilter"] = spec.prefilter
    random = init_prompt(backbone, spec.prompt_length, "random", seed=seed)
    if spec.guard is not None:
        verdict = guard_verdict(spec, backbone, data, retrieval, chosen)
        lineage["guard"] = verdict.as_lineage()
        if not verdict.fits:  # no source fits: what the strategy would add them to, alone
            fallback = fallback_for(spec.strategy, spec.base)
            start = random if fallback == "random" else pretrained_start(bank, backbone, data.task, fallback,
                                                                         spec.prompt_length)
            return start, retrieval.ranking, lineage | {"retrieved": lineage["sources"], "sources": (
                [] if fallback == "random" else [start.source]), "fallback": fallback}
    if spec.strategy in TASK_VECTOR_STRATEGIES:
        ids = [r.record.id for r in top]
        deltas = bank.stack(backbone.name, ids=ids, length_policy="truncate", length=spec.prompt_length, delta=True,
                            loaded=backbone)[0]
        if spec.strategy in ("learned-mixture", "attention-mixture"):  # the target's init plus a trained mixture
            start = SoftPrompt(random.tensor, backbone.name, backbone.tokenizer_fingerprint, spec.strategy,
                               source=",".join(ids))
            if spec.strategy == "learned-mixture":
                return LearnedMixture(start, deltas), retrieval.ranking, lineage
            return AttentionMixture(start, deltas, input_features(backbone, data.train_items),
                                    input_features(backbone, data.dev_items), seed=seed), retrieval.ranking, lineage
        if spec.base == "pretrained":  # PPT plus transfer: the sources' task vectors on the PPT prompt
            pretrained = pretrained_start(bank, backbone, data.task, "pretrained", spec.prompt_length)
            base, lineage["base_prompt"] = pretrained.tensor, pretrained.source
        else:
            base = random.tensor if spec.base == "target" else (chosen - deltas).mean(0)  # the sources' own init
        if spec.strategy == "delta-average":
            vector, lineage["weights"] = weighted_average_init(deltas, [r.score for r in top])
        else:
            vector = deltas[0]
        tensor, lineage["lambda"], lineage["lambda_dev_accuracy"] = delta_init(backbone, base, vector, data.dev_items)
        lineage["base"] = spec.base
    elif spec.strategy == "weighted-average":
        tensor, lineage["weights"] = weighted_average_init(chosen, [r.score for r in top])
    elif spec.strategy == "best-of-k":
        tensor, best, probes = best_of_k_init(backbone, data.train_items, data.dev_items, chosen, random,
                                              spec.train, spec.probe_steps, progress)
        lineage |= {"chosen": top[best].record.id, "probe_dev_accuracy": probes,
                    "extra_steps": spec.probe_steps * len(top)}
    else:
        mixed = list(dict.fromkeys(r.record.task for r in top))
        tensor = mixture_init(backbone, mixed, spec.shots or 16, random, spec.train, spec.mixture_steps, progress)
        lineage |= {"mixed_tasks": mixed, "extra_steps": spec.mixture_steps}
    start = SoftPrompt(tensor, backbone.name, backbone.tokenizer_fingerprint, spec.strategy,
                       source=",".join(lineage["sources"]))
    return start, retrieval.ranking, lineage


def guard_verdict(spec: TransferSpec, backbone: Backbone, data: TargetData, retrieval: Retrieval,
                  chosen: torch.Tensor) -> Verdict:
    """The guard on the retrieved sources: by zero-shot, the best of every source the ranking scored on dev; by
    similarity, the best of the top k, scored on dev here (their similarity says nothing about dev accuracy)."""
    labels = [item.label for item in data.dev_items]
    if spec.by == "zero-shot":
        return judge(retrieval.ranking[0].score, labels, len(retrieval.ranking), spec.guard)
    scores = accuracy_of_many(backbone, chosen, data.dev_items, progress=False)
    return judge(float(scores.max()), labels, len(chosen), spec.guard)


def trained_lineage(start: SoftPrompt | LearnedMixture, lineage: dict) -> dict:
    """The lineage with what training chose, where the start learns its mixture (it is left at its best state)."""
    return lineage | start.learned() if isinstance(start, LearnedMixture) else lineage


def transfer_job(start: SoftPrompt | LearnedMixture, data: TargetData) -> Job:
    """The training job of a transfer start on the target's data: a per-example mixture's items read their own rows."""
    if isinstance(start, AttentionMixture):
        return start.job(data.train_items, data.dev_items)
    return Job(data.train_items, data.dev_items, start)


def transfer_test(backbone: Backbone, start: SoftPrompt | LearnedMixture, prompt: torch.Tensor, items: list,
                  batch_size: int = 32, progress: bool | str = False) -> Evaluation:
    """A trained start on the test items: a per-example mixture (left at its best state) makes each input's own
    prompt; any other is its trained `prompt`."""
    if isinstance(start, AttentionMixture):
        with torch.no_grad():
            prompts = start.prompts_for(input_features(backbone, items))
        return evaluate_each(backbone, prompts, items, batch_size, progress)
    return evaluate(backbone, prompt, items, batch_size, progress)


def transfer_run(spec: TransferSpec, bank: PromptBank, progress: bool = True, data: TargetData | None = None,
                 retrieval: Retrieval | None = None) -> TransferResult:
    """Initialise the target's prompt from the bank as `spec` says, train it on the same budget as a baseline
    would get, evaluate it, and return it with its lineage (the caller stores it).

    `data` and `retrieval`, when given, must come from the same target, seed and retrieval settings: they let
    several strategies share one encoding of the target and one ranking.
    """
    get_task(spec.target)
    backbone = load_backbone(spec.backbone, spec.dtype)
    data = data or target_data(backbone, spec.target, spec.shots, spec.train.seed, test_size=spec.test_size)
    start, ranking, lineage = transfer_start(spec, backbone, bank, data, retrieval, progress)
    training = train_many(backbone, [transfer_job(start, data)], spec.train, progress=progress)[0]
    lineage = trained_lineage(start, lineage)
    test = transfer_test(backbone, start, training.prompt.tensor, data.test_items, spec.train.eval_batch_size)
    if isinstance(start, AttentionMixture):  # what the stored prompt (the train items' mean) scores, beside it
        lineage["stored_prompt_test_accuracy"] = evaluate(backbone, training.prompt.tensor, data.test_items,
                                                          spec.train.eval_batch_size).accuracy
    training.prompt.info = run_info(data, spec.shots, spec.train, spec.dtype, training, test) | {"lineage": lineage}
    return TransferResult(training.prompt, ranking, lineage, training, test, data.majority)
