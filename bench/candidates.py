"""Multiple choice with answer texts: each example's input read once and its candidates read after it (what
scoring does) vs every candidate read with its own copy of the input (one row per candidate, the same code with
no rows grouped), in one process, on the same backbone, prompt and examples: scoring, and a training step
(forward and backward). Prints the speed-ups and how far the two ways' scores differ.

    python bench/candidates.py [--backbone smollm2-135m] [--task social_iqa] [--examples 64] [--batch 8]
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import torch
from rich.console import Console
from rich.table import Table

from promptbank import scoring
from promptbank.backbones import load_backbone
from promptbank.scoring import causal
from promptbank.scoring.rows import score_rows
from promptbank.tasks import get_task, split
from promptbank.tuning.init import init_prompt


def per_candidate(backbone, prompts, prompt_of, items):
    """Every row its own group: the input is read again for each candidate."""
    return score_rows(backbone, prompts, prompt_of, items,
                      partial(causal._logits_at, row_example=list(range(sum(item.n_rows for item in items)))))


def timed(way, backbone, prompt, batches, train: bool) -> tuple[float, torch.Tensor]:
    scores, start = [], time.perf_counter()
    for items in batches:
        prompt_of = torch.zeros(len(items), dtype=torch.long)
        with torch.set_grad_enabled(train):
            s = way(backbone, prompt[None], prompt_of, items)
            if train:
                s.log_softmax(-1)[torch.arange(len(items)), scoring.labels_of(items)].sum().backward()
        scores.append(s.detach())
    scores = torch.cat(scores).cpu()  # waits for a GPU to finish before the clock is read
    return time.perf_counter() - start, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="smollm2-135m")
    parser.add_argument("--task", default="social_iqa")
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    backbone = load_backbone(args.backbone)
    task = get_task(args.task)
    items = scoring.encode(backbone, task, split(task).validation[:args.examples])
    batches = [items[i:i + args.batch] for i in range(0, len(items), args.batch)]
    prompt = init_prompt(backbone, 20, "vocab").tensor.requires_grad_()
    timed(causal.score, backbone, prompt, batches[:1], False)  # warm up
    table = Table("work", "per candidate (s)", "input once (s)", "speed-up", "max |score difference|",
                  "same prediction",
                  title=f"{args.task}: {len(items)} examples, {sum(i.n_rows for i in items)} candidate rows, batch "
                        f"{args.batch}, {args.backbone} ({backbone.dtype}, {backbone.device})")
    for work, train in (("scoring", False), ("training step", True)):
        slow, reference = timed(per_candidate, backbone, prompt, batches, train)
        fast, scores = timed(causal.score, backbone, prompt, batches, train)
        finite = torch.isfinite(reference)
        same = (scores.argmax(-1) == reference.argmax(-1)).float().mean().item()
        table.add_row(work, f"{slow:.1f}", f"{fast:.1f}", f"{slow / fast:.2f}",
                      f"{(scores[finite] - reference[finite]).abs().max().item():.3f}", f"{same:.1%}")
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
