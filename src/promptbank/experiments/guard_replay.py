"""What the guard against negative transfer (transfer.guard) would have done in finished matrix experiments, without
training anything.

Each cell's retrieval ranked the sources by zero-shot accuracy on the cell's dev set (the lineage keeps the top
scores), and the cell's dev set is rebuilt from the task, the seed and the spec, so the guard's verdict is the one
a guarded run would reach. A guarded run that falls back starts from random init with the cell's seed (or, for task
vectors added to a PPT prompt, from that prompt), the start of one of the cell's own runs, trained on the same
batches: its result is that run's.
"""

from __future__ import annotations

import json
from pathlib import Path

from promptbank.errors import BadArgumentError, DataError
from promptbank.experiments.stats import gain_interval
from promptbank.tasks import get_task, split
from promptbank.transfer.guard import fallback_for, judge
from promptbank.tuning.run import dev_examples


def dev_labels(target: str, shots: int | None, seed: int, dev_size: int) -> list[int]:
    """The gold labels of a matrix cell's dev set, drawn as the cell's run drew it."""
    return [ex.label for ex in dev_examples(split(get_task(target)).validation, shots, seed, dev_size)]


def _fallback(cell: dict, run: dict) -> dict | None:
    """The cell's run a guarded strategy falls back to (`transfer.guard.fallback_for`): its `pretrained` run (None
    where the cell has none) or its random-init run."""
    lineage = run["lineage"]
    if fallback_for(lineage["method"], lineage.get("base", "target")) == "pretrained":
        return cell["strategies"].get("pretrained")
    return cell["random"]


def replay(folder: Path, alpha: float) -> dict:
    """Per target and retrieving strategy of the matrix in `folder`: how many cells the guard sends back to random
    init, and the paired gain over random init without and with the guard (95% bootstrap intervals)."""
    spec = json.loads((Path(folder) / "spec.json").read_text())
    if spec.get("by", "zero-shot") != "zero-shot":
        raise BadArgumentError(f"{folder} ranked its sources by {spec['by']}; the guard's replay reads zero-shot dev "
                               "scores, which only a matrix run with --by zero-shot keeps.")
    cells = [json.loads(p.read_text()) for p in sorted((Path(folder) / "cells").glob("*.json"))]
    out: dict = {"folder": str(folder), "alpha": alpha, "targets": {}}
    for target in dict.fromkeys(c["target"] for c in cells):
        mine = [c for c in cells if c["target"] == target]
        best = [next((run["lineage"]["scores"][0] for run in c["strategies"].values()
                      if run.get("lineage", {}).get("scores")), None) for c in mine]
        if None in best:  # no strategy of a cell retrieved: nothing to guard
            continue
        try:
            verdicts = [judge(score, dev_labels(target, spec.get("shots"), c["seed"], spec.get("dev_size", 200)),
                              len(c["zero_shot"]), alpha) for score, c in zip(best, mine)]
        except DataError as err:  # a task whose data this machine cannot build
            out["targets"][target] = {"skipped": str(err)}
            continue
        randoms = [c["random"] for c in mine]
        rows = {"verdicts": [v.as_lineage() | {"seed": c["seed"]} for v, c in zip(verdicts, mine)], "strategies": {}}
        for name in spec["strategies"]:
            runs = [c["strategies"][name] for c in mine]
            if "by" not in runs[0].get("lineage", {}):
                continue  # a baseline or a pre-trained prompt: nothing retrieved, nothing to guard
            fallbacks = [_fallback(c, run) for c, run in zip(mine, runs)]
            if None in fallbacks:
                continue
            guarded = [run if v.fits else fallback for run, fallback, v in zip(runs, fallbacks, verdicts)]
            rows["strategies"][name] = {
                "cells": len(runs), "fell_back": sum(not v.fits for v in verdicts),
                "gain": gain_interval(runs, randoms), "guarded_gain": gain_interval(guarded, randoms)}
        out["targets"][target] = rows
    return out
