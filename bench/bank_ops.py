"""Bank operations at scale: list/filter and stack over 10,000 prompts (L=20, d=576).

Targets: list/filter < 100 ms, stack < 2 s. Side by side, the same queries answered the naive way, from a
folder of 10,000 saved prompt directories (prompt.json + prompt.safetensors each) read from disk.

    python bench/bank_ops.py [--n 10000]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from promptbank.bank import PromptBank
from promptbank.tuning.prompt import SoftPrompt, load_prompt, save_prompt

TASKS = ["movie_sentences", "rotten_tomatoes", "tweet_sentiment", "bbc_news", "vitaminc", "fever", "winowhy"]


def make_prompts(n: int) -> list[SoftPrompt]:
    rng = random.Random(0)
    prompts = []
    for i in range(n):
        accuracy = round(rng.random(), 4)
        prompts.append(SoftPrompt(torch.randn(20, 576), "smollm2-135m", "f" * 16, "random", info={
            "task": TASKS[i % len(TASKS)], "task_format": "single", "labels": ["negative", "positive"],
            "data_fingerprint": f"{i:016x}", "metrics": {"dev": {"accuracy": accuracy}, "test": {"accuracy": accuracy}},
            "training": {"steps": 100, "lr": 0.3, "seed": i},
            "curve": [{"step": s, "train_loss": 0.5, "dev_accuracy": accuracy, "wall_seconds": s} for s in range(0, 101, 10)]}))
    return prompts


def best_of(runs: int, work) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return min(times), result


def naive_records(folder: Path) -> list[dict]:
    return [json.loads((d / "prompt.json").read_text()) for d in sorted(folder.iterdir())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    args = parser.parse_args()
    console = Console(width=140)
    prompts = make_prompts(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        root, folder = Path(tmp) / "bank", Path(tmp) / "dirs"
        start = time.perf_counter()
        with PromptBank(root, create=True) as bank:
            for i in range(0, args.n, 1000):
                bank.add_many(prompts[i:i + 1000], tags=["bench"] if i == 0 else ())
        console.print(f"built a bank of {args.n} prompts in {time.perf_counter() - start:.1f} s")
        for i, prompt in enumerate(prompts):
            save_prompt(prompt, folder / f"{i:05d}")

        rows = []
        with PromptBank(root) as bank:
            queries = {
                "list all": (lambda: bank.list(),
                             lambda: naive_records(folder)),
                "filter task + dev.accuracy >= 0.5, sort by test.accuracy": (
                    lambda: bank.list(task="vitaminc", min_metric=("dev.accuracy", 0.5), sort="test.accuracy",
                                      descending=True),
                    lambda: sorted((r for r in naive_records(folder) if r["task"] == "vitaminc"
                                    and r["metrics"]["dev"]["accuracy"] >= 0.5),
                                   key=lambda r: -r["metrics"]["test"]["accuracy"])),
                "filter tag": (lambda: bank.list(tag="bench"), None),
            }
            for name, (ours, naive) in queries.items():
                ours_s, ours_result = best_of(5, ours)
                naive_s, naive_result = best_of(2, naive) if naive else (None, None)
                if naive_result is not None:
                    assert len(ours_result) == len(naive_result)
                rows.append((name, len(ours_result), ours_s, naive_s, 0.100))
            stack_s, (stacked, _) = best_of(3, lambda: bank.stack("smollm2-135m"))
            naive_stack_s, naive_stacked = best_of(1, lambda: torch.stack([load_prompt(d).tensor
                                                                            for d in sorted(folder.iterdir())]))
            assert stacked.shape == naive_stacked.shape == (args.n, 20, 576)
            rows.append(("stack (N, 20, 576)", args.n, stack_s, naive_stack_s, 2.0))
    table = Table("operation", "results", "promptbank (ms)", "folder scan (ms)", "speed-up", "target (ms)", "met",
                  title=f"bank operations over {args.n} prompts (best of several runs)")
    for name, count, ours_s, naive_s, target in rows:
        table.add_row(name, str(count), f"{ours_s * 1000:.1f}", "-" if naive_s is None else f"{naive_s * 1000:.0f}",
                      "-" if naive_s is None else f"{naive_s / ours_s:.1f}x", f"{target * 1000:.0f}",
                      "yes" if ours_s < target else "NO")
    console.print(table)


if __name__ == "__main__":
    main()
