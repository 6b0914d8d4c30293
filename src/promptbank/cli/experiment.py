"""`promptbank experiment ...`: experiments that write reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from promptbank.cli.app import app, console, use_device, use_executor
from promptbank.cli.options import (
    DEFAULT_BACKBONE,
    AddressOption,
    BackboneOption,
    Base,
    BaseOption,
    ByOption,
    GuardOption,
    ChoiceScoring,
    CpusOption,
    DevSizeOption,
    DeviceOption,
    Dtype,
    DtypeOption,
    EvalEveryOption,
    ExecutorKind,
    ExecutorOption,
    FewShotsOption,
    GpusOption,
    KOption,
    LrOption,
    ProjectionMethod,
    ContrastItemsOption,
    ContrastWeightOption,
    DistanceWeightOption,
    ProjectorArchitecture,
    ProjectorArchitectureOption,
    ProjectorInputs,
    ProjectorInputsOption,
    RidgeOption,
    PromptLengthOption,
    ReportOnlyOption,
    Retrieval,
    ScoringPathOption,
    FewShotSeedsOption,
    SeedsOption,
    ShotsOption,
    Step,
    StepOption,
    StepsOption,
    StrategiesOption,
    Strategy,
    SweepInit,
    TestLimitOption,
    TrainSizeOption,
    bank_option,
    choices,
    file_to_write,
    names,
    scored_name,
)
from promptbank.errors import BadArgumentError
from promptbank.tasks import base_task

experiment_app = typer.Typer(no_args_is_help=True, help="Transfer experiments with reports.")
app.add_typer(experiment_app, name="experiment")


@experiment_app.command("matrix")
def matrix(
    targets: Annotated[str, typer.Option(help="Comma-separated target tasks.")],
    out: Annotated[Path, typer.Option(help="Folder for report.html, convergence.png, results.json, matrix.csv "
                                           "(reruns continue).")],
    sources: Annotated[str | None, typer.Option(help="Comma-separated source tasks (their prompts come from the "
                                                     "bank; default: every source task in it but the targets; "
                                                     "'' for none, with baseline and pretrained inits alone).")]
    = None,
    bank: bank_option("The bank of source (and pre-trained) prompts") = None,
    seeds: SeedsOption = 3,
    backbone: BackboneOption = DEFAULT_BACKBONE,
    shots: ShotsOption = 16,
    train_size: TrainSizeOption = None,
    dev_size: DevSizeOption = 200,
    steps: StepsOption = 30,
    eval_every: EvalEveryOption = 5,
    lr: LrOption = None,
    step: StepOption = Step.ABSOLUTE,
    prompt_length: PromptLengthOption = 20,
    strategies: StrategiesOption = "weighted-average,best-of-k,mixture",
    k: KOption = 3,
    by: ByOption = Retrieval.ZERO_SHOT,
    base: BaseOption = Base.TARGET,
    guard: GuardOption = None,
    per_source: Annotated[bool, typer.Option(help="Train the target from every source (the gain matrix).")] = True,
    per_source_seeds: Annotated[int | None, typer.Option(help="Train from every source in the first N seeds only "
                                                              "(default: all).", min=0)] = None,
    test_size: TestLimitOption = 200,
    dtype: DtypeOption = Dtype.AUTO,
    choice_scoring: Annotated[ChoiceScoring | None, typer.Option(help="How the targets' choices are scored (sum, "
                                                                      "mean, letters); the same as naming each "
                                                                      "target <task>:<mode>.")] = None,
    report_only: ReportOnlyOption = False,
    device: DeviceOption = None,
    scoring_path: ScoringPathOption = None,
    executor: ExecutorOption = ExecutorKind.LOCAL, address: AddressOption = None, cpus_per_unit: CpusOption = None,
    gpus_per_unit: GpusOption = None,
) -> None:
    """Source × target matrix of zero-shot scores and transfer gains, metric correlations, convergence curves.
    On Ray (--executor ray), each (target, seed) cell is a task; its workers read the bank at the same path."""
    runner = use_executor(executor, address, cpus_per_unit, gpus_per_unit, device)
    use_device(device, scoring_path)
    from promptbank.bank import PromptBank
    from promptbank.experiments.matrix import MatrixSpec, run_matrix
    from promptbank.tuning.config import TrainConfig
    chosen = choices(strategies, Strategy, "--strategies", "strategy")
    targets = ",".join(scored_name(t, choice_scoring) for t in names(targets))
    if sources is None:
        with PromptBank(bank) as store:
            found = {r.task for r in store.list(backbone=backbone, tag="source")}
        sources = ",".join(sorted(found - {base_task(t) for t in names(targets)}))
    spec = MatrixSpec(sources=names(sources), targets=names(targets), seeds=tuple(range(seeds)), backbone=backbone,
                      shots=shots, train_size=train_size, dev_size=dev_size, prompt_length=prompt_length,
                      train=TrainConfig(steps=steps, eval_every=eval_every, lr=lr, patience=0, step=step),
                      strategies=chosen, k=k, by=by.value, base=base.value, guard=guard, per_source=per_source,
                      per_source_seeds=per_source_seeds, test_size=test_size, dtype=dtype.value)
    with PromptBank(bank) as store:
        _, summary = run_matrix(spec, store, out, run_missing=not report_only, executor=runner)
    print_summary(spec, summary)
    console.print(f"{len(summary['cells_done'])} of {summary['cells_planned']} (target, seed) cells finished")
    console.print(f"report: {out / 'report.html'}")


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def print_summary(spec, summary: dict) -> None:
    """The experiment's headline numbers as rich tables."""
    table = Table("target", "init", "sources (seed 0)", "test acc", "± std", "gain", "95% CI",
                  "steps to random's best",
                  title="random vs transfer init, same step budget (means over seeds)")
    for column in table.columns[:2]:
        column.no_wrap = True
    for target, runs in summary["strategies"].items():
        for name, run in runs.items():
            ci = run.get("gain_ci")
            table.add_row(target, name, ", ".join(run.get("sources_seed0", [])) or "-", _figure(run["test_accuracy"]),
                          _figure(run.get("test_accuracy_std")), _figure(run["gain"]),
                          f"[{ci['low']:+.3f}, {ci['high']:+.3f}]" if ci else "-",
                          "-" if run["steps_to_random_best"] is None else f"{run['steps_to_random_best']:.1f}")
    console.print(table)
    if spec.guard is not None:
        console.print("sent back to random init by --guard: " + "; ".join(
            f"{target} {name} in {run['fell_back']} cells" for target, runs in summary["strategies"].items()
            for name, run in runs.items() if run.get("fell_back")) or "none")
    if spec.sources:
        split = summary.get("zero_shot_split") or "test"
        zero_shot = Table("source", *summary["targets"], title=f"zero-shot {split} accuracy (source prompt as is)")
        for source in spec.sources:
            zero_shot.add_row(source, *(_figure(summary["zero_shot"][source][t]) for t in summary["targets"]))
        console.print(zero_shot)
    if spec.per_source:
        gains = Table("source", *summary["targets"], title="transfer gain over random init")
        for source in spec.sources:
            gains.add_row(source, *(_figure(summary["gain"][source][t]) for t in summary["targets"]))
        console.print(gains)
        groups = ["all pairs", *summary["targets"]]
        correlations = Table("predictor", *groups, title="Spearman rho of each predictor with the transfer gain")
        for name, rho in summary["spearman_with_gain"].items():
            correlations.add_row(name, *(_figure(rho[group]) for group in groups))
        console.print(correlations)




def _numbers(text: str, kind: type, option: str) -> tuple:
    try:
        return tuple(kind(v) for v in names(text))
    except ValueError:
        raise BadArgumentError(f"{option} takes comma-separated numbers, not {text!r}.") from None


@experiment_app.command("sweep")
def sweep(
    tasks: Annotated[str, typer.Option(help="Comma-separated tasks to choose the recipe on.")],
    out: Annotated[Path, typer.Option(help="Folder for sweep.json and sweep.csv (reruns continue).")],
    backbone: BackboneOption = DEFAULT_BACKBONE,
    lrs: Annotated[str, typer.Option(help="Comma-separated learning rates.")] = "0.003,0.01,0.03,0.1",
    warmups: Annotated[str, typer.Option(help="Comma-separated warmup fractions of the steps.")] = "0.06",
    prompt_lengths: Annotated[str, typer.Option(help="Comma-separated prompt lengths.")] = "20",
    inits: Annotated[str, typer.Option(help="Comma-separated inits, each one of: " + ", ".join(SweepInit) + " (the "
                                            "weighted average of the 3 best sources of --bank by zero-shot dev "
                                            "score).")] = "random",
    bank: bank_option("With --inits transfer: the bank of source prompts") = None,
    seeds: SeedsOption = 2,
    shots: FewShotsOption = 16,
    steps: StepsOption = 30,
    eval_every: EvalEveryOption = 10,
    dev_size: Annotated[int, typer.Option(help="Dev examples from the validation split (never test).")] = 200,
    dtype: DtypeOption = Dtype.AUTO,
    device: DeviceOption = None,
    scoring_path: ScoringPathOption = None,
    report_only: ReportOnlyOption = False,
) -> None:
    """Few-shot training recipe sweep (lr × warmup × prompt length × init) scored on dev data only."""
    use_device(device, scoring_path)
    from promptbank.experiments.sweep import SweepSpec, run_sweep
    from promptbank.tuning.config import TrainConfig
    chosen = choices(inits, SweepInit, "--inits", "sweep init")
    if "transfer" in chosen and bank is None:  # the default bank, as everywhere; a sweep without it records none
        from promptbank.bank.store import default_root
        bank = default_root()
    spec = SweepSpec(backbone=backbone, tasks=names(tasks), lrs=_numbers(lrs, float, "--lrs"),
                     warmups=_numbers(warmups, float, "--warmups"),
                     prompt_lengths=_numbers(prompt_lengths, int, "--prompt-lengths"), inits=chosen,
                     seeds=tuple(range(seeds)), shots=shots, dev_size=dev_size,
                     train=TrainConfig(steps=steps, eval_every=eval_every, patience=0),
                     bank=None if bank is None else str(bank), dtype=dtype.value)
    summary = run_sweep(spec, out, run_missing=not report_only)
    table = Table("init", "lr", "warmup", "L", "runs", "start dev", "best dev", "knocked out", "final dev",
                  title=f"recipe sweep on {backbone} (mean dev accuracy over tasks and seeds)")
    for s in summary["settings"]:
        chosen = summary["best"].get(s["init"]) is s
        table.add_row(s["init"], f"{s['lr']:g}", f"{s['warmup']:g}", str(s["prompt_length"]), str(s["runs"]),
                      f"{s['start_dev']:.3f}", f"{s['best_dev']:.3f}", f"{s['knocked_out']:.0%}",
                      f"{s['final_dev']:.3f}" + (" ← best" if chosen else ""))
    console.print(table)
    console.print(f"results: {out / 'sweep.json'}")


@experiment_app.command("zero-shot")
def zero_shot(
    tasks: Annotated[str, typer.Option(help="Comma-separated tasks to try every source prompt on.")],
    out: Annotated[Path, typer.Option(help="Folder for the heatmap, report.html, JSON and CSV (reruns continue).")],
    bank: bank_option("The bank of source prompts") = None,
    backbone: BackboneOption = DEFAULT_BACKBONE,
    test_size: TestLimitOption = 1000,
    prompt_length: Annotated[int, typer.Option(help="Use the bank's source prompts of this many tokens.")] = 20,
    dtype: DtypeOption = Dtype.AUTO,
    device: DeviceOption = None,
    scoring_path: ScoringPathOption = None,
    report_only: ReportOnlyOption = False,
) -> None:
    """Zero-shot transfer matrix: every source prompt of the bank, as it is, on every task's test split."""
    use_device(device, scoring_path)
    from promptbank.bank import PromptBank
    from promptbank.experiments.zero_shot import (
        ZeroShotSpec,
        run_zero_shot_matrix,
        summary_rows,
    )
    spec = ZeroShotSpec(backbone=backbone, tasks=names(tasks), test_size=test_size, prompt_length=prompt_length,
                        dtype=dtype.value)
    with PromptBank(bank) as store:
        summary = run_zero_shot_matrix(spec, store, out, run_missing=not report_only)
    table = Table("", "same category", "other category",
                  title=f"zero-shot transfer on {backbone} (own task left out)")
    for label, same, other in summary_rows(summary):
        table.add_row(label, _figure(same), _figure(other))
    console.print(table)
    console.print(f"report: {out / 'report.html'}")


def _results(folder: Path, name: str) -> dict:
    import json
    path = folder / name
    if not path.is_file():
        raise BadArgumentError(f"{folder} holds no {name}; give a folder an experiment wrote.")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadArgumentError(f"{path} is not a results file promptbank wrote.") from None
    if not isinstance(data, dict) or not data:
        raise BadArgumentError(f"{path} is not a results file promptbank wrote.")
    return data


@experiment_app.command("guard-replay")
def guard_replay(
    matrices: Annotated[list[Path], typer.Argument(help="Folders `experiment matrix` wrote.")],
    alpha: Annotated[float, typer.Option(help="The guard's significance level (as --guard takes it).")] = 0.05,
    out: Annotated[Path | None, typer.Option(help="Also write the verdicts and gains here (JSON).")] = None,
) -> None:
    """What --guard would have done in finished matrices, without training: per target and strategy, the cells it
    sends back to random init and the paired gain over random init without and with it."""
    import json

    from promptbank.atomic import write_atomic
    from promptbank.experiments.guard_replay import replay
    from promptbank.transfer.guard import check_alpha
    check_alpha(alpha)
    for folder in matrices:
        _results(folder, "spec.json")
    if out is not None:
        file_to_write(out, "--out", (".json",))
    replays = [replay(folder, alpha) for folder in matrices]
    table = Table("matrix", "target", "strategy", "fell back", "gain [95% CI]", "guarded gain [95% CI]",
                  title=f"the guard at level {alpha} (a fallback counts as the run of the start it falls back to)")
    for result in replays:
        for target, rows in result["targets"].items():
            if "skipped" in rows:
                table.add_row(result["folder"], target, "-", "-", rows["skipped"], "-")
            for name, row in rows.get("strategies", {}).items():
                table.add_row(result["folder"], target, name, f"{row['fell_back']}/{row['cells']}",
                              _gain(row["gain"]), _gain(row["guarded_gain"]))
    console.print(table)
    if out is not None:
        write_atomic(out, json.dumps(replays, indent=1))


def _gain(ci: dict | None) -> str:
    return "-" if ci is None else f"{ci['mean']:+.3f} [{ci['low']:+.3f}, {ci['high']:+.3f}]"


@experiment_app.command("choice-scoring")
def choice_scoring(
    tasks: Annotated[str, typer.Option(help="Comma-separated (multiple-choice) tasks.")],
    out: Annotated[Path, typer.Option(help="Folder for the results (reruns continue).")],
    backbone: BackboneOption = DEFAULT_BACKBONE,
    test_size: TestLimitOption = 1000,
    dtype: DtypeOption = Dtype.AUTO,
    device: DeviceOption = None,
    scoring_path: ScoringPathOption = None,
    report_only: ReportOnlyOption = False,
) -> None:
    """Each task's bare template (no prompt) with its choices scored by sum, mean and letters, on validation and
    test, and the mode validation prefers: what `<task>:<mode>` (or --choice-scoring) should be."""
    use_device(device, scoring_path)
    from promptbank.experiments.choice_scoring import CHOICE_SCORINGS, SPLITS, ChoiceScoringSpec, run_choice_scoring
    spec = ChoiceScoringSpec(backbone=backbone, tasks=names(tasks), test_size=test_size, dtype=dtype.value)
    results = run_choice_scoring(spec, out, run_missing=not report_only)
    table = Table("task", "chance", *(f"{mode} ({part[:3]})" for mode in CHOICE_SCORINGS for part in SPLITS),
                  "chosen on validation", title=f"template accuracy by choice scoring, {backbone}")
    for row in results:
        table.add_row(row["task"], f"{row['chance']:.3f}", *(f"{row['accuracy'][mode][part]:.3f}"
                                                           for mode in CHOICE_SCORINGS for part in SPLITS),
                      row["chosen"])
    console.print(table)


@experiment_app.command("claims")
def claims(
    zero_shot: Annotated[list[Path] | None, typer.Option(help="A folder `experiment zero-shot` wrote "
                                                              "(repeatable).")] = None,
    matrix: Annotated[list[Path] | None, typer.Option(help="A folder the transfer experiment's `experiment "
                                                           "matrix` wrote (repeatable).")] = None,
    ppt: Annotated[list[Path] | None, typer.Option(help="A folder the PPT experiment's `experiment matrix` wrote "
                                                        "(strategies pretrained, pretrained-unified; repeatable).")]
    = None,
    cross_model: Annotated[list[Path] | None, typer.Option(help="A folder `experiment cross-model` wrote (one "
                                                                "per direction; repeatable).")] = None,
    leave_one_out: Annotated[list[Path] | None, typer.Option(help="A folder `experiment projector-loo` wrote (one "
                                                                  "per projector; repeatable).")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the table here as Markdown.")] = None,
) -> None:
    """The papers' claims beside our figures, each with its verdict (rules in promptbank.experiments.claims)."""
    from promptbank.atomic import write_atomic
    from promptbank.experiments.claims import (
        cross_model_claims,
        few_shot_claims,
        finished_targets,
        learned_mixture_claims,
        leave_one_out_claims,
        ppt_claims,
        to_markdown,
        zero_shot_claims,
    )
    if not (zero_shot or matrix or ppt or cross_model or leave_one_out):
        raise BadArgumentError("Name at least one results folder: --zero-shot, --matrix, --ppt, --cross-model or "
                               "--leave-one-out.")
    found = []
    try:
        if zero_shot or matrix:
            matrices = {}
            for folder in zero_shot or []:
                data = _results(folder, "zero_shot.json")
                matrices[data["spec"]["backbone"]] = data
            results = [finished_targets(_results(f, "results.json")) for f in matrix or []]
            found += zero_shot_claims(matrices) + few_shot_claims(results) + learned_mixture_claims(results)
        if ppt:
            found += ppt_claims([finished_targets(_results(folder, "results.json")) for folder in ppt])
        if cross_model:
            found += cross_model_claims([_results(folder, "results.json") for folder in cross_model])
        if leave_one_out:
            found += leave_one_out_claims([_results(folder, "results.json") for folder in leave_one_out])
    except (KeyError, TypeError, AttributeError, IndexError, ValueError):
        raise BadArgumentError("A results folder given does not hold the results of the experiment its option names "
                               "(--zero-shot: a zero-shot matrix; --matrix and --ppt: a matrix; --cross-model: a "
                               "cross-model experiment; --leave-one-out: a projector-loo experiment).") from None
    table = Table("claim", "paper", "ours", "holds", title="the papers' claims and our figures")
    for c in found:
        table.add_row(c.claim, c.paper, c.ours, c.holds)
    console.print(table)
    if out is not None:
        write_atomic(out, to_markdown(found))
        console.print(f"table: {out}")


@experiment_app.command("projector-loo")
def projector_loo(
    source: Annotated[str, typer.Option("--from", help="The backbone whose prompts are projected.")],
    target: Annotated[str, typer.Option("--to", help="The backbone they are projected into.")],
    tasks: Annotated[str, typer.Option(help="Comma-separated tasks both backbones' prompts exist for (3 or more); "
                                            "each is held out once.")],
    out: Annotated[Path, typer.Option(help="Folder for the folds' projectors, results.json and summary.md "
                                           "(reruns continue).")],
    bank: bank_option("The bank with the tasks' prompts on both backbones") = None,
    method: Annotated[ProjectionMethod, typer.Option(help="How each fold's projector is trained (see `promptbank "
                                                          "project train`).")] = ProjectionMethod.TASK,
    architecture: ProjectorArchitectureOption = ProjectorArchitecture.PER_TOKEN,
    inputs: ProjectorInputsOption = ProjectorInputs.DELTA,
    distance_weight: DistanceWeightOption = 0.0,
    contrast_weight: ContrastWeightOption = 1.0,
    contrast_items: ContrastItemsOption = 2,
    ridge: RidgeOption = 1.0,
    hidden: Annotated[int, typer.Option(help="The projector's hidden width.")] = 768,
    projector_steps: Annotated[int, typer.Option(help="Each fold's projector training steps.")] = 500,
    projector_lr: Annotated[float, typer.Option(help="The projector's learning rate.")] = 1e-3,
    train_size: Annotated[int, typer.Option(help="Training examples per task (task method).")] = 2000,
    seeds: FewShotSeedsOption = 5,
    shots: FewShotsOption = 16,
    steps: StepsOption = 30,
    eval_every: EvalEveryOption = 5,
    prompt_length: PromptLengthOption = 20,
    test_size: TestLimitOption = 1000,
    dtype: DtypeOption = Dtype.AUTO,
    device: DeviceOption = None,
    scoring_path: ScoringPathOption = None,
    report_only: ReportOnlyOption = False,
) -> None:
    """Leave one task out: a projector per fold, trained without the held-out task, whose projection of that task
    is scored on it against the other tasks' projections, and trained from against random init."""
    use_device(device, scoring_path)
    from promptbank.bank import PromptBank
    from promptbank.experiments.leave_one_out import LeaveOneOutSpec, run_leave_one_out, summary_markdown
    from promptbank.projection.train import ProjectorConfig
    from promptbank.tuning.config import TrainConfig
    config = ProjectorConfig(hidden=hidden, architecture=architecture.value, inputs=inputs.value,
                             steps=projector_steps, lr=projector_lr, distance_weight=distance_weight,
                             contrast_weight=contrast_weight, contrast_items=contrast_items, ridge=ridge)
    spec = LeaveOneOutSpec(source=source, target=target, tasks=names(tasks), method=method.value, config=config,
                           train_size=train_size, prompt_length=prompt_length, test_size=test_size,
                           seeds=tuple(range(seeds)), shots=shots, dtype=dtype.value,
                           train=TrainConfig(steps=steps, eval_every=eval_every, patience=0))
    with PromptBank(bank) as store:
        summary = run_leave_one_out(spec, store, out, run_missing=not report_only)
    console.print(summary_markdown(spec, summary))


@experiment_app.command("cross-model")
def cross_model(
    projector: Annotated[list[Path], typer.Option(help="A saved projector (repeatable: e.g. one per method).")],
    tasks: Annotated[str, typer.Option(help="Comma-separated held-out tasks (no projector trained on them).")],
    out: Annotated[Path, typer.Option(help="Folder for results.json and summary.md (reruns continue).")],
    bank: bank_option("The bank with the tasks' prompts on both backbones") = None,
    seeds: SeedsOption = 5,
    shots: FewShotsOption = 16,
    steps: StepsOption = 30,
    eval_every: EvalEveryOption = 5,
    lr: Annotated[float | None, typer.Option(help="Learning rate of the few-shot runs (default: the target "
                                                  "backbone's recipe; see `promptbank backbones`).")] = None,
    prompt_length: PromptLengthOption = 20,
    test_size: TestLimitOption = 1000,
    dtype: DtypeOption = Dtype.AUTO,
    device: DeviceOption = None,
    scoring_path: ScoringPathOption = None,
    report_only: ReportOnlyOption = False,
) -> None:
    """Projected prompts of held-out tasks on the target backbone: zero-shot (own and other tasks) and as inits."""
    use_device(device, scoring_path)
    from promptbank.bank import PromptBank
    from promptbank.experiments.cross_model import (
        CrossModelSpec,
        run_cross_model,
        spread_sentence,
    )
    from promptbank.tuning.config import TrainConfig
    if not projector:
        raise BadArgumentError("Give at least one --projector.")
    spec = CrossModelSpec(projectors=tuple(map(str, projector)), tasks=names(tasks), seeds=tuple(range(seeds)),
                          shots=shots, train=TrainConfig(steps=steps, eval_every=eval_every, lr=lr, patience=0),
                          prompt_length=prompt_length,
                          test_size=test_size, dtype=dtype.value)
    with PromptBank(bank) as store:
        summary = run_cross_model(spec, store, out, run_missing=not report_only)
    table = Table("task", "projector", "zero-shot", "native", "template", "majority", "few-shot", "random init",
                  "gain", "95% CI", title="projected prompts on the target backbone")
    for task, row in summary["tasks"].items():
        for label, p in row["projected"].items():
            ci = p["gain_ci"]
            table.add_row(task, label, _figure(p["zero_shot"]), _figure(row["native"]), _figure(row["template"]),
                          _figure(row["majority"]), _figure(p["test_accuracy"]), _figure(p["random_test_accuracy"]),
                          _figure(p["gain"]), f"[{ci['low']:+.3f}, {ci['high']:+.3f}]" if ci else "-")
    console.print(table)
    labels = summary["projectors"]
    seen = Table("task", *labels, "native", "template", "majority", title="the projectors' own training tasks")
    for task, row in summary["training_tasks"].items():
        seen.add_row(task, *(_figure(row["projected"].get(label)) for label in labels), _figure(row["native"]),
                     _figure(row["template"]), _figure(row["majority"]))
    console.print(seen)
    if spread := summary["cosine_between_tasks"]:
        console.print(spread_sentence(spread))
    console.print(f"results: {out / 'summary.md'}, {out / 'report.html'}")
