"""Cross-model transfer as a pipeline: train a projector between two backbones from a bank's prompts (and, for
task tuning, the tasks' training data), and project bank prompts into the other backbone as kind "projected".

A projected prompt is stored for the target backbone with its lineage (the source prompt, the projector's digest
and method), so retrieval, transfer and the experiments use it like a prompt trained there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from promptbank import scoring
from promptbank.backbones import Backbone, dtype_name, load_backbone
from promptbank.bank import PromptBank, PromptRecord
from promptbank.errors import BadArgumentError, DataError
from promptbank.projection.model import METHODS, Projector, load_projector, project
from promptbank.projection.train import ProjectorConfig, train_by_distance, train_by_ridge, train_by_task
from promptbank.tasks import get_task, split
from promptbank.tuning.prompt import SoftPrompt


@dataclass(frozen=True)
class ProjectionSpec:
    source: str
    target: str
    method: str  # distance or ridge (fit the target backbone's prompts of the same tasks), or task (through it)
    tasks: tuple[str, ...]
    prompt_length: int = 20
    train_size: int = 2000  # training examples per task, for the task method
    dtype: str = "auto"
    config: ProjectorConfig = field(default_factory=ProjectorConfig)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise BadArgumentError(f"--method must be {' or '.join(METHODS)}, not {self.method!r}.")
        if not self.tasks:
            raise BadArgumentError("A projector needs at least one training task.")
        if self.source == self.target:
            raise BadArgumentError(f"A projector maps between two backbones; both are {self.source!r}.")
        if self.train_size <= 0:
            raise BadArgumentError(f"--train-size must be positive, not {self.train_size}.")
        object.__setattr__(self, "dtype", dtype_name(self.dtype))


def native_prompt(bank: PromptBank, backbone: str, task: str, length: int,
                  loaded: Backbone | None = None) -> SoftPrompt:
    """The bank's prompt trained on `task` with `backbone` (a source prompt if there is one, the oldest first).
    With the backbone `loaded`, a prompt stored before inits were kept gets its init rebuilt (for its task vector)."""
    found = [r for r in bank.list(backbone=backbone, task=task, kind="task") if r.length == length]
    if not found:
        raise DataError(f"The bank at {bank.root} has no {length}-token {backbone} prompt trained on {task!r}; "
                        "train one (e.g. `promptbank bank build`) or leave the task out.")
    chosen = next((r for r in found if "source" in r.tags), found[0])
    return _loaded(bank, chosen, loaded)


def _loaded(bank: PromptBank, record: PromptRecord, backbone: Backbone | None) -> SoftPrompt:
    """A bank prompt with its task facts, and its init where the bank knows or can rebuild it on `backbone`."""
    prompt = bank.load(record.id)
    prompt.info |= {"task_format": record.task_format, "labels": list(record.labels)}
    if prompt.init_tensor is None and backbone is not None:
        prompt.init_tensor = bank.init_of(record.id, backbone)
    return prompt


def train_projector(spec: ProjectionSpec, bank: PromptBank) -> tuple[Projector, dict]:
    """A projector from spec.source to spec.target, trained on the bank's prompts of spec.tasks."""
    for task in spec.tasks:
        get_task(task)
    source, target = load_backbone(spec.source, spec.dtype), load_backbone(spec.target, spec.dtype)
    deltas = spec.config.inputs == "delta"  # task vectors: a prompt's init is needed, rebuilt where not stored
    natives = None
    if spec.method in ("distance", "ridge") or spec.config.distance_weight > 0:
        natives = {t: native_prompt(bank, target.name, t, spec.prompt_length, target if deltas else None)
                   for t in spec.tasks}
    if spec.method in ("distance", "ridge"):
        pairs = {t: (native_prompt(bank, source.name, t, spec.prompt_length, source if deltas else None),
                     natives[t]) for t in spec.tasks}
        if spec.method == "ridge":
            return train_by_ridge(source, target, pairs, spec.config)
        return train_by_distance(source, target, pairs, spec.config)
    tasks = {}
    for name in spec.tasks:
        task = get_task(name)
        tasks[name] = (native_prompt(bank, source.name, name, spec.prompt_length, source if deltas else None),
                       scoring.encode(target, task, split(task).train[:spec.train_size]))
    return train_by_task(source, target, tasks, spec.config, natives=natives)


def project_into(projector: Projector, projector_dir: Path, bank: PromptBank, records: list[PromptRecord],
                 target: Backbone, into: PromptBank, dtype: str = "auto") -> list[PromptRecord]:
    """Project `records` (prompts of the projector's source backbone in `bank`) and store them in `into` for
    `target`, kind "projected", in one transaction (all or none)."""
    if not records:
        raise DataError(f"There are no {projector.source.name} prompts in {bank.root} to project.")
    projected, lineages = [], []
    source = None  # loaded only to rebuild the init of a prompt stored before inits were kept
    for record in records:
        prompt = _loaded(bank, record, None)
        if projector.inputs == "delta" and prompt.init_tensor is None:
            source = source or load_backbone(projector.source.name, dtype)
            prompt.init_tensor = bank.init_of(record.id, source)
        projected.append(project(projector, prompt, target))
        lineages.append({"method": "projection", "sources": [record.id], "source_backbone": record.backbone,
                         "projector": projector.digest, "projector_method": projector.info.get("method"),
                         "projector_tasks": projector.info.get("tasks"), "projector_dir": str(projector_dir)})
    return into.add_many(projected, names=[f"{r.task or 'prompt'}-from-{r.backbone}" for r in records],
                         kind="projected", tags=["projected"], lineages=lineages)


def project_bank(projector_dir: Path, bank: PromptBank, into: PromptBank, tasks: tuple[str, ...] | None = None,
                 ids: tuple[str, ...] | None = None, dtype: str = "auto") -> list[PromptRecord]:
    """Project a bank's prompts of the projector's source backbone (chosen ids, the prompts of chosen tasks, or
    all of them; never prompts that are themselves projections) into its target backbone."""
    projector = load_projector(projector_dir)
    if ids:
        records = [bank.get(i) for i in ids]
        if wrong := [r.id for r in records if r.backbone != projector.source.name]:
            raise BadArgumentError(f"The projector maps prompts of {projector.source.name!r}; {wrong[0]} is of "
                                   f"another backbone.")
    else:
        records = [r for r in bank.list(backbone=projector.source.name) if r.kind != "projected"
                   and (tasks is None or r.task in tasks)]
    target = load_backbone(projector.target.name, dtype)
    return project_into(projector, Path(projector_dir), bank, records, target, into, dtype)
