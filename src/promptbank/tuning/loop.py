"""The one training loop: AdamW on the parameters of K prompt parameterisations (tuning.params), warmup + decay,
per-job clipping, periodic dev evaluation, early stopping, the best state kept, and checkpoints that resume a
killed run exactly.

Each job is one parameterisation with its own items: K tasks, K seeds of one task, a projector over many tasks'
prompts, a pre-training format. Only the forward passes are shared: a step's K batches are scored in passes of
similar-length items whichever jobs they come from, each row behind its own job's prompt. Each job gets what a
run of its own would: its own batches (a pure function of its seed and the epoch), the gradient of its own mean
loss (the loss is the sum of the jobs' means, and no job's parameters reach another job's rows), its own
clipping, AdamW moments, dev evaluations, best state and early stopping. Nothing random happens inside the loop
(backbones load in eval mode, so no dropout), so K jobs trained together equal K separate runs up to float
rounding of the larger passes, and a resumed run equals an uninterrupted one bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save
from tqdm.auto import tqdm

from promptbank import scoring
from promptbank.atomic import write_atomic
from promptbank.backbones import Backbone
from promptbank.errors import BadArgumentError, DataError, IncompatiblePromptError
from promptbank.scoring.evaluate import Evaluation, length_batches
from promptbank.scoring.metrics import accuracy, macro_f1
from promptbank.tuning.config import Reparam, Step, TrainConfig
from promptbank.tuning.init import embedding_rms
from promptbank.tuning.params import PlainPrompt, PromptParams, ResidualPrompt, ScaledPrompt
from promptbank.tuning.prompt import SoftPrompt, check_compatible

CHECKPOINT_TENSORS, CHECKPOINT_STATE = "checkpoint.safetensors", "checkpoint.json"
# Padded tokens (rows × longest row) a training pass may hold: about one batch of 8 long examples. Backpropagation
# keeps a pass's activations (~0.8 MB a token on SmolLM2-135M in bfloat16), so 32 long pair or multiple-choice
# examples in one pass would need ten times that; short examples still fill a pass of 32.
PASS_TOKENS = 4096


@dataclass(frozen=True, eq=False)
class Job:
    """One parameterisation to train on its encoded items (from `scoring.encode`).

    `start` is a SoftPrompt (trained as a plain prompt, and returned as one with its metadata) or any
    PromptParams module. `rows`/`dev_rows` name the row of the module's output each item reads (None: row 0).
    A job may have no training items when its module's penalty is its whole objective, and no dev items when
    it keeps its last state rather than its best on dev.
    """

    train_items: list
    dev_items: list
    start: SoftPrompt | PromptParams
    seed: int | None = None  # None: the config's; K seeds of one task are K jobs with the same items
    name: str = ""  # recorded in the checkpoint, so a resume with other jobs is refused
    rows: tuple[int, ...] | None = None
    dev_rows: tuple[int, ...] | None = None


@dataclass
class TrainResult:
    prompt: SoftPrompt | None  # the best prompt on dev, for a job started from a SoftPrompt
    curve: list[dict]  # {step, train_loss, dev_accuracy, dev_macro_f1, wall_seconds} at every evaluation
    best_step: int
    best_dev: float
    steps_done: int
    stopped_early: bool
    state: dict[str, torch.Tensor] = field(default_factory=dict)  # the best state of the job's trainable parameters


@dataclass(eq=False)
class _Run:
    """One job's training state."""

    job: Job
    seed: int
    module: PromptParams
    rows: tuple[int, ...]  # the row each training item reads
    init: torch.Tensor | None  # the prompt the module gave before training (None for a module of many prompts)
    best: dict[str, torch.Tensor]
    curve: list[dict] = field(default_factory=list)
    best_step: int = 0
    best_dev: float = -math.inf
    bad_evals: int = 0
    losses: list[torch.Tensor] = field(default_factory=list)  # since the last evaluation, on the device
    stopped_at: int | None = None  # the step early stopping ended this job
    epoch: tuple[int, list[list[int]]] = (-1, [])  # the current epoch and its batches

    @property
    def parameters(self) -> dict[str, torch.nn.Parameter]:
        return {name: p for name, p in self.module.named_parameters() if p.requires_grad}

    def snapshot(self) -> dict[str, torch.Tensor]:
        return {name: p.detach().clone() for name, p in self.parameters.items()}


def epoch_batches(items: list, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """One epoch's batches: shuffled, then bucketed by length in windows of 8 batches, order shuffled.

    A pure function of (seed, epoch), so a resumed run sees exactly the batches it would have seen.
    """
    rng = random.Random(seed * 100_003 + epoch)
    order = list(range(len(items)))
    rng.shuffle(order)
    window = batch_size * 8
    batches = []
    for start in range(0, len(order), window):
        chunk = order[start:start + window]
        batches += [[chunk[i] for i in b] for b in length_batches([items[i] for i in chunk], batch_size)]
    rng.shuffle(batches)
    return batches


def _batch(run: _Run, step: int, batch_size: int) -> list[int]:
    """The job's batch at `step` (each epoch's batches made once); empty for a job with no items."""
    if not run.job.train_items:
        return []
    epoch, offset = divmod(step, math.ceil(len(run.job.train_items) / batch_size))
    if run.epoch[0] != epoch:
        run.epoch = (epoch, epoch_batches(run.job.train_items, batch_size, run.seed, epoch))
    return run.epoch[1][offset]


def _module(job: Job, device: torch.device, scale: float | None, reparam: Reparam) -> PromptParams:
    """The job's parameterisation: a plain prompt is trained as itself, in units of `scale` where the step is
    relative, or through the residual MLP."""
    if not isinstance(job.start, SoftPrompt):
        return job.start.to(device)
    if reparam is Reparam.RESIDUAL:
        return ResidualPrompt(job.start).to(device)
    return (PlainPrompt(job.start) if scale is None else ScaledPrompt(job.start, scale)).to(device)


def _start(job: Job) -> SoftPrompt | None:
    """The SoftPrompt a job began from (its metadata travels to the trained prompt), if it has one."""
    return job.start if isinstance(job.start, SoftPrompt) else job.start.start


def _check(backbone: Backbone, jobs: list[Job], pass_size: int, pass_tokens: int) -> None:
    if pass_size <= 0 or pass_tokens <= 0:
        raise BadArgumentError(f"A pass needs a positive number of examples and tokens, not {pass_size} and "
                               f"{pass_tokens}.")
    if not jobs:
        raise BadArgumentError("Training needs at least one job; the job list is empty.")
    starts = [_start(job) for job in jobs]
    for k, (job, start) in enumerate(zip(jobs, starts)):
        if start is not None and (not job.train_items or not job.dev_items):
            raise DataError(f"Job {k} needs at least one training and one dev example." if len(jobs) > 1 else
                            "Training needs at least one training and one dev example.")
        for items, rows in ((job.train_items, job.rows), (job.dev_items, job.dev_rows)):
            if rows is not None and len(rows) != len(items):
                raise BadArgumentError(f"Job {k} names {len(rows)} rows for {len(items)} items.")
        if start is not None:
            try:
                check_compatible(start, backbone)
            except IncompatiblePromptError as err:
                raise IncompatiblePromptError(f"Job {k}: {err}" if len(jobs) > 1 else str(err)) from None
    lengths = [(k, start.length) for k, start in enumerate(starts) if start is not None]
    if odd := next(((k, length) for k, length in lengths if length != lengths[0][1]), None):
        raise BadArgumentError(f"Prompts trained together must have one length, but job {odd[0]}'s has {odd[1]} "
                               f"positions and job {lengths[0][0]}'s {lengths[0][1]}.")


def _rows_of(rows: tuple[int, ...] | None, n: int) -> tuple[int, ...]:
    return (0,) * n if rows is None else tuple(rows)


def _prompts(runs: list[_Run], rows: list[list[int]]) -> tuple[torch.Tensor | None, list[int]]:
    """The prompts of the distinct rows the runs' items read, every run's stacked (None when no run has items), and
    the index there of each item's prompt. The bookkeeping stays on the host: on an accelerator every tensor op is
    a launch."""
    outputs, owners, offset = [], [], 0
    for run, item_rows in zip(runs, rows):
        used = sorted(set(item_rows))  # each prompt passed once; a run with no items adds none
        if used:
            outputs.append(run.module(torch.tensor(used)))
        position = {row: offset + k for k, row in enumerate(used)}
        owners += [position[row] for row in item_rows]
        offset += len(used)
    if not outputs:
        return None, owners
    return (outputs[0] if len(outputs) == 1 else torch.cat(outputs)), owners


def _passes(backbone: Backbone, prompts: torch.Tensor, items: list, prompt_of: list[int], pass_size: int,
            pass_tokens: float = math.inf) -> Iterator[tuple[list[int], torch.Tensor]]:
    """`items` scored in passes of up to `pass_size` items of similar length (and `pass_tokens` padded tokens),
    item i behind prompt `prompt_of[i]`: each pass's item indices and their scores. Items of K jobs mixed in one
    pass would all be padded to the longest, and that padding costs more than a larger pass saves on a CPU."""
    for batch in length_batches(items, pass_size, pass_tokens):
        owners = [prompt_of[i] for i in batch]
        used = sorted(set(owners))
        chosen = prompts if len(used) == len(prompts) else prompts[torch.tensor(used)]
        position = {owner: k for k, owner in enumerate(used)}
        yield batch, scoring.score(backbone, chosen, [items[i] for i in batch],
                                   torch.tensor([position[owner] for owner in owners]))


def _step(backbone: Backbone, runs: list[_Run], batches: list[list[int]], pass_size: int,
          pass_tokens: int) -> torch.Tensor:
    """Backpropagate the sum of every job's mean loss (plus its penalty), one pass at a time: a job's mean is
    the sum of its rows' losses times 1/rows, so each pass's share is backpropagated on its own into the prompts
    (leaves cut from the modules' outputs), and only one pass's activations are held however many jobs train;
    then the prompts' gradients flow once through each module. Returns each job's loss. A row's scores past its
    own candidates hold -inf (a pass is as wide as its widest item), adding exp(-inf) = 0 to its softmax."""
    joined, owners = _prompts(runs, [[run.rows[i] for i in batch] for run, batch in zip(runs, batches)])
    losses = torch.zeros(len(runs), device=backbone.device)  # read by the host only when logged
    tensors, grads = [], []
    if joined is not None:
        leaf = joined.detach().requires_grad_()
        items = [run.job.train_items[i] for run, batch in zip(runs, batches) for i in batch]
        job_of = [k for k, batch in enumerate(batches) for _ in batch]
        for batch, scores in _passes(backbone, leaf, items, owners, pass_size, pass_tokens):
            # each item's label and job, and its weight 1/(its job's batch size): two tensors
            label, job = torch.tensor([(items[i].label, job_of[i]) for i in batch], device=scores.device).unbind(1)
            weight = torch.tensor([1.0 / len(batches[job_of[i]]) for i in batch], device=scores.device)
            weighted = torch.nn.functional.cross_entropy(scores, label, reduction="none") * weight
            weighted.sum().backward()
            losses.index_add_(0, job, weighted.detach().float())
        tensors.append(joined)
        grads.append(leaf.grad)
    for k, run in enumerate(runs):
        penalty = run.module.penalty()
        if penalty is not None:
            tensors.append(penalty)
            grads.append(torch.ones_like(penalty))
            losses[k] += penalty.detach().float()
    if tensors:
        torch.autograd.backward(tensors, grads)
    return losses


@torch.inference_mode()
def _evaluate(backbone: Backbone, runs: list[_Run], pass_size: int) -> list[Evaluation]:
    """Each run's module on its own dev items, the dev sets scored in shared passes."""
    prompts, owners = _prompts(runs, [list(_rows_of(run.job.dev_rows, len(run.job.dev_items))) for run in runs])
    items = [item for run in runs for item in run.job.dev_items]
    width = max(item.n_candidates for item in items)
    parts, order = [], []
    for batch, scores in _passes(backbone, prompts, items, owners, pass_size):
        parts.append(torch.nn.functional.pad(scores, (0, width - scores.shape[1]), value=-math.inf))
        order += batch
    predicted = torch.cat(parts)[torch.argsort(torch.tensor(order))].argmax(-1).tolist()
    evaluations, first = [], 0
    for run in runs:
        dev = run.job.dev_items
        mine, gold, first = predicted[first:first + len(dev)], [item.label for item in dev], first + len(dev)
        evaluations.append(Evaluation(accuracy(mine, gold), macro_f1(mine, gold), len(dev), tuple(mine)))
    return evaluations


# what a checkpoint records of its run, and how a refusal names it
IDENTITY = {"config": "training settings", "seeds": "seeds", "job_names": "jobs", "backbone": "backbone",
            "data": "training or dev examples (task, data or shots)", "starts": "starting prompts (init or length)"}


def _digest(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()[:16]


def save_checkpoint(directory: Path, tensors: dict[str, torch.Tensor], state: dict) -> None:
    """The tensors go to a new file named by step, then the JSON naming it replaces the old one (the commit
    mark), then older tensor files go: a kill at any moment leaves the last complete checkpoint."""
    step = state["step"]
    write_atomic(directory / f"{step}.{CHECKPOINT_TENSORS}",
                 save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}))
    state = {**state, "tensors": f"{step}.{CHECKPOINT_TENSORS}"}
    write_atomic(directory / CHECKPOINT_STATE, json.dumps(state))
    for old in directory.glob(f"*.{CHECKPOINT_TENSORS}"):
        if old.name != state["tensors"]:
            old.unlink()


def _save(directory: Path, runs: list[_Run], optimizer: torch.optim.Optimizer, identity: dict, step: int,
          elapsed: float) -> None:
    """One checkpoint of every job, stopped ones included: parameters, best state and AdamW moments."""
    tensors = {}
    for k, run in enumerate(runs):
        for name, parameter in run.parameters.items():
            adam = optimizer.state.get(parameter, {})
            tensors |= {f"{k}.{name}": parameter, f"{k}.best.{name}": run.best[name],
                        f"{k}.adam_step.{name}": torch.as_tensor(adam.get("step", 0.0), dtype=torch.float32),
                        f"{k}.exp_avg.{name}": adam.get("exp_avg", torch.zeros_like(parameter)),
                        f"{k}.exp_avg_sq.{name}": adam.get("exp_avg_sq", torch.zeros_like(parameter))}
    jobs = [{"curve": r.curve, "best_step": r.best_step, "best_dev": r.best_dev, "bad_evals": r.bad_evals,
             "stopped_at": r.stopped_at} for r in runs]
    save_checkpoint(directory, tensors, {"step": step, "wall_seconds": elapsed, "jobs": jobs, **identity})


def _resume(directory: Path | None, runs: list[_Run], optimizer: torch.optim.Optimizer,
            identity: dict) -> tuple[int, float] | None:
    """Restore every job from the checkpoint in `directory`, if there is one: (step, wall seconds) it was at."""
    if directory is None or not (directory / CHECKPOINT_STATE).exists():
        return None
    state = json.loads((directory / CHECKPOINT_STATE).read_text())
    # checkpoints written before the backbone, data and starts were recorded are checked on what they hold
    if differ := [IDENTITY[key] for key, value in identity.items() if key in state and state[key] != value]:
        raise BadArgumentError(f"{directory} holds a checkpoint of another run (its {', '.join(differ)} differ); "
                               "rerun the command that made it, or remove it.")
    tensors = load_file(directory / state["tensors"])
    for k, (run, saved) in enumerate(zip(runs, state["jobs"])):
        for name, parameter in run.parameters.items():
            device = parameter.device
            with torch.no_grad():
                parameter.copy_(tensors[f"{k}.{name}"])
            run.best[name] = tensors[f"{k}.best.{name}"].to(device)
            optimizer.state[parameter] = {"step": tensors[f"{k}.adam_step.{name}"],
                                          "exp_avg": tensors[f"{k}.exp_avg.{name}"].to(device),
                                          "exp_avg_sq": tensors[f"{k}.exp_avg_sq.{name}"].to(device)}
        run.curve, run.best_step, run.best_dev, run.bad_evals, run.stopped_at = (saved[key] for key in (
            "curve", "best_step", "best_dev", "bad_evals", "stopped_at"))
    return state["step"], state["wall_seconds"]


def _result(run: _Run, steps_done: int) -> TrainResult:
    """The job's result; its module is left holding the best state, and a module that makes one prompt gives it
    as a SoftPrompt with its start's metadata."""
    with torch.no_grad():
        for name, parameter in run.parameters.items():
            parameter.copy_(run.best[name])
    start, tensor = run.module.start, run.module.prompt()
    prompt = None
    if start is not None and tensor is not None:
        prompt = SoftPrompt(tensor.detach().cpu().clone(), start.backbone, start.tokenizer_fingerprint, start.init,
                            start.source, dict(start.info), init_tensor=run.init)
    stopped = run.stopped_at is not None
    return TrainResult(prompt, run.curve, run.best_step, run.best_dev, run.stopped_at if stopped else steps_done,
                       stopped, {name: tensor.cpu() for name, tensor in run.best.items()})


def train_many(backbone: Backbone, jobs: list[Job], config: TrainConfig = TrainConfig(),
               checkpoint_dir: Path | None = None, progress: bool = True, pass_size: int = 32,
               pass_tokens: int = PASS_TOKENS, desc: str | None = None) -> list[TrainResult]:
    """Train every job's parameterisation together; result k is what training job k alone would give (with
    the config's seed replaced by the job's), up to float rounding. In bfloat16 that rounding can grow in training:
    on Gemma-3-270M one job alone and among five others ends 20 steps later with task vectors of cosine 0.61
    (reports/task-vectors/drift/), so compare such runs over seeds, not one by one.

    A step's K batches (and an evaluation's K dev sets) are scored in passes of up to `pass_size` (dev:
    `config.eval_batch_size`) examples of similar length, whichever jobs they come from; on a CPU, 32 beat one
    pass of all K batches, whose examples would all be padded to the longest. Each pass is backpropagated as it
    is scored, so memory holds one pass's activations whatever K is, and a training pass also stops at
    `pass_tokens` padded tokens, so long examples do not multiply it. A job that stops early leaves the passes;
    the others go on. The learning rate and warmup left open in `config` come from the backbone's recipe.
    With `checkpoint_dir`, every evaluation writes one checkpoint of all jobs, and the same call after a kill
    continues from it and ends as an uninterrupted one would.
    """
    _check(backbone, jobs, pass_size, pass_tokens)
    config = config.for_backbone(backbone.name)
    torch.manual_seed(config.seed)
    device = backbone.device
    scale = embedding_rms(backbone) if config.step is Step.RELATIVE else None
    runs = []
    for job in jobs:
        module = _module(job, device, scale, config.reparam)
        initial = module.prompt()  # taken before a resume restores a later state
        initial = None if initial is None else initial.detach().cpu().clone()
        run = _Run(job, config.seed if job.seed is None else job.seed, module, _rows_of(job.rows, len(job.train_items)),
                   initial, {})
        run.best = run.snapshot()
        runs.append(run)
    # one AdamW, whose state is per parameter: each job's moments and step counts are its own, and a parameter
    # with no gradient (a stopped job's) is left as it is
    # fused: one kernel for the whole update, where the device has one
    optimizer = torch.optim.AdamW([p for run in runs for p in run.parameters.values()], lr=config.lr,
                                  weight_decay=config.weight_decay, fused=device.type in ("cpu", "cuda"))
    identity = {"config": asdict(config), "seeds": [run.seed for run in runs], "job_names": [job.name for job in jobs],
                "backbone": backbone.name, "data": [_digest(repr((job.train_items, job.dev_items))) for job in jobs],
                "starts": [_digest(save({k: v.detach().contiguous().cpu() for k, v in run.best.items()}))
                           for run in runs]}
    resumed = _resume(checkpoint_dir, runs, optimizer, identity)
    step, wall = resumed or (0, 0.0)
    bar = tqdm(total=config.steps, initial=step, disable=not progress, unit="step",
               desc=desc or ("training" if len(runs) == 1 else f"training {len(runs)} prompts"))
    started, seen = time.perf_counter() - wall, 0

    def active() -> list[_Run]:
        return [run for run in runs if run.stopped_at is None]

    def evaluate_and_checkpoint() -> None:
        now = active()
        for run in now:  # checked before anything is saved: a diverged state never overwrites the last good one
            if run.losses and not bool(torch.isfinite(torch.stack(run.losses)).all()):
                kept = " (the last checkpoint is kept)" if checkpoint_dir is not None and step > config.eval_every \
                    else ""
                raise DataError(f"Training diverged before step {step}: the loss of {run.job.name or 'the job'} is not "
                                f"finite{kept}; lower the learning rate or check the data.")
        with_dev = [run for run in now if run.job.dev_items]
        dev = dict(zip(with_dev, _evaluate(backbone, with_dev, config.eval_batch_size))) if with_dev else {}
        elapsed = time.perf_counter() - started
        for run in now:
            point = {"step": step, "train_loss": torch.stack(run.losses).mean().item() if run.losses else None}
            run.losses = []
            if run in dev:
                point |= {"dev_accuracy": dev[run].accuracy, "dev_macro_f1": dev[run].macro_f1}
            run.curve.append(point | {"wall_seconds": round(elapsed, 3)})
            if step == 0:  # the start is on the curve, but only trained states compete to be kept
                continue
            if run not in dev:  # nothing to choose by: the last state is kept
                run.best, run.best_step = run.snapshot(), step
            elif dev[run].accuracy > run.best_dev:
                run.best, run.best_step, run.best_dev, run.bad_evals = run.snapshot(), step, dev[run].accuracy, 0
            else:
                run.bad_evals += 1
            if config.patience > 0 and run.bad_evals >= config.patience:
                run.stopped_at = step
        if checkpoint_dir is not None:
            _save(checkpoint_dir, runs, optimizer, identity, step, elapsed)

    if not resumed:
        evaluate_and_checkpoint()
    postfix = _postfix(runs)
    while step < config.steps and active():
        now = active()
        batches = [_batch(run, step, config.batch_size) for run in now]
        for group in optimizer.param_groups:
            group["lr"] = config.lr * config.lr_factor(step)
        optimizer.zero_grad(set_to_none=True)
        losses = _step(backbone, now, batches, pass_size, pass_tokens)
        for run in now:  # each job clipped by its own norm, as its own run clips it
            torch.nn.utils.clip_grad_norm_(list(run.parameters.values()), config.max_grad_norm)
        optimizer.step()
        for k, run in enumerate(now):
            run.losses.append(losses[k])
        step += 1
        seen += sum(len(batch) for batch in batches)
        if step % config.eval_every == 0 or step == config.steps:
            evaluate_and_checkpoint()
            postfix = _postfix(runs)  # the host reads the losses here, not every step
        postfix["ex_s"] = f"{seen / max(1e-9, time.perf_counter() - started - wall):.1f}"
        bar.set_postfix(refresh=False, **postfix)
        bar.update(1)
    bar.close()
    return [_result(run, step) for run in runs]


def _postfix(runs: list[_Run]) -> dict[str, str]:
    """What the progress bar shows from the last evaluation: the mean training loss since the one before, and for a
    single job its dev accuracy and best so far."""
    losses = [run.curve[-1]["train_loss"] for run in runs if run.curve and run.curve[-1]["train_loss"] is not None]
    postfix = {"loss": f"{sum(losses) / len(losses):.4g}"} if losses else {}
    if len(runs) > 1:
        return {"prompts": sum(run.stopped_at is None for run in runs)} | postfix
    run = runs[0]
    if run.job.dev_items and run.curve:  # no trained prompt evaluated yet: no best
        postfix |= {"dev": f"{run.curve[-1]['dev_accuracy']:.3f}",
                    "best": "-" if run.best_step == 0 else f"{run.best_dev:.3f}"}
    return postfix


def train_prompt(backbone: Backbone, train_items: list, dev_items: list, prompt: SoftPrompt | PromptParams,
                 config: TrainConfig = TrainConfig(), checkpoint_dir: Path | None = None,
                 progress: bool = True, desc: str | None = None) -> TrainResult:
    """Tune one prompt (or parameterisation) on encoded items, keeping the best on dev: `train_many` with one job.

    With `checkpoint_dir`, a checkpoint is written at every evaluation and a killed run started again with the
    same arguments continues from it and ends exactly as an uninterrupted run would.
    """
    return train_many(backbone, [Job(train_items, dev_items, prompt)], config, checkpoint_dir, progress, desc=desc)[0]

