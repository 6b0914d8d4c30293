"""Zero-shot scoring of 50 source prompts on a 200-example dev set: many prompts per forward pass
(`accuracy_of_many`, what retrieval by zero-shot transfer uses) vs 50 separate evaluations (`evaluate` once
per prompt), in one process, on the same backbone and data. Both give the same accuracies (checked).

    python bench/zero_shot.py [--backbone minilm-l6] [--prompts 50] [--examples 200] [--task rotten_tomatoes]
"""

from __future__ import annotations

import argparse
import time

import torch
from rich.console import Console
from rich.table import Table

from promptbank import scoring
from promptbank.backbones import load_backbone
from promptbank.scoring.evaluate import accuracy_of_many, evaluate
from promptbank.tasks import get_task, split
from promptbank.tuning.init import init_prompt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="minilm-l6")
    parser.add_argument("--prompts", type=int, default=50)
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--task", default="rotten_tomatoes")
    args = parser.parse_args()
    backbone = load_backbone(args.backbone)
    task = get_task(args.task)
    dev = split(task).validation[:args.examples]
    prompts = torch.stack([init_prompt(backbone, 20, "vocab", seed=s).tensor for s in range(args.prompts)])
    items = scoring.encode(backbone, task, dev)
    evaluate(backbone, prompts[0], items[:8])  # warm up both paths once
    start = time.perf_counter()
    together = accuracy_of_many(backbone, prompts, items)
    batched = time.perf_counter() - start
    start = time.perf_counter()
    separate = [evaluate(backbone, prompt, items).accuracy for prompt in prompts]
    looped = time.perf_counter() - start
    assert torch.allclose(together, torch.tensor(separate), atol=1 / len(items) + 1e-6)
    table = Table("way", "seconds", "prompt-examples/s", "speed-up",
                  title=f"zero-shot scoring: {args.prompts} prompts × {len(items)} {args.task} dev examples, "
                        f"{args.backbone}")
    pairs = args.prompts * len(items)
    table.add_row(f"{args.prompts} separate evaluations", f"{looped:.1f}", f"{pairs / looped:.0f}", "1.00")
    table.add_row("many prompts per pass", f"{batched:.1f}", f"{pairs / batched:.0f}", f"{looped / batched:.2f}")
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
