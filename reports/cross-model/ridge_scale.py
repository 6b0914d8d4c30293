"""Why a ridge projector from one backbone collapses to its bias and from another does not: the size of its inputs
against the penalty.

The ridge fit (promptbank.projection.train.train_by_ridge, whose metrics now hold the same kept share) divides the inputs by the source backbone's embedding RMS
and penalises ‖W‖² by ridge·n, where n is the number of token vectors fitted. A direction of the centred inputs with
Gram eigenvalue λ keeps the share λ / (λ + ridge·n) of its least-squares weight; task vectors that are small in
embedding units have small λ, so their weights shrink to nothing and every output is the bias. This prints, per
source backbone of the leave-one-out experiments, the task vectors' RMS in embedding units and that kept share (the
eigenvalue-weighted mean over the centred Gram of all the experiment's tasks) at the experiment's penalty, and that
penalty in the task vectors' own units, where a ridge of 1 would mean the same for every backbone.

    usage: .venv/bin/python reports/cross-model/ridge_scale.py LOO_FOLDER...
"""

import json
import sys
from pathlib import Path

import torch

from promptbank.backbones import load_backbone
from promptbank.bank import PromptBank
from promptbank.projection.bank import native_prompt
from promptbank.projection.train import kept_share
from promptbank.tuning.init import embedding_rms

BANK = "reports/cross-model/bank"  # the experiment bank loo.sh builds


def measure(bank: PromptBank, spec: dict) -> dict:
    backbone = load_backbone(spec["source"], spec["dtype"])
    scale = embedding_rms(backbone)
    deltas = torch.cat([(p.tensor - p.init_tensor).double() / scale for t in spec["tasks"]
                        for p in [native_prompt(bank, spec["source"], t, spec["prompt_length"], backbone)]])
    centred = deltas - deltas.mean(0)
    ridge, rms = spec["config"]["ridge"], deltas.pow(2).mean().sqrt().item()
    penalty = ridge * len(deltas)
    return {"source": spec["source"], "ridge": ridge, "task vector RMS (embedding units)": rms,
            "largest Gram eigenvalue": torch.linalg.eigvalsh(centred.T @ centred).max().item(),
            "penalty ridge*n": penalty, "kept share of the weights": kept_share(centred, penalty),
            "the ridge in the task vectors' own units (ridge / RMS^2)": ridge / rms ** 2}


def main(folders: list[str]) -> None:
    bank = PromptBank(BANK)
    print(json.dumps([dict(folder=f, **measure(bank, json.loads((Path(f) / "spec.json").read_text())))
                      for f in folders], indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
