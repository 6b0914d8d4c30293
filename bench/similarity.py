"""Similarity matrices of 10,000 random prompts (L=20, d=576) against themselves, every embedding metric.

Target: < 10 s per metric. Each metric is timed in float32 through `similarity_matrix` (row chunks; a set
against itself computes the blocks on and above the diagonal and mirrors them). A metric that misses the
target in float32 is timed in bfloat16 as well, with bfloat16's largest error against float32 on 500 × 500
random prompts and on 500 × 500 related ones. Side by side: the naive alternative, a Python loop over pairs
computing each with a few torch ops (PER_PAIR), timed on a few hundred pairs and extrapolated to the
N(N+1)/2 unordered pairs (labelled as extrapolated). The load average is printed first: other processes on
the machine slow every number down.

    python bench/similarity.py [--n 10000] [--threads T]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table

from promptbank.backbones import bf16_supported
from promptbank.transfer.similarity import EMBEDDING_METRICS, similarity_matrix

TARGET_S = 10.0


def timed(metric: str, prompts: torch.Tensor, dtype: torch.dtype) -> float:
    start = time.perf_counter()
    matrix = similarity_matrix(metric, prompts, prompts, dtype=dtype)
    seconds = time.perf_counter() - start
    assert matrix.shape == (len(prompts), len(prompts)) and not matrix.isnan().any()
    return seconds


# the same metrics for one pair of (L, d) prompts, written the obvious way
PER_PAIR: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "spot-avg-cosine": lambda p, q: F.cosine_similarity(p.mean(0), q.mean(0), dim=0),
    "spot-token-cosine": lambda p, q: (F.normalize(p, dim=-1) @ F.normalize(q, dim=-1).T).mean(),
    "cosine": lambda p, q: F.cosine_similarity(p.flatten(), q.flatten(), dim=0),
    "euclidean": lambda p, q: 1 / (1 + torch.dist(p, q)),
    "token-cosine": lambda p, q: F.cosine_similarity(p, q, dim=-1).mean(),
    "token-euclidean": lambda p, q: (1 / (1 + (p - q).norm(dim=-1))).mean(),
}


def per_pair_seconds(metric: str, prompts: torch.Tensor, pairs: int) -> float:
    """Seconds per pair of the naive alternative: a Python loop over pairs, one small computation each.

    Timed on one thread, which suits such tiny operations best (waking a second thread per op costs more
    than the op), so the loop is not made to look slower than it is.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        PER_PAIR[metric](prompts[0], prompts[1])  # warm-up
        start = time.perf_counter()
        for i in range(pairs):
            PER_PAIR[metric](prompts[i], prompts[i + 1]).item()
        return (time.perf_counter() - start) / pairs
    finally:
        torch.set_num_threads(threads)


def bf16_errors(metric: str, prompts: torch.Tensor) -> tuple[float, float]:
    """Largest |bf16 − fp32| on 500 × 500 random prompts, and on 500 × 500 related ones (a shared base plus
    noise, similarities near 1), where rounding the results to bfloat16 costs the most."""
    base = prompts[:1] * 2
    samples = (prompts[:500], prompts[500:1000]), (base + prompts[:500] * 0.3, base + prompts[500:1000] * 0.3)
    return tuple((similarity_matrix(metric, a, b) - similarity_matrix(metric, a, b, dtype=torch.bfloat16))
                 .abs().max().item() for a, b in samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--pairs", type=int, default=300, help="pairs timed for the per-pair loop")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    console = Console(width=170)
    console.print(f"{os.cpu_count()} CPUs, {args.threads} torch threads, native bfloat16: {bf16_supported()}, "
                  f"load average before the run: {os.getloadavg()[0]:.1f}")
    prompts = torch.randn(args.n, 20, 576, generator=torch.Generator().manual_seed(0))
    unordered = args.n * (args.n + 1) // 2
    table = Table("metric", "float32 (s)", "bfloat16 (s)", "bf16 max |err| vs fp32 (random / related)",
                  f"< {TARGET_S:.0f} s", "per-pair loop, 1 thread (µs/pair)",
                  f"loop, {unordered:,} pairs (s, EXTRAPOLATED)", "loop ÷ best chunked",
                  title=f"{args.n:,} × {args.n:,} similarity matrix, prompts L=20, d=576")
    for metric in EMBEDDING_METRICS:
        fp32 = timed(metric, prompts, torch.float32)
        bf16 = timed(metric, prompts, torch.bfloat16) if fp32 >= TARGET_S else None
        errors = bf16_errors(metric, prompts) if bf16 is not None else None
        best = min(fp32, bf16 or fp32)
        verdict = "yes" if fp32 < TARGET_S else ("bf16 only" if best < TARGET_S else "NO")
        pair = per_pair_seconds(metric, prompts, args.pairs)
        loop = pair * unordered
        error_text = "—" if errors is None else "{:.1e} / {:.1e}".format(*errors)
        table.add_row(metric, f"{fp32:.1f}", "—" if bf16 is None else f"{bf16:.1f}", error_text, verdict,
                      f"{pair * 1e6:.0f}", f"{loop:,.0f}", f"{loop / best:,.0f}×")
    console.print(table)
    console.print(f"load average after the run: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
