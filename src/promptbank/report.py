"""report.html for a transfer experiment: one self-contained page (plots embedded as PNG data URLs)."""

from __future__ import annotations

import base64
import html
import tempfile
from pathlib import Path

from promptbank import plots
from promptbank.atomic import write_atomic


def _png(draw, *args) -> str:
    """Draw a plot into a temporary PNG and return it as an <img> with a data URL."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "plot.png"
        draw(*args, path)
        data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}">'


def _number(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _matrix(values: dict[str, dict[str, float | None]], sources: list[str], targets: list[str]) -> list[list[float]]:
    return [[float("nan") if values[s][t] is None else values[s][t] for t in targets] for s in sources]


def mean_curve(runs: list[dict]) -> tuple[list[int], list[float]]:
    """Dev accuracy per evaluated step, averaged over seeds (steps every seed evaluated)."""
    steps = sorted(set.intersection(*[{p["step"] for p in run["curve"]} for run in runs]))
    values = [sum(next(p["dev_accuracy"] for p in run["curve"] if p["step"] == step) for run in runs) / len(runs)
              for step in steps]
    return steps, values


def write_report(path: Path, spec, summary: dict, cells: list[dict]) -> None:
    sources, targets = list(spec.sources), summary["targets"]
    parts = [f"<h1>promptbank transfer experiment</h1><p>backbone <b>{html.escape(spec.backbone)}</b>, "
             f"{spec.shots} examples per class, {spec.steps} training steps per run, prompt length {spec.prompt_length}, "
             f"seeds {', '.join(map(str, spec.seeds))}, test sets of up to {spec.test_size} examples; strategies "
             f"retrieve the top {spec.k} sources by {spec.by}. Raw numbers: results.json, matrix.csv.</p>"
             f"<p><b>{len(cells)} of {summary['cells_planned']} (target, seed) cells finished</b>: "
             f"{html.escape(', '.join(summary['cells_done']))}.</p>"]
    parts.append("<h2>Random init vs transfer init on the same budget</h2>")
    rows = []
    for t in targets:
        for name, r in summary["strategies"][t].items():
            rows.append([t, name, ", ".join(r.get("sources_seed0", [])) or "–", _number(r["test_accuracy"]),
                         _number(r["gain"]), _number(r["steps_to_random_best"], 1)])
    parts.append(_table(["target", "init", "retrieved sources (seed 0)", "test accuracy", "gain over random",
                         "steps to random's best dev"], rows))
    parts.append("<p>Majority-class accuracy: " + ", ".join(f"{t} {_number(summary['majority'][t])}" for t in targets)
                 + ". Steps to random's best dev are means over the seeds where it was reached.</p>")
    for t in targets:
        series = {name: mean_curve([c["random"] if name == "random" else c["strategies"][name]
                                    for c in cells if c["target"] == t]) for name in summary["strategies"][t]}
        parts.append(_png(plots.curves, series, f"convergence on {t} (dev accuracy, mean over seeds)", "step",
                          "dev accuracy"))
    parts.append("<h2>Zero-shot transfer: source prompts used as they are on the target's test set</h2>")
    parts.append(_png(plots.heatmap, _matrix(summary["zero_shot"], sources, targets), sources, targets,
                      "zero-shot test accuracy", "accuracy"))
    if spec.per_source:
        parts.append("<h2>Transfer gain: test accuracy from source init − from random init</h2>")
        parts.append(_png(plots.heatmap, _matrix(summary["gain"], sources, targets), sources, targets,
                          "gain over random init", "accuracy gain"))
        parts.append(f"<p>Mean gain when source and target are of the same kind: "
                     f"{_number(summary['mean_gain_same_kind'])}; of different kinds: "
                     f"{_number(summary['mean_gain_other_kind'])}.</p>")
        parts.append("<h2>Does prompt similarity predict transfer?</h2><p>Spearman correlation between each "
                     "predictor and the transfer gain, over all (source, target) pairs and within each target.</p>")
        groups = ["all pairs", *targets]
        parts.append(_table(["predictor", *(f"ρ, {group}" for group in groups)],
                            [[name, *(_number(rho[group]) for group in groups)]
                             for name, rho in summary["spearman_with_gain"].items()]))
    for metric in spec.metrics:
        parts.append(_png(plots.heatmap, _matrix(summary["similarity"][metric], sources, targets), sources, targets,
                          f"{metric}: source prompt vs target's trained prompt", "similarity"))
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}table{border-collapse:collapse;"
             "margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}img{max-width:100%}")
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>promptbank report</title><style>{style}</style>" \
           f"</head><body>{''.join(parts)}</body></html>"
    write_atomic(path, page)
