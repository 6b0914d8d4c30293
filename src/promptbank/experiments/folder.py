"""The resumable experiment folder every experiment writes into: spec.json beside one JSON file per finished unit
(a cell, a column), so a stopped run continues where it was and a finished one is reported again for free.

- The same command again continues: a folder holding another experiment's settings is refused in one sentence
  naming each difference ("steps 30 there, 20 here"). The keys that say which units exist (targets, seeds, a
  sweep's grids) may differ: their units are files of their own.
- Nothing is written before the settings are accepted and the caller has checked everything else: spec.json
  (and every folder) appears with the first unit saved, so a refused or failed command leaves nothing behind.
- Every write is atomic: a unit's file appears whole or not at all, and a unit is done once its JSON is there.
- spec.json files written before the training settings became one block (`train`, a TrainConfig) have them at
  the top level (steps, eval_every, lr); they read as that block with the other fields at the values those runs
  used, so continuing such a folder with the same command is accepted. A key added to a spec since reads as its
  default.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import MISSING, asdict, fields
from pathlib import Path

from promptbank.atomic import write_atomic
from promptbank.errors import BadArgumentError, DataError
from promptbank.tuning.config import TrainConfig

SPEC = "spec.json"
# What the runs of a folder written before `train` existed used besides its top-level steps, eval_every and lr:
# TrainConfig's defaults at that time, early stopping off, and the cell's seed (recorded as 0, as specs do now).
LEGACY_TRAIN = {"steps": 200, "batch_size": 8, "lr": None, "weight_decay": 1e-5, "warmup": 0.06, "max_grad_norm": 1.0,
                "eval_every": 20, "patience": 0, "seed": 0, "eval_batch_size": 32, "schedule": "linear"}


def as_json(value) -> object:
    """A dataclass (or any JSON-ready value) as JSON reads it back: tuples become lists, str enums strings."""
    return json.loads(json.dumps(asdict(value) if hasattr(value, "__dataclass_fields__") else value))


def upgrade(recorded: dict, legacy_train: dict | None = None) -> dict:
    """A spec.json as the current specs write it: an old flat one gets its `train` block (`legacy_train` overrides
    LEGACY_TRAIN, e.g. a sweep's lr and warmup, which were each cell's)."""
    if "train" in recorded:
        return recorded
    defaults = LEGACY_TRAIN | (legacy_train or {})
    rest = {key: value for key, value in recorded.items() if key not in defaults}
    return rest | {"train": {key: recorded.get(key, default) for key, default in defaults.items()}}


def _leaves(settings: dict) -> dict:
    """Nested blocks (the train settings) flattened to their own keys, as the options that set them are named."""
    flat = {}
    for key, value in settings.items():
        flat |= _leaves(value) if isinstance(value, dict) else {key: value}
    return flat


def differences(recorded: dict, spec, may_differ: Collection[str] = (), legacy_train: dict | None = None) -> list[str]:
    """Each setting of `spec` that `recorded` (a spec.json) has otherwise, as "KEY THERE there, HERE here"."""
    defaults = {f.name: f.default for f in fields(spec) if f.default is not MISSING}
    recorded = upgrade(recorded, legacy_train)
    if isinstance(recorded.get("train"), dict):  # a train setting added since it was written has its default there
        recorded = recorded | {"train": as_json(TrainConfig()) | recorded["train"]}
    there = _leaves(as_json(defaults) | recorded)
    here = _leaves(as_json(spec))
    return [f"{key} {there.get(key)!r} there, {value!r} here" for key, value in here.items()
            if key not in may_differ and there.get(key) != value]


class ExperimentFolder:
    """`root` as the folder of the experiment `spec`: checked on creation (BadArgumentError when it holds one with
    other settings), written from the first `save` on. `what` names the experiment in the refusal ("a sweep")."""

    def __init__(self, root: Path, spec, what: str = "an experiment", may_differ: Collection[str] = (),
                 legacy_train: dict | None = None) -> None:
        self.root, self.spec, self._opened = Path(root), spec, False
        if self.root.exists() and not self.root.is_dir():
            raise BadArgumentError(f"{self.root} is a file; --out takes a folder for the results.")
        path = self.root / SPEC
        if not path.exists():
            return
        try:
            recorded = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BadArgumentError(f"{path} is not a spec.json promptbank wrote; choose another --out.") from None
        if differ := differences(recorded, spec, may_differ, legacy_train):
            raise BadArgumentError(f"{self.root} holds {what} with other settings ({'; '.join(differ)}); pass the "
                                   "same settings, choose another --out, or remove it.")

    def load(self, name: str) -> dict | None:
        """A saved unit (`name` relative to the folder, without .json), or None while it is not done."""
        path = self.root / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def units(self, folder: str, pattern: str = "*.json") -> list[dict]:
        """Every unit saved in a subfolder whose file name matches `pattern`, by file name (this run's and earlier
        runs' of other grids)."""
        return [json.loads(p.read_text()) for p in sorted((self.root / folder).glob(pattern))]

    def save(self, name: str, unit: dict) -> dict:
        """Save a unit as `name`.json (the folder and spec.json first, on the first save) and return it as read
        back from the file."""
        text = json.dumps(unit, indent=1)
        self.save_file(f"{name}.json", text)
        return json.loads(text)

    def save_file(self, name: str, data: bytes | str) -> None:
        """Any other file of a unit (save it before the unit's JSON, which marks the unit done)."""
        if not self._opened:
            write_atomic(self.root / SPEC, json.dumps(asdict(self.spec), indent=1))
            self._opened = True
        write_atomic(self.root / name, data)

    def require(self, found: Collection, what: str = "experiment cells") -> None:
        """DataError when nothing is finished yet (a report asked of an empty folder)."""
        if not found:
            raise DataError(f"{self.root} holds no finished {what} yet.")
