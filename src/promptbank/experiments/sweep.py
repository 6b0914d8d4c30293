"""The recipe sweep: learning rate × warmup × prompt length × init, few-shot, scored on dev data only.

Every cell (task, lr, warmup, length, init, seed) trains a prompt on K examples per class and evaluates it on
a held-out dev set of `dev_size` examples from the task's validation split: large enough to tell settings
apart, and never the test split, so the recipe chosen here can be tested honestly afterwards. Inits that
already score well (a transfer init) are swept as well, since a learning rate that suits a random start can
knock a good start out. Cells are saved as they finish; the same command continues a stopped sweep.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from promptbank.atomic import write_atomic
from promptbank.backbones import Backbone, dtype_name, load_backbone
from promptbank.errors import BadArgumentError
from promptbank.experiments.folder import ExperimentFolder
from promptbank.tasks import get_task
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.init import init_prompt
from promptbank.tuning.loop import train_prompt
from promptbank.tuning.prompt import SoftPrompt

SWEEP_INITS = ("random", "vocab", "labels", "transfer")
KNOCK_OUT = 0.05  # a run whose dev accuracy falls this far below its start was knocked out of a good init


@dataclass(frozen=True)
class SweepSpec:
    backbone: str
    tasks: tuple[str, ...]
    lrs: tuple[float, ...]
    warmups: tuple[float, ...] = (0.06,)
    prompt_lengths: tuple[int, ...] = (20,)
    inits: tuple[str, ...] = ("random",)
    seeds: tuple[int, ...] = (0, 1)
    shots: int = 16
    dev_size: int = 200
    bank: str | None = None  # source prompts for the "transfer" init (weighted average of the top 3 by zero-shot)
    dtype: str = "auto"
    # every run's settings but the swept ones (lr, warmup) and the seed
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=30, eval_every=10, patience=0))

    def __post_init__(self) -> None:
        if not (self.tasks and self.lrs and self.warmups and self.prompt_lengths and self.inits and self.seeds):
            raise BadArgumentError("A sweep needs at least one task, lr, warmup, prompt length, init and seed.")
        if unknown := [i for i in self.inits if i not in SWEEP_INITS]:
            raise BadArgumentError(f"Unknown sweep init {unknown[0]!r}; use {', '.join(SWEEP_INITS)}.")
        if "transfer" in self.inits and not self.bank:
            raise BadArgumentError("The transfer init needs --bank, the bank of source prompts to start from.")
        if self.dev_size <= 0 or self.shots <= 0:
            raise BadArgumentError("--dev-size and --shots must be positive.")
        if not all(lr > 0 for lr in self.lrs) or not all(0 <= w < 1 for w in self.warmups):
            raise BadArgumentError("Learning rates must be positive and warmups fractions in [0, 1).")
        if self.train.lr is not None or self.train.warmup is not None:
            raise BadArgumentError("A sweep's learning rates and warmups are its grids (lrs, warmups); leave the "
                                   "train settings' lr and warmup open.")
        object.__setattr__(self, "dtype", dtype_name(self.dtype))

    def cells(self) -> list[tuple[str, float, float, int, str, int]]:
        return list(itertools.product(self.tasks, self.lrs, self.warmups, self.prompt_lengths, self.inits, self.seeds))


GRIDS = ("tasks", "lrs", "warmups", "prompt_lengths", "inits", "seeds")


def cell_name(task: str, lr: float, warmup: float, length: int, init: str, seed: int) -> str:
    return f"{task}-lr{lr:g}-w{warmup:g}-L{length}-{init}-s{seed}"


def _start(spec: SweepSpec, backbone: Backbone, data, length: int, init: str, seed: int) -> SoftPrompt:
    if init != "transfer":
        return init_prompt(backbone, length, init, seed=seed, task=data.task)
    from promptbank.bank import PromptBank
    from promptbank.transfer.inits import weighted_average_init
    from promptbank.transfer.run import TransferSpec, retrieve
    transfer = TransferSpec(data.task.name, "weighted-average", 3, "zero-shot", backbone=backbone.name,
                            shots=spec.shots, prompt_length=length, dtype=spec.dtype)
    with PromptBank(Path(spec.bank)) as bank:
        retrieval = retrieve(transfer, backbone, bank, data)
    chosen, top = retrieval.top(3)
    tensor, _ = weighted_average_init(chosen, [r.score for r in top])
    return SoftPrompt(tensor, backbone.name, backbone.tokenizer_fingerprint, "weighted-average")


def run_cell(spec: SweepSpec, backbone: Backbone, task: str, lr: float, warmup: float, length: int, init: str,
             seed: int, progress: bool = False) -> dict:
    """Train one setting on K shots per class and score it on the dev set (retrieval, for the transfer init,
    uses the few-shot dev examples, as a user with K shots would)."""
    from promptbank import scoring
    from promptbank.tasks import split
    from promptbank.tuning.run import target_data
    data = target_data(backbone, task, spec.shots, seed, test_size=1)
    dev = split(data.task).validation[:spec.dev_size]
    dev_items = scoring.encode(backbone, data.task, dev)
    config = replace(spec.train, lr=lr, warmup=warmup, seed=seed)
    result = train_prompt(backbone, data.train_items, dev_items, _start(spec, backbone, data, length, init, seed),
                          config, progress=progress, desc=cell_name(task, lr, warmup, length, init, seed))
    curve = [{"step": p["step"], "dev_accuracy": p["dev_accuracy"]} for p in result.curve]
    return {"task": task, "lr": lr, "warmup": warmup, "prompt_length": length, "init": init, "seed": seed,
            "dev_examples": len(dev), "start_dev": curve[0]["dev_accuracy"], "best_dev": result.best_dev,
            "best_step": result.best_step, "final_dev": curve[-1]["dev_accuracy"], "curve": curve}


def summarize(cells: list[dict]) -> dict:
    """Mean dev accuracy of every setting (over tasks and seeds), per init, and the best setting of each init among
    those run on every (task, seed) of the folder.

    The final dev score is what a run with no dev-based checkpoint choice would keep; the best dev score is what
    promptbank keeps. Settings are ranked by the mean of the final scores, which does not reward a setting for
    being noisy (a best-of-evaluations score favours variance on a small dev set)."""
    groups: dict[tuple, list[dict]] = {}
    for c in cells:
        groups.setdefault((c["init"], c["lr"], c["warmup"], c["prompt_length"]), []).append(c)
    tasks = list(dict.fromkeys(c["task"] for c in cells))
    settings = []
    for (init, lr, warmup, length), runs in sorted(groups.items()):
        def mean(key: str, runs: list[dict] = runs) -> float:
            return sum(r[key] for r in runs) / len(runs)

        per_task = {t: sum(r["final_dev"] for r in runs if r["task"] == t) / max(1, sum(r["task"] == t for r in runs))
                    for t in tasks}
        # knocked out: training threw the prompt more than 5 points below where it started, at some evaluation
        knocked = sum(min(p["dev_accuracy"] for p in r["curve"][1:]) < r["start_dev"] - KNOCK_OUT for r in runs)
        settings.append({"init": init, "lr": lr, "warmup": warmup, "prompt_length": length, "runs": len(runs),
                         "start_dev": mean("start_dev"), "best_dev": mean("best_dev"), "final_dev": mean("final_dev"),
                         "final_minus_start": mean("final_dev") - mean("start_dev"),
                         "knocked_out": knocked / len(runs), "final_dev_per_task": per_task})
    complete = len({(c["task"], c["seed"]) for c in cells})
    best = {}
    for init in dict.fromkeys(c["init"] for c in cells):
        candidates = [s for s in settings if s["init"] == init and s["runs"] == complete]
        if candidates:
            best[init] = max(candidates, key=lambda s: (s["final_dev"], s["best_dev"]))
    return {"settings": settings, "best": best}


def run_sweep(spec: SweepSpec, out: Path, progress: bool = True, run_missing: bool = True) -> dict:
    """Run (or continue) every cell and write sweep.json and sweep.csv into `out`."""
    from tqdm.auto import tqdm

    for name in spec.tasks:
        get_task(name)
    # Cells are kept per grid point, so the grids may grow or shrink; the settings every cell shares may not. The
    # learning rate and warmup are each cell's (spec.json files written before the train block record neither).
    folder = ExperimentFolder(out, spec, "a sweep", may_differ=GRIDS, legacy_train={"lr": None, "warmup": None})
    backbone = load_backbone(spec.backbone, spec.dtype) if run_missing else None
    for key in tqdm(spec.cells(), desc="sweep cells", disable=not progress):
        if run_missing and folder.load(f"cells/{cell_name(*key)}") is None:
            folder.save(f"cells/{cell_name(*key)}", run_cell(spec, backbone, *key, progress=progress))
    # the summary covers every cell of the folder, this grid's and earlier ones' (they share the fixed settings),
    # so sweeps of other grids into one folder add up to one table
    cells = folder.units("cells")
    folder.require(cells, "sweep cells")
    out = folder.root
    summary = summarize(cells)
    write_atomic(out / "sweep.json", json.dumps({"spec": asdict(spec), "summary": summary, "cells": cells}, indent=1))
    tasks = list(summary["settings"][0]["final_dev_per_task"])  # the tasks summarize found, in its order
    header = ["init", "lr", "warmup", "prompt_length", "runs", "start_dev", "best_dev", "final_dev", "knocked_out",
              *tasks]
    rows = [[s[k] for k in header[:9]] + [s["final_dev_per_task"][t] for t in tasks] for s in summary["settings"]]
    write_atomic(out / "sweep.csv", "\n".join(",".join(map(str, row)) for row in [header, *rows]) + "\n")
    return summary
