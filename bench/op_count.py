"""ATen ops dispatched per training step and per evaluation batch: promptbank against PEFT prompt tuning.

On a GPU nearly every dispatched op is a kernel launch, and launches, not arithmetic, bound a small model's step
there. Counting ops on the CPU therefore measures the launch cost a GPU would pay, where CPU wall time cannot
(it sees compute). Counts do not depend on the hidden width, only on the architecture and the batch.

Both sides use the same backbone, task, batch (8), prompt (20 tokens) and examples:
- promptbank: its own training loop (`train_prompt`: batching, the forward and backward of each scoring path, gradient
  clipping, AdamW, the learning-rate schedule), counted as the difference between runs of 2 + n and 2 steps, so
  set-up and the evaluations both runs make cancel out; one evaluation batch is `scoring.score` under inference mode.
- PEFT: `get_peft_model(model, PromptTuningConfig(CAUSAL_LM, 20 virtual tokens))` and the loop the PEFT docs show
  (each batch tokenised as "<input> <label word>", loss on the label tokens, AdamW), counted over n steps after one
  warm-up step; one evaluation batch is rank classification as a PEFT user writes it: every (input, candidate)
  sequence in one forward pass, the candidate tokens' log-likelihoods summed.

    python bench/op_count.py [--backbone smollm2-135m] [--task movie_sentences] [--steps 3]

Its last line is `one-pass ops per training step, promptbank / PEFT: <ratio>` (target: at most 1.0).
"""

from __future__ import annotations

import argparse
import os
import random
from collections import Counter

import torch
from torch.utils._python_dispatch import TorchDispatchMode

BATCH, LENGTH, SHOTS = 8, 20, 32
PATHS = ("one-pass", "shared-cache")


class OpCounter(TorchDispatchMode):
    """Counts every ATen op dispatched while it is active (forward, backward and optimiser alike)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[str(func.overloadpacket)] += 1
        return func(*args, **(kwargs or {}))

    @property
    def total(self) -> int:
        return sum(self.ops.values())


def _examples(task_name: str):
    from promptbank.tasks import few_shot, get_task, split
    task = get_task(task_name)
    return task, list(few_shot(split(task).train, SHOTS // 2, seed=0))


def promptbank_counts(backbone_name: str, task_name: str, steps: int, path: str) -> tuple[float, int, Counter]:
    """(ops per training step, ops per evaluation batch, the step's ops by name) on scoring path `path`."""
    from promptbank import scoring
    from promptbank.backbones import load_backbone
    from promptbank.tuning.config import TrainConfig
    from promptbank.tuning.init import init_prompt
    from promptbank.tuning.loop import train_prompt

    os.environ["PROMPTBANK_SCORING_PATH"] = path
    task, examples = _examples(task_name)
    backbone = load_backbone(backbone_name, "float32", "cpu")
    items = scoring.encode(backbone, task, examples)
    start = init_prompt(backbone, LENGTH, "random", seed=0)

    def run(n: int) -> Counter:
        config = TrainConfig(steps=n, eval_every=n, patience=0, batch_size=BATCH, eval_batch_size=BATCH)
        with OpCounter() as counter:
            train_prompt(backbone, items, items[:BATCH], start, config, progress=False)
        return counter.ops

    per_step = run(2 + steps)
    per_step.subtract(run(2))
    with torch.inference_mode(), OpCounter() as evaluation:
        scoring.score(backbone, start.tensor, items[:BATCH])
    return per_step.total() / steps, evaluation.total, per_step


def peft_counts(backbone_name: str, task_name: str, steps: int) -> tuple[float, int]:
    """(ops per training step, ops per evaluation batch) of PEFT prompt tuning with its documented loop."""
    from peft import PromptTuningConfig, TaskType, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from promptbank.backbones import BUILTIN, converted_dir, load_backbone

    task, examples = _examples(task_name)
    load_backbone(backbone_name, "float32", "cpu")  # a bundled backbone is converted to a model folder once
    directory = converted_dir(backbone_name) if backbone_name in BUILTIN else backbone_name
    tokenizer = AutoTokenizer.from_pretrained(directory)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32),
                           PromptTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=LENGTH))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.3)
    order = random.Random(0).sample(range(len(examples)), len(examples))

    def encoded_batch(batch, answers):
        prompts = [task.render(ex) for ex in batch]
        encoded = tokenizer([p + a for p, a in zip(prompts, answers)], return_tensors="pt", padding=True)
        labels = torch.full_like(encoded["input_ids"], -100)
        for row, (p, a) in enumerate(zip(prompts, answers)):
            begin, end = len(tokenizer(p)["input_ids"]), len(tokenizer(p + a)["input_ids"])
            labels[row, begin:end] = encoded["input_ids"][row, begin:end]
        return encoded, labels

    def step(k: int) -> None:
        batch = [examples[i] for i in order[k * BATCH:(k + 1) * BATCH]]
        encoded, labels = encoded_batch(batch, [" " + task.candidates(ex)[ex.label] for ex in batch])
        loss = model(**encoded, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step(0)  # the optimiser's state is created on its first step
    with OpCounter() as training:
        for k in range(1, 1 + steps):
            step(k)
    batch = examples[:BATCH]
    rows = [(ex, c) for ex in batch for c in task.candidates(ex)]
    encoded, labels = encoded_batch([ex for ex, _ in rows], [" " + c for _, c in rows])
    with torch.inference_mode(), OpCounter() as evaluation:  # rank classification over every candidate
        logits = model(**encoded).logits[:, LENGTH:-1]
        logp = logits.log_softmax(-1).gather(-1, encoded["input_ids"][:, 1:, None].clamp(min=0)).squeeze(-1)
        (logp * (labels[:, 1:] != -100)).sum(-1).view(len(batch), -1).argmax(-1)
    return training.total / steps, evaluation.total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="smollm2-135m")
    parser.add_argument("--task", default="movie_sentences")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--top", type=int, default=8, help="list the N most dispatched ops of a one-pass step")
    args = parser.parse_args()
    torch.manual_seed(0)
    peft_step, peft_eval = peft_counts(args.backbone, args.task, args.steps)
    ours = {path: promptbank_counts(args.backbone, args.task, args.steps, path) for path in PATHS}
    print(f"ATen ops dispatched, {args.backbone}, {args.task}, batch {BATCH}, prompt {LENGTH} "
          f"(training: mean of {args.steps} steps)")
    print(f"{'side':<26}{'per training step':>20}{'× PEFT':>9}{'per eval batch':>17}{'× PEFT':>9}")
    print(f"{'PEFT':<26}{peft_step:>20.0f}{1:>9.2f}{peft_eval:>17d}{1:>9.2f}")
    for path, (step, evaluation, _) in ours.items():
        print(f"{'promptbank ' + path:<26}{step:>20.0f}{step / peft_step:>9.2f}{evaluation:>17d}"
              f"{evaluation / peft_eval:>9.2f}")
    top = ours["one-pass"][2].most_common(args.top)
    print("most dispatched in a one-pass step: " + ", ".join(f"{name} {n / args.steps:.0f}" for name, n in top))
    print(f"one-pass ops per training step, promptbank / PEFT: {ours['one-pass'][0] / peft_step:.3f}")


if __name__ == "__main__":
    main()
