"""Staged retrieval (similarity prefilter, then successive halving of zero-shot dev accuracy) against exhaustive
zero-shot ranking (every prompt on the whole dev set), same backbone, target and prompts, in one run.

A bank with fewer real prompts than a part needs is padded with copies made from them, labelled as such in the
output: noisy copies (P + σ·rms(P)·ε, σ drawn from 0.1-1.0) and interpolations of two real prompts
(αP_a + (1-α)P_b plus a little noise). bench/retrieval-bank.sh builds a bank of 72 real few-shot prompts (18 tasks
× 4 seeds), which part (a) then ranks with no copies.
(a) every real prompt, padded to at least --prompts (64): exhaustive ranking once, staged ranking for --seeds
    seeds (the dev subsets differ), wall times, prompt×example evaluations, and whether the top 3 agree (by id,
    and by whole-dev accuracy, which ties do not upset).
(b) --big (10,000): the same prompts and more copies; staged retrieval timed (target < 60 s); exhaustive ranking at
    this size takes hours, so it is extrapolated from (a)'s measured seconds per prompt (labelled so).
The task embedding for the prefilter is a target prompt trained --embedding-steps steps from random init, as
retrieval by similarity does (30 there).

    python bench/retrieval.py [--backbone smollm2-135m] [--bank banks/smollm2-135m-full] [--target rotten_tomatoes]
                              [--shots 16] [--prompts 64] [--big 10000] [--seeds 3] [--embedding-steps 30]
    cheaper:                  --embedding-steps 5 --seeds 2 --big 2000 (or --backbone with a smaller bank)
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from promptbank.backbones import load_backbone
from promptbank.bank import PromptBank, PromptRecord
from promptbank.transfer.retrieval import rank_by_zero_shot, sources_for
from promptbank.transfer.similarity import similarity_matrix
from promptbank.transfer.staged import FINAL, PREFILTER, START, rank_staged
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.init import init_prompt
from promptbank.tuning.loop import train_prompt
from promptbank.tuning.run import target_data

LENGTH = 20


def copies(real: torch.Tensor, records: list[PromptRecord], n: int,
           seed: int) -> tuple[torch.Tensor, list[PromptRecord]]:
    """n prompts made from the real ones: noisy copies and interpolations of two, alternately; each record names
    what it was made from (id "copy…", name "noisy(task, σ)" or "mix(task α, task)")."""
    generator = torch.Generator().manual_seed(seed)
    rms = real.pow(2).mean(dim=(1, 2)).sqrt()
    out, made = torch.empty(n, *real.shape[1:]), []
    for i in range(n):
        a, b = torch.randint(len(real), (2,), generator=generator).tolist()
        noise = torch.randn(real.shape[1:], generator=generator)
        if i % 2 == 0 or len(real) == 1:
            sigma = 0.1 + 0.9 * float(torch.rand(1, generator=generator))
            out[i], name = real[a] + sigma * rms[a] * noise, f"noisy({records[a].task}, σ={sigma:.2f})"
        else:
            alpha = float(torch.rand(1, generator=generator))
            out[i] = alpha * real[a] + (1 - alpha) * real[b] + 0.05 * rms[a] * noise
            name = f"mix({records[a].task} {alpha:.2f}, {records[b].task})"
        made.append(replace(records[a], id=f"copy{seed:02d}-{i:05d}", name=name))
    return out, made


def timed(work):
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def label(record: PromptRecord) -> str:
    return record.name if record.id.startswith("copy") else f"REAL {record.task}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="smollm2-135m")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--bank", type=Path, default=Path("banks/smollm2-135m-full"))
    parser.add_argument("--target", default="rotten_tomatoes")
    parser.add_argument("--shots", type=int, default=16)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--big", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--embedding-steps", type=int, default=30)
    parser.add_argument("--prefilter", type=int, default=PREFILTER)
    parser.add_argument("--start", type=int, default=START)
    parser.add_argument("--final", type=int, default=FINAL)
    args = parser.parse_args()
    console = Console(width=150)
    console.print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores, "
                  f"{torch.get_num_threads()} torch thread(s): other processes slow every number down")
    backbone = load_backbone(args.backbone, args.dtype)
    data = target_data(backbone, args.target, args.shots, seed=0)
    with PromptBank(args.bank) as bank:
        real, real_records = sources_for(bank, backbone, LENGTH, exclude_task=args.target)
    made, made_records = copies(real, real_records, max(args.prompts - len(real), 0), seed=0)
    prompts, records = torch.cat([real, made]), real_records + made_records
    tasks = Counter(r.task or "?" for r in real_records)
    console.print(f"real source prompts ({len(real)}, from {args.bank}): "
                  f"{', '.join(f'{t} ×{n}' if n > 1 else t for t, n in tasks.items())}; {len(made)} perturbed or "
                  f"interpolated copies")

    config = TrainConfig(steps=args.embedding_steps, eval_every=args.embedding_steps, patience=0, seed=0)
    embedding_s, trained = timed(lambda: train_prompt(backbone, data.train_items, data.dev_items,
                                                      init_prompt(backbone, LENGTH, "random", seed=0), config,
                                                      progress=False))
    embedding = trained.prompt.tensor
    console.print(f"task embedding: {args.target} prompt trained {args.embedding_steps} steps from random init "
                  f"({embedding_s:.1f} s, not counted below); dev set {len(data.dev_items)} examples "
                  f"({args.shots} per class)")
    staged = dict(k=3, prefilter=args.prefilter, start=args.start, final=args.final)

    # (a) exhaustive once, staged per seed
    exhaustive_s, exhaustive = timed(lambda: rank_by_zero_shot(backbone, prompts, records, data.dev_items))
    true_top = exhaustive[:3]
    accuracy = {r.record.id: r.score for r in exhaustive}
    similarity = similarity_matrix("spot-avg-cosine", embedding.unsqueeze(0), prompts)[0]
    similarity_rank = {records[i].id: rank for rank, i in enumerate(similarity.argsort(descending=True).tolist(), 1)}
    table = Table("ranking", "seconds", "prompt×example evaluations", "top 3 (whole-dev accuracy)",
                  "same top 3 (ids)", "same top-3 accuracies",
                  title=f"(a) {len(prompts)} prompts ({len(real)} real) → {args.target}, {args.backbone}")
    pairs = len(prompts) * len(data.dev_items)
    top = lambda ranking: ", ".join(f"{label(r.record)} {accuracy[r.record.id]:.3f}" for r in ranking[:3])
    table.add_row("exhaustive", f"{exhaustive_s:.1f}", f"{pairs}", top(exhaustive), "-", "-")
    staged_seconds = []
    for seed in range(args.seeds):
        seconds, result = timed(lambda: rank_staged(backbone, prompts, records, data.dev_items, embedding, seed=seed,
                                                    **staged))
        staged_seconds.append(seconds)
        found = result.ranking[:3]
        same_ids = {r.record.id for r in found} == {r.record.id for r in true_top}
        same_scores = sorted(accuracy[r.record.id] for r in found) == sorted(r.score for r in true_top)
        table.add_row(f"staged, seed {seed}", f"{seconds:.1f}", f"{result.evaluations} "
                      f"({' → '.join(f'{s.prompts}@{s.examples}' for s in result.stages)})", top(found),
                      "yes" if same_ids else "NO", "yes" if same_scores else "NO")
    console.print(table)
    tied = sum(r.score >= true_top[-1].score for r in exhaustive)
    console.print(f"staged is {exhaustive_s / (sum(staged_seconds) / len(staged_seconds)):.2f}× faster on average; "
                  f"{tied} prompts reach the 3rd-best whole-dev accuracy ({true_top[-1].score:.3f}), so ids can differ "
                  f"on ties; the true top 3 rank {[similarity_rank[r.record.id] for r in true_top]} of {len(prompts)} "
                  f"by spot-avg-cosine to the task embedding (a prefilter of {args.prefilter} keeps the top ones)")

    # (b) the big bank: the prompts above and more copies
    more, more_records = copies(real, real_records, args.big - len(prompts), seed=1)
    big, big_records = torch.cat([prompts, more]), records + more_records
    del more
    seconds, result = timed(lambda: rank_staged(backbone, big, big_records, data.dev_items, embedding, seed=0,
                                                **staged))
    per_prompt = exhaustive_s / len(prompts)
    table = Table("ranking", "seconds", "prompt×example evaluations", "top 3 (whole-dev accuracy)",
                  title=f"(b) {len(big)} prompts ({len(real)} real) → {args.target}, {args.backbone}")
    table.add_row("exhaustive (EXTRAPOLATED from (a): seconds per prompt × N)", f"{per_prompt * len(big):.0f}",
                  f"{result.exhaustive_evaluations}", "-")
    table.add_row(f"staged (prefilter {result.prefiltered}, "
                  f"{' → '.join(f'{s.prompts}@{s.examples}' for s in result.stages)})", f"{seconds:.1f}",
                  f"{result.evaluations}", ", ".join(f"{label(r.record)} {r.score:.3f}" for r in result.ranking[:3]))
    console.print(table)
    kept = {r.record.id for r, n in zip(result.ranking, result.examples) if n}
    console.print(f"target < 60 s: {'met' if seconds < 60 else 'NOT met'} ({seconds:.1f} s); (a)'s true top 3 "
                  f"passed the prefilter: {[r.record.id in kept for r in true_top]}; best whole-dev accuracy in (a) "
                  f"{true_top[0].score:.3f}, staged's best here {result.ranking[0].score:.3f}")


if __name__ == "__main__":
    main()
