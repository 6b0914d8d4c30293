"""How much of a held-out task's task vector a map fitted on the other tasks can see.

A projector trained on K tasks' task vectors (per token: K·L input vectors in a d-dimensional space) has seen
inputs only in their span; a linear map sends the rest of a new input to its bias. This prints, per fold of a
leave-one-out experiment, the share of the held-out task's ‖Δ‖² inside the span of the training tasks' Δs, for the
source backbone's inputs and for the target backbone's native Δs (what the map would have to output), per token and
for the whole flattened prompt, beside the share a random direction would have (span dimension / d). The tasks,
backbones, prompt length and precision are the experiment's own (its spec.json).

    usage: .venv/bin/python reports/cross-model/span.py LOO_FOLDER  (e.g. reports/cross-model/loo/gemma3-270m-to-smollm2-135m-ridge-linear)
"""

import json
import sys
from pathlib import Path

import torch

from promptbank.backbones import load_backbone
from promptbank.bank import PromptBank
from promptbank.projection.bank import native_prompt

BANK = "reports/cross-model/bank"  # the experiment bank loo.sh builds


def in_span(vectors: torch.Tensor, basis: torch.Tensor) -> float:
    """Share of the squared norm of `vectors` (rows) inside the row span of `basis`."""
    q, _ = torch.linalg.qr(basis.T.double())  # orthonormal columns spanning basis' rows
    vectors = vectors.double()
    return float((vectors @ q).pow(2).sum() / vectors.pow(2).sum())


def deltas(bank: PromptBank, spec: dict, name: str) -> dict[str, torch.Tensor]:
    backbone = load_backbone(name, spec["dtype"])
    return {t: (p.tensor - p.init_tensor).float() for t in spec["tasks"]
            for p in [native_prompt(bank, name, t, spec["prompt_length"], backbone)]}


def main(folder: str) -> None:
    spec = json.loads((Path(folder) / "spec.json").read_text())
    bank, tasks, length = PromptBank(BANK), spec["tasks"], spec["prompt_length"]
    rows = {}
    for side, name in (("inputs", spec["source"]), ("native outputs", spec["target"])):
        found = deltas(bank, spec, name)
        d = next(iter(found.values())).shape[1]
        for held in tasks:
            rest = [found[t] for t in tasks if t != held]
            rows.setdefault(held, {})[side] = {
                "per token": in_span(found[held], torch.cat(rest)),
                "per token, random direction": min(1.0, len(rest) * length / d),
                "whole prompt": in_span(found[held].flatten()[None], torch.stack([r.flatten() for r in rest])),
                "whole prompt, random direction": len(rest) / (length * d)}
    print(json.dumps({"source": spec["source"], "target": spec["target"], "folds": rows}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
