"""Training K prompts together (`train_many`: all K share each step's passes) vs K `train_prompt` runs one after
the other, in one process, on the same backbone, jobs and batches. All give the same prompts (checked).
`train_many` runs twice: with passes of `--pass-size` examples of similar length, and with one pass a step of all
K batches (what a GPU may prefer; on a CPU padding every example to the step's longest costs more).

The K jobs are K seeds of one task, as `bank build --seeds` makes them: each seed its own few-shot sample, start
and batch order. The default backbone is a proxy, a randomly initialised Llama shaped like a small SmolLM2 (the
bundled MiniLM tokenizer's vocabulary), so the comparison runs in seconds; `--backbone smollm2-135m` times the real
one. Threads are torch's default: set OMP_NUM_THREADS to pin them.

    python bench/train_many.py [--backbone proxy] [--prompts 8] [--steps 10] [--pass-size 32] [--task ...]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from proxy import write_proxy
from rich.console import Console
from rich.table import Table

from promptbank.backbones import load_backbone
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.init import init_prompt
from promptbank.tuning.loop import Job, train_many, train_prompt
from promptbank.tuning.run import target_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="proxy", help="proxy, or a bundled backbone / model directory")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--pass-size", type=int, default=32)
    parser.add_argument("--shots", type=int, default=16)
    parser.add_argument("--prompt-length", type=int, default=20)
    parser.add_argument("--task", default="movie_sentences")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as proxy_dir:
        backbone = (load_backbone(str(write_proxy(Path(proxy_dir))), "float32") if args.backbone == "proxy"
                    else load_backbone(args.backbone, args.dtype))
        jobs = []
        for seed in range(args.prompts):
            data = target_data(backbone, args.task, args.shots, seed)
            jobs.append(Job(data.train_items, data.dev_items, init_prompt(backbone, args.prompt_length, seed=seed),
                            seed))
        config = TrainConfig(steps=args.steps, eval_every=args.steps, patience=0)  # evaluated at the start and end
        train_prompt(backbone, jobs[0].train_items, jobs[0].dev_items[:8], jobs[0].start, replace(config, steps=1),
                     progress=False)  # warm up once
        start = time.perf_counter()
        separate = [train_prompt(backbone, job.train_items, job.dev_items, job.start, replace(config, seed=job.seed),
                                 progress=False) for job in jobs]
        looped = time.perf_counter() - start
        ways = {f"train_many, passes of {args.pass_size}": args.pass_size,
                "train_many, one pass a step": args.prompts * config.batch_size}
        seconds, gap = {f"{args.prompts} train_prompt runs": looped}, 0.0
        for way, pass_size in ways.items():
            start = time.perf_counter()
            together = train_many(backbone, jobs, config, progress=False, pass_size=pass_size,
                                  pass_tokens=math.inf)  # the example count alone sets the passes
            seconds[way] = time.perf_counter() - start
            gap = max([gap] + [(a.prompt.tensor - b.prompt.tensor).abs().max().item()
                               for a, b in zip(together, separate)])
    # in float32 the two ways must agree; bfloat16 rounds differently for different pass shapes (on a GPU the
    # matrix kernels change with them), and ten Adam steps carry that rounding into the prompts
    exact = backbone.dtype == torch.float32
    assert gap < 1e-3 or not exact, f"train_many and train_prompt disagree by {gap}"
    prompt_steps = args.prompts * args.steps
    table = Table("way", "seconds", "prompt-steps/s", "speed-up",
                  title=f"training {args.prompts} prompts × {args.steps} steps, {args.task} {args.shots}-shot, "
                        f"{args.backbone} ({str(backbone.dtype).removeprefix('torch.')}, {backbone.device}), "
                        f"{torch.get_num_threads()} threads")
    for way, took in seconds.items():
        table.add_row(way, f"{took:.1f}", f"{prompt_steps / took:.2f}", f"{looped / took:.2f}")
    console = Console(width=140)
    console.print(table)
    console.print(f"largest difference between train_many's and train_prompt's prompts: {gap:.1e}"
                  + ("" if exact else " (bfloat16 rounding; --dtype float32 checks that they agree)"))


if __name__ == "__main__":
    main()
