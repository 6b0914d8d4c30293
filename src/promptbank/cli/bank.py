"""`promptbank bank ...`: the prompt bank from the command line (each command is one library call)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from promptbank.cli.app import app, console, use_device, use_executor
from promptbank.cli.options import (
    DEFAULT_BACKBONE,
    AddressOption,
    BackboneOption,
    BankOption,
    CpusOption,
    DevSizeOption,
    DeviceOption,
    Dtype,
    DtypeOption,
    EvalEveryOption,
    ExecutorKind,
    ExecutorOption,
    GpusOption,
    Kind,
    LrOption,
    PatienceOption,
    PromptLengthOption,
    RecordIdArgument,
    Reparam,
    ReparamOption,
    ScoringPathOption,
    SeedsOption,
    ShotsOption,
    SortColumn,
    Step,
    StepOption,
    StepsOption,
    TasksOption,
    TestSizeOption,
    TrainSizeOption,
    file_to_write,
    folder_to_read,
    names,
    sort_key,
)
from promptbank.errors import BadArgumentError

if TYPE_CHECKING:
    from promptbank.bank import PromptRecord

bank_app = typer.Typer(no_args_is_help=True, help="The prompt bank: list, show, tag, verify, export and import prompts.")
NameOption = Annotated[str | None, typer.Option(help="A name to list it by (default: the task and a short id).")]


def _metric(record: PromptRecord, path: str) -> str:
    value = record.metric(path)
    return "-" if value is None else f"{value:.3f}"


def _threshold(text: str | None) -> tuple[str, float] | None:
    if text is None:
        return None
    path, _, value = text.partition("=")
    try:
        return path, float(value)
    except ValueError:
        raise BadArgumentError(f"--min takes METRIC=VALUE, e.g. test.accuracy=0.7, not {text!r}.") from None


@bank_app.command("add")
def add(prompt: Annotated[Path, typer.Option(help="A saved prompt directory (from `promptbank train --out`).")],
        bank: BankOption = None, name: NameOption = None,
        kind: Annotated[Kind, typer.Option(help="What the prompt is.")] = Kind.TASK,
        tag: Annotated[list[str] | None, typer.Option(help="A tag (repeatable).")] = None) -> None:
    """Add a saved prompt to the bank."""
    from promptbank.bank import PromptBank
    from promptbank.tuning.prompt import load_prompt
    loaded = load_prompt(prompt)
    with PromptBank(bank, create=True) as store:
        record = store.add(loaded, name=name, kind=kind.value, tags=tag or ())
    console.print(f"added {record.id} ({record.name}) to {store.root}")


@bank_app.command("list")
def list_(bank: BankOption = None,
          task: Annotated[str | None, typer.Option(help="Only the prompts of this task.")] = None,
          backbone: Annotated[str | None, typer.Option(help="Only the prompts of this backbone.")] = None,
          kind: Annotated[Kind | None, typer.Option(help="Only the prompts of this kind.")] = None,
          tag: Annotated[str | None, typer.Option(help="Only the prompts with this tag.")] = None,
          min: Annotated[str | None, typer.Option("--min", help="Only the prompts with METRIC ≥ VALUE, written "
                                                                "METRIC=VALUE, e.g. test.accuracy=0.7.")] = None,
          sort: Annotated[str, typer.Option(parser=sort_key, metavar="|".join(SortColumn) + "|METRIC.PATH",
                                            help="Sort by a column or by a metric path such as dev.accuracy.")]
          = "created",
          desc: Annotated[bool, typer.Option("--desc", help="Sort descending.")] = False,
          limit: Annotated[int | None, typer.Option(help="List at most N prompts.", min=1)] = None) -> None:
    """List prompts, filtered and sorted."""
    from promptbank.bank import PromptBank
    with PromptBank(bank) as store:
        records = store.list(task=task, backbone=backbone, kind=kind and kind.value, tag=tag,
                             min_metric=_threshold(min), sort=sort, descending=desc, limit=limit)
    table = Table("id", "name", "task", "kind", "backbone", "L", "init", "dev acc", "test acc", "tags",
                  title=f"{len(records)} prompts in {store.root}")
    for r in records:
        table.add_row(r.id, r.name, r.task or "-", r.kind, r.backbone, str(r.length), r.init, _metric(r, "dev.accuracy"),
                      _metric(r, "test.accuracy"), ", ".join(r.tags))
    console.print(table)


@bank_app.command("show")
def show(record_id: RecordIdArgument, bank: BankOption = None) -> None:
    """Show a prompt's metadata, lineage and training-curve summary."""
    from promptbank.bank import PromptBank
    from promptbank.bank.inits import REBUILDABLE
    with PromptBank(bank) as store:
        r = store.get(record_id)
        stored = store.load(r.id).init_tensor is not None
    table = Table("field", "value", title=f"prompt {r.id}", show_header=False)
    for field in ("name", "kind", "task", "task_format", "labels", "backbone", "hidden_size", "tokenizer_fingerprint",
                  "length", "init", "lineage", "data_fingerprint", "metrics", "created", "tags", "blob"):
        table.add_row(field, str(getattr(r, field)))
    rebuildable = r.kind == "task" and r.init in REBUILDABLE
    table.add_row("task vector", "exact: its init is stored" if stored else
                  "its init is rebuilt from its recipe when asked for" if rebuildable else
                  "none: its init was not stored and cannot be rebuilt")
    if r.curve:
        best = max(r.curve, key=lambda p: p.get("dev_accuracy") or 0)
        table.add_row("curve", f"{len(r.curve)} evaluations over {r.curve[-1]['step']} steps, "
                               f"{r.curve[-1]['wall_seconds']:.0f} s; best dev {best.get('dev_accuracy')} at step "
                               f"{best['step']}")
    if r.training:
        table.add_row("training", str(r.training))
    console.print(table)


@bank_app.command("rm")
def rm(record_id: RecordIdArgument, bank: BankOption = None) -> None:
    """Remove a prompt (and its blob, unless another prompt shares it)."""
    from promptbank.bank import PromptBank
    with PromptBank(bank) as store:
        record = store.remove(record_id)
    console.print(f"removed {record.id} ({record.name})")


@bank_app.command("tag")
def tag(record_id: RecordIdArgument, bank: BankOption = None,
        add: Annotated[list[str] | None, typer.Option("--add", help="A tag to add (repeatable).")] = None,
        remove: Annotated[list[str] | None, typer.Option("--remove", help="A tag to remove (repeatable).")]
        = None) -> None:
    """Add or remove tags."""
    from promptbank.bank import PromptBank
    if any(not t.strip() for t in [*(add or ()), *(remove or ())]):
        raise BadArgumentError("A tag cannot be empty.")
    with PromptBank(bank) as store:
        record = store.tag(record_id, add or (), remove or ())
    console.print(f"{record.id}: {', '.join(record.tags) or 'no tags'}")


@bank_app.command("verify")
def verify(bank: BankOption = None) -> None:
    """Check every blob against its checksum and record; exit 1 if anything is wrong (a damaged catalog included)."""
    from promptbank.bank import PromptBank
    from promptbank.errors import DamagedBankError
    try:
        with PromptBank(bank) as store:
            report = store.verify()
    except DamagedBankError as error:
        console.print(f"[red]problem:[/] {error}", highlight=False)
        sys.exit(1)
    for problem in report.problems:
        console.print(f"[red]problem:[/] {problem}", highlight=False)
    if report.unreferenced:
        console.print(f"{len(report.unreferenced)} unreferenced files left by interrupted writes "
                      "(`promptbank bank gc` removes them)")
    console.print(f"{report.checked} prompts checked, {len(report.problems)} problems")
    if not report.ok:
        sys.exit(1)


@bank_app.command("gc")
def gc(bank: BankOption = None) -> None:
    """Delete files no record references (left by interrupted adds or removals)."""
    from promptbank.bank import PromptBank
    with PromptBank(bank) as store:
        removed = store.gc()
    console.print(f"removed {len(removed)} unreferenced files")


@bank_app.command("export")
def export(out: Annotated[Path, typer.Option(help="Archive file to write (.tar.gz).")], bank: BankOption = None,
           ids: Annotated[list[str] | None, typer.Argument(metavar="[ID]...", help="Prompt ids (default: the whole "
                                                                                   "bank).")] = None) -> None:
    """Export the bank, or a selection, as a portable archive."""
    from promptbank.bank import PromptBank
    from promptbank.bank.archive import export_archive
    file_to_write(out, "--out", (".gz", ".tgz", ".tar"))
    with PromptBank(bank) as store:
        records = export_archive(store, out, ids)
    console.print(f"exported {len(records)} prompts to {out}")


@bank_app.command("import")
def import_(archive: Annotated[Path, typer.Argument(help="An archive made by `promptbank bank export`.")],
            bank: BankOption = None) -> None:
    """Import the prompts of an archive (ids are kept; prompts already present are skipped)."""
    from promptbank.bank import PromptBank
    from promptbank.bank.archive import import_archive, read_archive
    read_archive(archive)  # a foreign or damaged file is refused before a bank is created for it
    with PromptBank(bank, create=True) as store:
        added, present = import_archive(store, archive)
    console.print(f"imported {len(added)} prompts ({len(present)} already present)")


@bank_app.command("export-peft")
def export_peft(record_id: RecordIdArgument,
                out: Annotated[Path, typer.Option(help="Directory for PeftModel.from_pretrained (must not exist).")],
                bank: BankOption = None, device: DeviceOption = None) -> None:
    """Export a prompt as a PEFT prompt-tuning directory."""
    use_device(device)
    from promptbank.backbones import load_backbone
    from promptbank.bank import PromptBank
    from promptbank.bank.peft import export_peft as write
    if out.exists():
        raise BadArgumentError(f"{out} already exists; choose another --out or remove it.")
    file_to_write(out, "--out")  # its parents must be folders (or not exist yet)
    with PromptBank(bank) as store:
        prompt = store.load(record_id)
    write(prompt, load_backbone(prompt.backbone), out)
    console.print(f"wrote PEFT prompt-tuning adapter to {out}")


@bank_app.command("import-peft")
def import_peft(directory: Annotated[Path, typer.Argument(help="A PEFT prompt-tuning adapter directory.")],
                backbone: Annotated[str, typer.Option(help="The backbone the prompt was trained on.")],
                bank: BankOption = None, name: NameOption = None, device: DeviceOption = None) -> None:
    """Import a PEFT prompt-tuning adapter into the bank."""
    use_device(device)
    folder_to_read(directory, "DIRECTORY", "a PEFT adapter folder")
    from promptbank.backbones import load_backbone
    from promptbank.bank import PromptBank
    from promptbank.bank.peft import read_peft
    prompt = read_peft(directory, load_backbone(backbone))
    with PromptBank(bank, create=True) as store:
        record = store.add(prompt, name=name, lineage={"method": "peft-import", "sources": [], "path": str(directory)})
    console.print(f"added {record.id} ({record.name}) to {store.root}")


@bank_app.command("build")
def build(tasks: TasksOption, bank: BankOption = None, backbone: BackboneOption = DEFAULT_BACKBONE,
          shots: ShotsOption = 16, train_size: TrainSizeOption = None, dev_size: DevSizeOption = 200,
          steps: StepsOption = 100, prompt_length: PromptLengthOption = 20, seeds: SeedsOption = 1,
          eval_every: EvalEveryOption = 20, patience: PatienceOption = 0, lr: LrOption = None,
          step: StepOption = Step.ABSOLUTE, reparam: ReparamOption = Reparam.NONE,
          test_size: TestSizeOption = None,
          bar: Annotated[bool, typer.Option(help="Keep only sources that beat the majority class by 0.05 and the "
                                                 "template with no prompt on test (--no-bar keeps every source).")]
          = True,
          dtype: DtypeOption = Dtype.AUTO, device: DeviceOption = None, scoring_path: ScoringPathOption = None,
          executor: ExecutorOption = ExecutorKind.LOCAL, address: AddressOption = None,
          cpus_per_unit: CpusOption = None, gpus_per_unit: GpusOption = None) -> None:
    """Train source prompts into the bank, one per task and seed (a stopped build continues where it was).

    Each starts from random init and is held to a bar on its test split (--no-bar keeps every source)."""
    runner = use_executor(executor, address, cpus_per_unit, gpus_per_unit, device)
    use_device(device, scoring_path)
    from promptbank.bank import PromptBank
    from promptbank.bank.build import BAR_MARGIN, build_bank
    from promptbank.tasks import get_task
    from promptbank.tuning.config import TrainConfig
    config = TrainConfig(steps=steps, eval_every=eval_every, lr=lr, patience=patience, step=step,
                         reparam=reparam)
    task_names = list(names(tasks))
    if not task_names:
        raise BadArgumentError(f"--tasks names no task ({tasks!r}); give comma-separated task names.")
    for name in task_names:
        get_task(name)  # before a bank is created for them
    with PromptBank(bank, create=True) as store:
        outcomes = build_bank(task_names, store, backbone, shots, prompt_length, tuple(range(seeds)), config,
                              dtype.value, test_size, dev_size, train_size, BAR_MARGIN if bar else None,
                              executor=runner)
    table = Table("task", "seed", "id", "dev acc", "test acc", "majority", "no prompt", "steps", "kept",
                  title=f"built {sum(o.kept for o in outcomes)} of {len(outcomes)} source prompts")
    for o in outcomes:
        table.add_row(o.task, str(o.seed), o.record_id or "-", f"{o.dev_accuracy:.3f}",
                      f"{o.test_accuracy:.3f} on {o.test_examples}", f"{o.majority:.3f}", f"{o.template_accuracy:.3f}",
                      str(o.steps_done), "yes" if o.kept else f"no: {o.reason}")
    console.print(table)


app.add_typer(bank_app, name="bank")
