"""Training many soft prompts at once: K prompts (K tasks, or K seeds of one task) share the forward passes, each
row carrying its own prompt, so a step of all K costs a few large passes instead of K small ones.

Only the passes are shared. Each prompt gets what its own `train_prompt` run would: its own batches, the gradient
of its own mean loss (the loss is the sum of the jobs' means, and no prompt reaches another job's rows), its own
clipping, AdamW state, dev evaluations, best prompt and early stopping. Nothing random happens inside the loop
(backbones load in eval mode, so no dropout; batches come from `epoch_batches`), so the results equal K separate
runs up to float rounding of the larger passes.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file
from tqdm.auto import tqdm

from promptbank import scoring
from promptbank.backbones import Backbone
from promptbank.errors import BadArgumentError, DataError, IncompatiblePromptError
from promptbank.evaluate import Evaluation, length_batches
from promptbank.metrics import accuracy, macro_f1
from promptbank.prompt import SoftPrompt, check_compatible
from promptbank.train import CHECKPOINT_STATE, TrainConfig, TrainResult, _save_checkpoint, _schedule, epoch_batches

# Padded tokens (rows × longest row) a training pass may hold: about one `train_prompt` batch of 8 long examples.
# Backpropagation keeps a pass's activations (~0.8 MB a token on SmolLM2-135M in bfloat16), so 32 long pair or
# multiple-choice examples in one pass would need ten times that; short examples still fill a pass of 32.
PASS_TOKENS = 4096


@dataclass(frozen=True, eq=False)
class Job:
    """One prompt to train: its encoded items (from `scoring.encode`), its start, and the seed of its batches."""

    train_items: list
    dev_items: list
    start: SoftPrompt
    seed: int | None = None  # None: the config's; K seeds of one task are K jobs with the same items
    name: str = ""  # recorded in the checkpoint, so a resume with other jobs is refused


@dataclass(eq=False)
class _Run:
    """One job's training state: what `train_prompt` keeps in its local variables."""

    job: Job
    seed: int
    weights: torch.nn.Parameter
    best: torch.Tensor
    labels: torch.Tensor
    curve: list[dict] = field(default_factory=list)
    best_step: int = 0
    best_dev: float = -math.inf
    bad_evals: int = 0
    losses: list[float] = field(default_factory=list)
    stopped_at: int | None = None  # the step early stopping ended this job
    epoch: tuple[int, list[list[int]]] = (-1, [])  # the current epoch and its batches


def _batch(run: _Run, step: int, batch_size: int) -> list[int]:
    """The batch `train_prompt` would draw for this job at `step` (each epoch's batches made once)."""
    epoch, offset = divmod(step, math.ceil(len(run.job.train_items) / batch_size))
    if run.epoch[0] != epoch:
        run.epoch = (epoch, epoch_batches(run.job.train_items, batch_size, run.seed, epoch))
    return run.epoch[1][offset]


def _check(backbone: Backbone, jobs: list[Job], pass_size: int, pass_tokens: int) -> None:
    if pass_size <= 0 or pass_tokens <= 0:
        raise BadArgumentError(f"A pass needs a positive number of examples and tokens, not {pass_size} and "
                               f"{pass_tokens}.")
    if not jobs:
        raise BadArgumentError("train_many needs at least one job; the job list is empty.")
    for k, job in enumerate(jobs):
        if not job.train_items or not job.dev_items:
            raise DataError(f"Job {k} needs at least one training and one dev example.")
        try:
            check_compatible(job.start, backbone)
        except IncompatiblePromptError as err:
            raise IncompatiblePromptError(f"Job {k}: {err}") from None
        if job.start.length != jobs[0].start.length:
            raise BadArgumentError(f"Prompts trained together must have one length, but job {k}'s has "
                                   f"{job.start.length} positions and job 0's {jobs[0].start.length}.")


def _passes(backbone: Backbone, prompts: torch.Tensor | list[torch.nn.Parameter], items: list,
            prompt_of: torch.Tensor, pass_size: int,
            pass_tokens: float = math.inf) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
    """`items` scored in passes of up to `pass_size` items of similar length (and `pass_tokens` padded tokens),
    whichever prompts they carry (item i behind prompt `prompt_of[i]`): each pass's item indices, their prompt
    indices and their scores. Items of K jobs mixed in one pass would all be padded to the longest, and that
    padding costs more than a larger pass saves on a CPU."""
    for batch in length_batches(items, pass_size, pass_tokens):
        owners = prompt_of[batch]
        used = owners.unique()  # sorted: each prompt of the pass passed once
        scores = scoring.score(backbone, torch.stack([prompts[k] for k in used.tolist()]), [items[i] for i in batch],
                               torch.searchsorted(used, owners))
        yield batch, owners, scores


def _score_in_passes(backbone: Backbone, prompts: torch.Tensor, items: list, prompt_of: torch.Tensor,
                     pass_size: int) -> torch.Tensor:
    """`scoring.score(backbone, prompts, items, prompt_of)`, computed in `_passes`."""
    width = max(item.n_candidates for item in items)
    parts, order = [], []
    for batch, _, scores in _passes(backbone, prompts, items, prompt_of, pass_size):
        parts.append(torch.nn.functional.pad(scores, (0, width - scores.shape[1]), value=-math.inf))
        order += batch
    return torch.cat(parts)[torch.argsort(torch.tensor(order))]


def _backward_in_passes(backbone: Backbone, prompts: list[torch.nn.Parameter], items: list, labels: torch.Tensor,
                        owner: torch.Tensor, weight: torch.Tensor, pass_size: int, pass_tokens: int) -> torch.Tensor:
    """Backpropagate the sum of every job's mean loss over its rows, one pass of `_passes` at a time: a job's mean
    is the sum of its rows' losses times 1/rows, so each pass's share is backpropagated on its own and only one
    pass's activations are held however many jobs train. Returns each job's mean loss. A row's scores past its own
    candidates hold -inf (a pass is as wide as its widest item), adding exp(-inf) = 0 to its softmax: the loss its
    own run computes."""
    losses = torch.zeros(len(weight))
    for batch, owners, scores in _passes(backbone, prompts, items, owner, pass_size, pass_tokens):
        rows = torch.nn.functional.cross_entropy(scores, labels[batch], reduction="none")
        (rows * weight[owners].to(rows.device)).sum().backward()
        losses.index_add_(0, owners, rows.detach().float().cpu() * weight[owners])
    return losses


@torch.inference_mode()
def _evaluate_many(backbone: Backbone, prompts: torch.Tensor, dev_sets: list[list],
                   pass_size: int) -> list[Evaluation]:
    """Prompt k of `prompts` (K, L, d) on its own items `dev_sets[k]`, the K dev sets scored in shared passes."""
    items = [item for dev in dev_sets for item in dev]
    prompt_of = torch.tensor([k for k, dev in enumerate(dev_sets) for _ in dev])
    predicted = _score_in_passes(backbone, prompts, items, prompt_of, pass_size).argmax(-1).tolist()
    evaluations, first = [], 0
    for dev in dev_sets:
        mine, gold, first = predicted[first:first + len(dev)], [item.label for item in dev], first + len(dev)
        evaluations.append(Evaluation(accuracy(mine, gold), macro_f1(mine, gold), len(dev), tuple(mine)))
    return evaluations


def _save(directory: Path, runs: list[_Run], optimizer: torch.optim.Optimizer, identity: dict, step: int,
          elapsed: float) -> None:
    """One checkpoint of every job, stopped ones included, written as `train_prompt` writes its own."""
    tensors = {}
    for k, run in enumerate(runs):
        adam = optimizer.state.get(run.weights, {})
        tensors |= {f"{k}.prompt": run.weights, f"{k}.best": run.best,
                    f"{k}.adam_step": torch.as_tensor(adam.get("step", 0.0), dtype=torch.float32),
                    f"{k}.exp_avg": adam.get("exp_avg", torch.zeros_like(run.weights)),
                    f"{k}.exp_avg_sq": adam.get("exp_avg_sq", torch.zeros_like(run.weights))}
    jobs = [{"curve": r.curve, "best_step": r.best_step, "best_dev": r.best_dev, "bad_evals": r.bad_evals,
             "stopped_at": r.stopped_at} for r in runs]
    _save_checkpoint(directory, tensors, {"step": step, "wall_seconds": elapsed, "jobs": jobs, **identity})


def _resume(directory: Path | None, runs: list[_Run], optimizer: torch.optim.Optimizer,
            identity: dict) -> tuple[int, float] | None:
    """Restore every job from the checkpoint in `directory`, if there is one: (step, wall seconds) it was at."""
    if directory is None or not (directory / CHECKPOINT_STATE).exists():
        return None
    state = json.loads((directory / CHECKPOINT_STATE).read_text())
    if {key: state.get(key) for key in identity} != identity:
        raise BadArgumentError(f"{directory} holds a run with other settings; rerun the same jobs or remove it.")
    tensors = load_file(directory / state["tensors"])
    device = runs[0].weights.device
    for k, (run, saved) in enumerate(zip(runs, state["jobs"])):
        with torch.no_grad():
            run.weights.copy_(tensors[f"{k}.prompt"])
        run.best = tensors[f"{k}.best"].to(device)
        optimizer.state[run.weights] = {"step": tensors[f"{k}.adam_step"],
                                        "exp_avg": tensors[f"{k}.exp_avg"].to(device),
                                        "exp_avg_sq": tensors[f"{k}.exp_avg_sq"].to(device)}
        run.curve, run.best_step, run.best_dev, run.bad_evals, run.stopped_at = (saved[key] for key in (
            "curve", "best_step", "best_dev", "bad_evals", "stopped_at"))
    return state["step"], state["wall_seconds"]


def train_many(backbone: Backbone, jobs: list[Job], config: TrainConfig = TrainConfig(),
               checkpoint_dir: Path | None = None, progress: bool = True, pass_size: int = 32,
               pass_tokens: int = PASS_TOKENS) -> list[TrainResult]:
    """Tune every job's prompt together; result k is what `train_prompt(backbone, job.train_items, job.dev_items,
    job.start, replace(config, seed=job.seed))` returns, up to float rounding.

    A step's K batches (and an evaluation's K dev sets) are scored in passes of up to `pass_size` (dev:
    `config.eval_batch_size`) examples of similar length, whichever jobs they come from; on a CPU, 32 beat one
    pass of all K batches, whose examples would all be padded to the longest (on a GPU, K × batch_size may be
    faster). Each pass is backpropagated as it is scored, so memory holds one pass's activations whatever K is,
    and a training pass also stops at `pass_tokens` padded tokens, so long examples do not multiply it.
    The prompts must have one length.
    A job that stops early leaves the passes; the others go on.
    With `checkpoint_dir`, every evaluation writes one checkpoint of all jobs, and the same call after a kill
    continues from it and ends as an uninterrupted one would.
    """
    _check(backbone, jobs, pass_size, pass_tokens)
    device = backbone.device
    runs = []
    for job in jobs:
        weights = torch.nn.Parameter(job.start.tensor.detach().clone().float().to(device))
        runs.append(_Run(job, config.seed if job.seed is None else job.seed, weights, weights.detach().clone(),
                         scoring.labels_of(job.train_items, device)))
    # one AdamW, whose state is per parameter: each prompt's moments and step count are its own, and a prompt
    # with no gradient (a stopped job) is left as it is
    optimizer = torch.optim.AdamW([run.weights for run in runs], lr=config.lr, weight_decay=config.weight_decay)
    factor = _schedule(config)
    identity = {"config": asdict(config), "seeds": [run.seed for run in runs], "job_names": [job.name for job in jobs]}
    resumed = _resume(checkpoint_dir, runs, optimizer, identity)
    step, wall = resumed or (0, 0.0)
    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc=f"training {len(runs)} prompts",
               unit="step")
    started = time.perf_counter() - wall

    def active() -> list[_Run]:
        return [run for run in runs if run.stopped_at is None]

    def evaluate_and_checkpoint() -> None:
        now = active()
        dev = _evaluate_many(backbone, torch.stack([run.weights.detach() for run in now]),
                             [run.job.dev_items for run in now], config.eval_batch_size)
        elapsed = time.perf_counter() - started
        for run, evaluation in zip(now, dev):
            run.curve.append({"step": step, "train_loss": sum(run.losses) / len(run.losses) if run.losses else None,
                              "dev_accuracy": evaluation.accuracy, "dev_macro_f1": evaluation.macro_f1,
                              "wall_seconds": round(elapsed, 3)})
            run.losses = []
            if step > 0:  # as in train_prompt: the start is on the curve, only trained prompts compete
                if evaluation.accuracy > run.best_dev:
                    run.best, run.best_step, run.best_dev, run.bad_evals = (run.weights.detach().clone(), step,
                                                                            evaluation.accuracy, 0)
                else:
                    run.bad_evals += 1
            if config.patience > 0 and run.bad_evals >= config.patience:
                run.stopped_at = step
        if checkpoint_dir is not None:
            _save(checkpoint_dir, runs, optimizer, identity, step, elapsed)

    if not resumed:
        evaluate_and_checkpoint()
    while step < config.steps and active():
        now = active()
        batches = [_batch(run, step, config.batch_size) for run in now]
        for group in optimizer.param_groups:
            group["lr"] = config.lr * factor(step)
        items = [run.job.train_items[i] for run, batch in zip(now, batches) for i in batch]
        labels = torch.cat([run.labels[batch] for run, batch in zip(now, batches)])
        owner = torch.tensor([n for n, batch in enumerate(batches) for _ in batch])
        optimizer.zero_grad(set_to_none=True)
        losses = _backward_in_passes(backbone, [run.weights for run in now], items, labels, owner,
                                     torch.tensor([1.0 / len(batch) for batch in batches]), pass_size, pass_tokens)
        for run in now:  # each prompt clipped by its own norm, as its own run clips it
            torch.nn.utils.clip_grad_norm_([run.weights], config.max_grad_norm)
        optimizer.step()
        for run, loss in zip(now, losses.tolist()):
            run.losses.append(loss)
        step += 1
        bar.set_postfix(prompts=len(now), loss=f"{losses.mean().item():.3f}", refresh=False)
        bar.update(1)
        if step % config.eval_every == 0 or step == config.steps:
            evaluate_and_checkpoint()
    bar.close()
    results = []
    for run in runs:
        start = run.job.start
        trained = SoftPrompt(run.best.cpu(), start.backbone, start.tokenizer_fingerprint, start.init, start.source,
                             dict(start.info))
        results.append(TrainResult(trained, run.curve, run.best_step, run.best_dev,
                                   step if run.stopped_at is None else run.stopped_at, run.stopped_at is not None))
    return results
