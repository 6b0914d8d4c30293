"""report.html for the experiments (transfer matrix, zero-shot matrix, cross-model transfer, leave one task out): one
self-contained page each, plots embedded as PNG data URLs; the convergence curves are also kept beside it as
convergence.png."""

from __future__ import annotations

import base64
import html
import tempfile
from pathlib import Path

from promptbank.atomic import write_atomic
from promptbank.experiments import plots


def _img(path: Path) -> str:
    """A saved PNG as an <img> with a data URL."""
    return f'<img src="data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}">'


def _png(draw, *args) -> str:
    """Draw a plot into a temporary PNG and return it as an <img> with a data URL."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "plot.png"
        draw(*args, path)
        return _img(path)


def _number(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}table{border-collapse:collapse;"
         "margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}img{max-width:100%}")


def _page(title: str, parts: list[str]) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")


def _matrix(values: dict[str, dict[str, float | None]], sources: list[str], targets: list[str]) -> list[list[float]]:
    return [[float("nan") if values[s][t] is None else values[s][t] for t in targets] for s in sources]


def mean_curve(runs: list[dict]) -> tuple[list[int], list[float]]:
    """Dev accuracy per evaluated step, averaged over seeds (steps every seed evaluated)."""
    steps = sorted(set.intersection(*[{p["step"] for p in run["curve"]} for run in runs]))
    values = [sum(next(p["dev_accuracy"] for p in run["curve"] if p["step"] == step) for run in runs) / len(runs)
              for step in steps]
    return steps, values


def _convergence(panels: dict[str, dict[str, tuple[list[int], list[float]]]], out: Path) -> str:
    """convergence.png of the few-shot panels (dev accuracy by step, mean over seeds), as the page's <img>."""
    if not panels:
        return "<p>No few-shot cell is finished yet.</p>"
    plots.curves(panels, "convergence (dev accuracy, mean over seeds)", "step", "dev accuracy", out / "convergence.png")
    return _img(out / "convergence.png")


def write_report(path: Path, spec, summary: dict, cells: list[dict]) -> None:
    sources, targets = list(spec.sources), summary["targets"]
    parts = [f"<h1>promptbank transfer experiment</h1><p>backbone <b>{html.escape(spec.backbone)}</b>, "
             f"{spec.shots} examples per class, {spec.train.steps} training steps per run, "
             f"prompt length {spec.prompt_length}, "
             f"seeds {', '.join(map(str, spec.seeds))}, test sets of up to {spec.test_size} examples"
             + (f"; strategies retrieve the top {spec.k} sources by {spec.by}" if sources else "")
             + ". Raw numbers: results.json, matrix.csv.</p>"
             f"<p><b>{len(cells)} of {summary['cells_planned']} (target, seed) cells finished</b>: "
             f"{html.escape(', '.join(summary['cells_done']))}.</p>"]
    parts.append("<h2>Every init against random init on the same budget</h2>")
    rows = []
    for t in targets:
        for name, r in summary["strategies"][t].items():
            ci = r.get("gain_ci")
            rows.append([t, name, ", ".join(r.get("sources_seed0", [])) or "–",
                         _number(r["test_accuracy"]) + (f" ± {r['test_accuracy_std']:.3f}"
                                                        if r.get("test_accuracy_std") is not None else ""),
                         _number(r["gain"]) + (f" [{ci['low']:+.3f}, {ci['high']:+.3f}]" if ci else ""),
                         _number(r["steps_to_random_best"], 1), _number(r.get("dev_auc")),
                         _number(r.get("steps_to_95_random_final"), 1) + (
                             f" ({r['reached_95']:.0%} reach it)" if r.get("reached_95") is not None else "")])
    parts.append(_table(["target", "init", "sources (seed 0)", "test accuracy (mean ± std over seeds)",
                         "gain over random [95% CI]", "steps to random's best dev", "dev AUC (mean dev accuracy)",
                         "steps to 95% of random's final dev"], rows))
    parts.append("<p>Majority-class accuracy: " + ", ".join(f"{t} {_number(summary['majority'][t])}" for t in targets)
                 + ". Steps to random's best dev are means over the seeds where it was reached. Gains are paired "
                 "with random init (same seeds, same test examples); their intervals are 95% bootstrap intervals "
                 "over seeds and test examples. The best single source (dev) is the source whose trained prompt "
                 "scored best on the few-shot dev set; the oracle one, chosen on test, is an upper bound no user "
                 "could pick.</p>")
    plots.curves({t: {name: mean_curve([c["random"] if name == "random" else c["strategies"][name]
                                        for c in cells if c["target"] == t]) for name in ("random", *spec.strategies)}
                  for t in targets}, "convergence (dev accuracy, mean over seeds)", "step", "dev accuracy",
                 path.parent / "convergence.png")
    parts.append(_img(path.parent / "convergence.png"))
    if sources:  # an experiment of baseline and pre-trained inits alone has none
        split = summary.get("zero_shot_split") or "test"
        parts.append(f"<h2>Zero-shot transfer: source prompts used as they are on the target's {split} set</h2>")
        if split == "dev":
            parts.append("<p>Scored on each cell's few-shot dev set (the scores retrieval ranks the bank by), mean "
                         "over seeds; with per-source runs they are scored on the test set, as the gains are.</p>")
        parts.append(_png(plots.heatmap, _matrix(summary["zero_shot"], sources, targets), sources, targets,
                          f"zero-shot {split} accuracy", "accuracy"))
    if spec.per_source:
        parts.append("<h2>Transfer gain: test accuracy from source init − from random init</h2>")
        parts.append(_png(plots.heatmap, _matrix(summary["gain"], sources, targets), sources, targets,
                          "gain over random init", "accuracy gain"))
        parts.append(f"<p>Mean gain when source and target are of the same category: "
                     f"{_number(summary['mean_gain_same_category'])}; of different categories: "
                     f"{_number(summary['mean_gain_other_category'])}.</p>")
        parts.append("<h2>Does prompt similarity predict transfer?</h2><p>Spearman correlation between each "
                     "predictor and the transfer gain, over all (source, target) pairs and within each target.</p>")
        groups = ["all pairs", *targets]
        parts.append(_table(["predictor", *(f"ρ, {group}" for group in groups)],
                            [[name, *(_number(rho[group]) for group in groups)]
                             for name, rho in summary["spearman_with_gain"].items()]))
    for metric in spec.metrics if sources else ():
        parts.append(_png(plots.heatmap, _matrix(summary["similarity"][metric], sources, targets), sources, targets,
                          f"{metric}: source prompt vs target's trained prompt", "similarity"))
    write_atomic(path, _page("promptbank report", parts))


def write_zero_shot_report(out: Path, spec, sources: list[str], categories: dict[str, str], columns: list[dict],
                           summary: dict) -> None:
    """zero_shot.png (the heatmap) and report.html for a zero-shot transfer matrix."""
    from promptbank.experiments.zero_shot import summary_rows
    tasks = [c["task"] for c in columns]
    rows = [f"{s} ({categories[s]})" for s in sources] + ["majority class", "template, no prompt"]
    matrix = [[c["zero_shot"][s] for c in columns] for s in sources] + [[c[f] for c in columns]
                                                                         for f in ("majority", "template")]
    labels = [f"{c['task']} ({c['category']})" for c in columns]
    title = f"zero-shot test accuracy, source prompt as is ({spec.backbone})"
    plots.heatmap(matrix, rows, labels, title, "accuracy", out / "zero_shot.png")
    parts = [(f"<h1>Zero-shot transfer matrix</h1><p>backbone <b>{html.escape(spec.backbone)}</b>: every source "
              f"prompt of the bank, unchanged, on each task's test split (up to {spec.test_size} examples), with the "
              f"task's own template and answers. Raw numbers: zero_shot.json, zero_shot.csv.</p>"),
             _img(out / "zero_shot.png"),
             (f"<p>{summary['pairs_same_category']} same-category and {summary['pairs_other_category']} other-category "
              "(source, task) pairs, a source's own task left out. Learnable tasks are those some prompt beats the "
              "majority class "
              f"on by {summary['learnable_margin']} ({len(summary['learnable_tasks'])} here: "
              f"{html.escape(', '.join(summary['learnable_tasks']))}; {summary['learnable_pairs_same_category']} "
              f"same-category and {summary['learnable_pairs_other_category']} other-category pairs).</p>"),
             _table(["", "same category", "other category"],
                    [[label, _number(same), _number(other)] for label, same, other in summary_rows(summary)]),
             _table(["task", "test examples", "own prompt", "majority", "template, no prompt"],
                    [[t, str(c["test_examples"]), _number(summary["native"].get(t)), _number(c["majority"]),
                      _number(c["template"])] for t, c in zip(tasks, columns)])]
    write_atomic(out / "report.html", _page("zero-shot matrix", parts))


def write_cross_model_report(out: Path, spec, source: str, target: str, projectors: dict[str, dict], summary: dict,
                             columns: dict[str, dict], cells: list[dict]) -> None:
    """zero_shot.png (every projected prompt on every held-out task), one convergence plot per task and
    report.html for a cross-model experiment."""
    tasks, labels = list(spec.tasks), summary["projectors"]
    rows = [f"{label}:{t}" for label in labels for t in tasks] + [f"native:{t}" for t in tasks
                                                                   if f"native:{t}" in columns[tasks[0]]["accuracy"]]
    matrix = [[columns[u]["accuracy"][r] for u in tasks] for r in [*rows, "random"]]
    matrix += [[columns[u][f] for u in tasks] for f in ("template", "majority")]
    names = [*rows, "random prompt", "template, no prompt", "majority class"]
    title = f"zero-shot test accuracy on {target} (rows: prompt, columns: task)"
    plots.heatmap(matrix, names, tasks, title, "accuracy", out / "zero_shot.png")
    parts = [(f"<h1>Cross-model transfer: {html.escape(source)} → {html.escape(target)}</h1>"
              f"<p>Prompts of held-out tasks, trained on {html.escape(source)}, mapped into {html.escape(target)} by "
              f"each projector. Few-shot: {spec.shots} examples per class, {spec.train.steps} steps, "
              f"lr {spec.train.lr or 'of the recipe'}, seeds "
              f"{', '.join(map(str, spec.seeds))}; test sets of up to {spec.test_size} examples. Raw numbers: "
              "results.json, results.csv.</p>"),
             _table(["projector", "method", "training tasks", "metrics before → after training"],
                    [[label, p.get("method", "–"), ", ".join(p.get("tasks", [])),
                      ", ".join(f"{k} {v:.3f}" for k, v in p.get("metrics", {}).items() if isinstance(v, float))]
                     for label, p in projectors.items()]),
             "<h2>Each task's projected prompt</h2>",
             _table(["task", "projector", "zero-shot (own task)", "native", "random prompt", "template", "majority",
                     "other tasks over majority", "few-shot from projected", "from random", "gain [95% CI]",
                     "steps to random's best (share reached)"],
                    [[t, label, _number(p["zero_shot"]), _number(row["native"]), _number(row["random_prompt"]),
                      _number(row["template"]), _number(row["majority"]), _number(p["other_tasks_over_majority"]),
                      _number(p["test_accuracy"]), _number(p["random_test_accuracy"]),
                      _number(p["gain"]) + (f" [{p['gain_ci']['low']:+.3f}, {p['gain_ci']['high']:+.3f}]"
                                            if p["gain_ci"] else ""),
                      (f"{_number(p['steps_to_random_best'], 1)} vs {_number(p['random_steps_to_best'], 1)} "
                       f"({_number(p['reached_random_best'], 2)})")]
                     for t, row in summary["tasks"].items() for label, p in row["projected"].items()]),
             ("<p>Gains are paired with random init (same seeds, same test examples), with 95% bootstrap intervals "
              "over seeds and test examples. Steps to random's best dev score are means over the seeds that reached "
              "it.</p>"),
             *([(f"<p>Mean cosine between the prompts of two different held-out tasks (near 1: one prompt for every "
                 f"task, whatever the scores): {html.escape(', '.join(f'{k} {v:.3f}' for k, v in spread.items()))}.</p>")]
               if (spread := summary.get("cosine_between_tasks")) else []),
             ("<h2>The projectors' own training tasks</h2><p>Each training task's source prompt, projected, on the "
              "task's test split beside the target's native prompt (Su et al.'s headline setting: a projector trained "
              "on SST-2, tested on SST-2).</p>"),
             _table(["task", *labels, "native", "template", "majority"],
                    [[t, *(_number(row["projected"].get(label)) for label in labels), _number(row["native"]),
                      _number(row["template"]), _number(row["majority"])]
                     for t, row in summary["training_tasks"].items()]),
             "<h2>Zero-shot: every prompt on every held-out task</h2>",
             _img(out / "zero_shot.png"),
             "<h2>Convergence</h2>"]
    panels = {}
    for t in tasks:
        if not (runs := [c for c in cells if c["task"] == t]):
            continue  # an unfinished run's task with no few-shot cell yet
        panels[f"{t} on {target}"] = {"random": mean_curve([c["random"] for c in runs]),
                                      **{f"from {label}": mean_curve([c["projected"][label] for c in runs])
                                         for label in labels}}
    parts.append(_convergence(panels, out))
    write_atomic(out / "report.html", _page("cross-model transfer", parts))


def write_leave_one_out_report(out: Path, spec, table: tuple[list[str], list[list[str]]], columns: dict[str, dict],
                               cells: list[dict]) -> None:
    """zero_shot.png (every projected prompt on every held-out task, as its margin over a random prompt: the
    diagonal is each task's own projection), convergence.png where few-shot cells exist, and report.html with the
    per-fold `table` of summary.md (its header and rows)."""
    held = list(columns)
    margin = lambda task, score: float("nan") if score is None else score - columns[task]["accuracy"]["random"]
    rows = [f"projected {t}" for t in spec.tasks] + ["native prompt", "template, no prompt"]
    matrix = [[margin(h, columns[h]["accuracy"][f"projected:{t}"]) for h in held] for t in spec.tasks]
    matrix += [[margin(h, columns[h]["accuracy"].get("native")) for h in held],
               [margin(h, columns[h]["template"]) for h in held]]
    title = (f"{spec.source} → {spec.target} ({spec.method}, {spec.config.architecture}): test accuracy minus a "
             "random prompt's (rows: prompt, columns: held-out task)")
    plots.heatmap(matrix, rows, held, title, "accuracy − random prompt", out / "zero_shot.png")
    parts = [(f"<h1>Leave one task out: {html.escape(spec.source)} → {html.escape(spec.target)}</h1>"
              f"<p>Each fold trains a projector ({html.escape(spec.method)}, {html.escape(spec.config.architecture)}"
              f", inputs {html.escape(spec.config.inputs)}) without the held-out task, projects every task's source "
              f"prompt and scores them on the held-out task's test split (up to {spec.test_size} examples). "
              f"Few-shot: {spec.shots} examples per class, {spec.train.steps} steps, the own projection against "
              "random init, paired by seed. Raw numbers: results.json; the same table: summary.md.</p>"),
             _img(out / "zero_shot.png"),
             _table(*table)]
    panels = {t: {"random init": mean_curve([c["random"] for c in runs]),
                  "own projection": mean_curve([c["projected"]["own"] for c in runs])}
              for t in held if (runs := [c for c in cells if c["task"] == t])}
    parts.append(_convergence(panels, out))
    write_atomic(out / "report.html", _page("leave one task out", parts))
