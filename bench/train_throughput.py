"""Training-step throughput and peak memory: promptbank vs PEFT prompt tuning with a plain PyTorch loop.

Both sides train a 20-token prompt on the same backbone (smollm2-135m), the same few-shot examples of a
real task, batch 8, the same number of steps. Each side runs in its own child process, one after the
other, so its peak RSS is its own and the two never share the 2 cores.

PEFT side: `get_peft_model(model, PromptTuningConfig(CAUSAL_LM, 20 virtual tokens))`, each batch
tokenised as "<input> <label word>" with padding=True, loss on the label token (labels = -100 elsewhere),
AdamW on the prompt — the loop the PEFT docs show. It is also timed with bf16 autocast, for reference.

With `--backbone proxy` both sides train on a tiny random Llama (one layer, width 32) whose compute is negligible,
so a step's time is the host's work around the model (batching, tokenising, the optimiser, Python): the proxy for
overhead that a GPU would otherwise expose.

Both sides run on `--device` (default: promptbank's, cuda where there is one). On a GPU the clock is read after the
device finishes its queued work, and peak memory is the GPU's (torch's peak allocation) instead of the process's RSS.

    python bench/train_throughput.py [--steps 12] [--task movie_sentences] [--backbone smollm2-135m|proxy] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TASK, SHOTS, BATCH, LENGTH, WARMUP = "movie_sentences", 32, 8, 20, 2


def _clock(device: str) -> float:
    """Seconds on the wall clock once the device has finished the work queued so far."""
    import torch
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
    return time.perf_counter()


def _examples(task_name: str):
    from promptbank.tasks import few_shot, get_task, split
    task = get_task(task_name)
    return task, list(few_shot(split(task).train, SHOTS, seed=0))


def run_promptbank(task_name: str, model: str, steps: int, dtype: str, device: str) -> dict:
    import torch

    from promptbank import scoring
    from promptbank.backbones import load_backbone
    from promptbank.tuning.init import init_prompt
    from promptbank.tuning.loop import epoch_batches

    task, examples = _examples(task_name)
    backbone = load_backbone(model, dtype, device)
    items = scoring.encode(backbone, task, examples)
    labels = scoring.labels_of(items, backbone.device)
    weights = torch.nn.Parameter(init_prompt(backbone, LENGTH, "random").tensor.to(backbone.device))  # as train.py
    optimizer = torch.optim.AdamW([weights], lr=0.3)
    batches = [b for epoch in range(10) for b in epoch_batches(items, BATCH, 0, epoch)]
    seen, started = 0, 0.0
    for step in range(WARMUP + steps):
        if step == WARMUP:
            started = _clock(device)
        batch = batches[step]
        loss = torch.nn.functional.cross_entropy(scoring.score(backbone, weights, [items[i] for i in batch]),
                                                 labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seen += len(batch) if step >= WARMUP else 0
    return {"examples_per_s": seen / (_clock(device) - started)}


def run_peft(task_name: str, model_name: str, steps: int, autocast: bool, device: str) -> dict:
    import contextlib
    import random

    import torch
    from peft import PromptTuningConfig, TaskType, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from promptbank.backbones import BUILTIN, converted_dir

    task, examples = _examples(task_name)
    directory = converted_dir(model_name) if model_name in BUILTIN else model_name
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(directory),
                           PromptTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=LENGTH)).to(device)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.3)
    order = [i for epoch in range(10) for i in random.Random(epoch).sample(range(len(examples)), len(examples))]
    seen, started = 0, 0.0
    for step in range(WARMUP + steps):
        if step == WARMUP:
            started = _clock(device)
        batch = [examples[i] for i in order[step * BATCH:(step + 1) * BATCH]]
        prompts = [task.render(ex) for ex in batch]
        answers = [" " + task.candidates(ex)[ex.label] for ex in batch]
        encoded = tokenizer([p + a for p, a in zip(prompts, answers)], return_tensors="pt", padding=True)
        labels = torch.full_like(encoded["input_ids"], -100)
        for row, (p, a) in enumerate(zip(prompts, answers)):
            start, end = len(tokenizer(p)["input_ids"]), len(tokenizer(p + a)["input_ids"])
            labels[row, start:end] = encoded["input_ids"][row, start:end]
        context = (torch.autocast(torch.device(device).type, dtype=torch.bfloat16) if autocast
                   else contextlib.nullcontext())
        with context:
            loss = model(**encoded.to(device), labels=labels.to(device)).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seen += len(batch) if step >= WARMUP else 0
    return {"examples_per_s": seen / (_clock(device) - started)}


SIDES = {
    "promptbank": lambda a: run_promptbank(a.task, a.model, a.steps, "auto", a.device),
    "promptbank-fp32": lambda a: run_promptbank(a.task, a.model, a.steps, "float32", a.device),
    "peft": lambda a: run_peft(a.task, a.model, a.steps, False, a.device),
    "peft-bf16-autocast": lambda a: run_peft(a.task, a.model, a.steps, True, a.device),
}


def _peak_mb(device: str) -> float:
    """Peak memory of this process: the GPU's peak allocation on cuda, the resident set on the CPU."""
    import torch
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--task", default=TASK)
    parser.add_argument("--backbone", default="smollm2-135m", help="smollm2-135m, or proxy (overhead only)")
    parser.add_argument("--device", help="cpu, cuda or cuda:N (default: promptbank's, cuda where there is one)")
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)  # the child's backbone name or model folder
    args = parser.parse_args()
    if args.side:  # child process: one side, one JSON line
        result = SIDES[args.side](args)
        result["peak_mb"] = _peak_mb(args.device)
        print(json.dumps(result))
        return
    from promptbank.backbones import resolve_device
    from promptbank.errors import BadArgumentError
    try:
        args.device = resolve_device(args.device)
    except BadArgumentError as error:
        parser.error(str(error))
    from rich.console import Console
    from rich.table import Table
    results = {}
    with tempfile.TemporaryDirectory() as proxy_dir:
        if args.backbone == "proxy":
            from proxy import write_proxy
            model = str(write_proxy(Path(proxy_dir), "overhead"))
        else:
            model = args.backbone
        for side in SIDES:
            child = subprocess.run([sys.executable, __file__, "--side", side, "--steps", str(args.steps), "--task",
                                    args.task, "--model", model, "--device", args.device],
                                   capture_output=True, text=True, check=True)
            results[side] = json.loads(child.stdout.strip().splitlines()[-1])
    base = results["peft"]
    memory = "peak GPU memory" if args.device.startswith("cuda") else "peak RSS"
    table = Table("side", "examples/s", "ms/step", f"{memory} (MB)", "throughput × PEFT", f"{memory} × PEFT",
                  title=f"train step, {args.backbone} on {args.device}, {args.task}, batch {BATCH}, prompt {LENGTH}, "
                        f"{args.steps} steps")
    for side, r in results.items():
        table.add_row(side, f"{r['examples_per_s']:.2f}", f"{1000 * BATCH / r['examples_per_s']:.1f}",
                      f"{r['peak_mb']:.0f}", f"{r['examples_per_s'] / base['examples_per_s']:.2f}",
                      f"{r['peak_mb'] / base['peak_mb']:.2f}")
    console = Console(width=140)
    console.print(table)
    pb = results["promptbank"]
    if args.backbone == "proxy":
        ratio = base["examples_per_s"] / pb["examples_per_s"]
        console.print(f"proxy step time, promptbank / PEFT: {ratio:.2f} (target: <= 1, host overhead no larger "
                      f"than PEFT's)")
    else:
        console.print(f"promptbank vs PEFT: {pb['examples_per_s'] / base['examples_per_s']:.2f}x throughput at "
                      f"{pb['peak_mb'] / base['peak_mb']:.2f}x {memory} (target: >= 2x at <= 1x)")


if __name__ == "__main__":
    main()
