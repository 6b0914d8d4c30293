"""promptbank: soft prompt tuning and prompt transfer on frozen pretrained language models.

The pipeline, one package a stage: backbones → tasks → scoring → tuning (the prompt, its inits, the one loop) →
bank → transfer (similarity, retrieval, inits) → pretraining (PPT) → projection (across backbones) →
experiments (reports). The names below are the public API, importable from here; each is loaded on first use,
so `import promptbank` (and the CLI's --help) does not load torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

_API = {
    "promptbank.backbones": ("load_backbone",),
    "promptbank.tasks": ("get_task", "task_names", "split", "few_shot"),
    "promptbank.scoring.evaluate": ("evaluate",),
    "promptbank.tuning.prompt": ("SoftPrompt", "load_prompt", "save_prompt"),
    "promptbank.tuning.init": ("init_prompt",),
    "promptbank.tuning.config": ("TrainConfig",),
    "promptbank.tuning.params": ("PromptParams", "PlainPrompt", "ResidualPrompt"),
    "promptbank.tuning.loop": ("Job", "TrainResult", "train_prompt", "train_many"),
    "promptbank.tuning.run": ("RunSpec", "run_training"),
    "promptbank.bank": ("PromptBank",),
    "promptbank.bank.peft": ("export_peft", "read_peft"),
    "promptbank.transfer.similarity": ("similarity_matrix",),
    "promptbank.transfer.run": ("TransferSpec", "transfer_run"),
    "promptbank.pretraining.run": ("PretrainSpec", "pretrain"),
    "promptbank.projection.model": ("Projector", "load_projector", "save_projector", "project"),
    "promptbank.projection.train": ("ProjectorConfig", "train_by_distance", "train_by_task"),
    "promptbank.experiments.matrix": ("MatrixSpec", "run_matrix"),
}
_HOME = {name: module for module, names in _API.items() for name in names}
__all__ = ["__version__", *_HOME]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'promptbank' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
