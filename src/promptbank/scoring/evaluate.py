"""Evaluating a prompt: score every example's candidates, predict the best one."""

import math
from dataclasses import dataclass

import torch

from promptbank import scoring
from promptbank.backbones import Backbone
from promptbank.scoring.metrics import accuracy, macro_f1


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    macro_f1: float
    n: int
    predictions: tuple[int, ...]

    def __repr__(self) -> str:  # the predictions (one per example) are there to read, not to print
        return f"Evaluation(accuracy={self.accuracy:.4f}, macro_f1={self.macro_f1:.4f}, n={self.n})"

    def as_dict(self) -> dict[str, float]:
        return {"accuracy": self.accuracy, "macro_f1": self.macro_f1, "n": self.n}


def length_batches(items: list, batch_size: int, max_tokens: float = math.inf) -> list[list[int]]:
    """Indices grouped into batches of similar length, so little compute is spent on padding. A batch also closes
    before its padded size (rows × longest row) would pass `max_tokens`, so long examples come in smaller batches
    and memory stays bounded; an item larger than the budget gets a batch of its own."""
    order = sorted(range(len(items)), key=lambda i: items[i].length)
    batches: list[list[int]] = []
    rows = 0
    for i in order:  # ascending length: the item being added is the batch's longest
        if batches and len(batches[-1]) < batch_size and (rows + items[i].n_rows) * items[i].length <= max_tokens:
            batches[-1].append(i)
            rows += items[i].n_rows
        else:
            batches.append([i])
            rows = items[i].n_rows
    return batches


def _bar(total: int, progress: bool | str, unit: str):
    """A progress bar that goes away when done (`progress` True, or its description), or none."""
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=progress if isinstance(progress, str) else None, unit=unit, leave=False,
                disable=not progress)


@torch.inference_mode()
def predict(backbone: Backbone, prompt: torch.Tensor, items: list, batch_size: int = 32,
            progress: bool | str = False) -> list[int]:
    """The predicted candidate of every item; `progress` (True or a description) shows the examples scored."""
    predictions = [0] * len(items)
    with _bar(len(items), progress, "example") as bar:
        for batch in length_batches(items, batch_size):
            best = scoring.score(backbone, prompt, [items[i] for i in batch]).argmax(-1).tolist()
            for i, p in zip(batch, best):
                predictions[i] = p
            bar.update(len(batch))
    return predictions


def evaluate(backbone: Backbone, prompt: torch.Tensor, items: list, batch_size: int = 32,
             progress: bool | str = False) -> Evaluation:
    predictions = predict(backbone, prompt, items, batch_size, progress)
    gold = [item.label for item in items]
    return Evaluation(accuracy(predictions, gold), macro_f1(predictions, gold), len(items), tuple(predictions))


@torch.inference_mode()
def evaluate_each(backbone: Backbone, prompts: torch.Tensor, items: list, batch_size: int = 32,
                  progress: bool | str = False) -> Evaluation:
    """`evaluate` with item i behind its own prompt `prompts[i]` (N, L, d): a prompt made for each input."""
    predictions = [0] * len(items)
    with _bar(len(items), progress, "example") as bar:
        for batch in length_batches(items, batch_size):
            best = scoring.score(backbone, prompts[torch.tensor(batch)], [items[i] for i in batch]).argmax(-1)
            for i, p in zip(batch, best.tolist()):
                predictions[i] = p
            bar.update(len(batch))
    gold = [item.label for item in items]
    return Evaluation(accuracy(predictions, gold), macro_f1(predictions, gold), len(items), tuple(predictions))


def template_accuracy(backbone: Backbone, items: list, batch_size: int = 32) -> float:
    """Accuracy of the task's template with no prompt at all: the floor a prompt has to beat."""
    return evaluate(backbone, torch.zeros(0, backbone.hidden_size), items, batch_size).accuracy


@torch.inference_mode()
def predict_many(backbone: Backbone, prompts: torch.Tensor, items: list, batch_rows: int = 64,
                 prompts_per_pass: int = 8, progress: bool | str = False) -> torch.Tensor:
    """The predicted candidate of every item under each of N prompts (N, L, d): an (N, items) tensor.

    The items are encoded once; each pass scores a block of up to `prompts_per_pass` prompts on
    `batch_rows` (prompt, item) rows of similar length, each prompt passed once (so a causal model reads
    it once and shares it across its rows): a bank of source prompts is scored on a dev set in a few large
    passes instead of N separate evaluations. `progress` (True or a description) shows the (prompt, example)
    pairs scored.
    """
    predictions = torch.zeros(len(prompts), len(items), dtype=torch.long)
    with _bar(len(prompts) * len(items), progress, "pair") as bar:
        for first in range(0, len(prompts), prompts_per_pass):
            block = torch.arange(first, min(first + prompts_per_pass, len(prompts)))
            for batch in length_batches(items, max(1, batch_rows // len(block))):
                prompt_of = torch.arange(len(block)).repeat(len(batch))
                rows = [items[i] for i in batch for _ in block]
                best = scoring.score(backbone, prompts[block], rows, prompt_of).argmax(-1).cpu()
                predictions[block[prompt_of], torch.tensor(batch).repeat_interleave(len(block))] = best
                bar.update(len(rows))
    return predictions


def accuracy_of_many(backbone: Backbone, prompts: torch.Tensor, items: list, batch_rows: int = 64,
                     prompts_per_pass: int = 8, progress: bool | str = "prompts scored") -> torch.Tensor:
    """Accuracy of each of N prompts (N, L, d) on the same items, many prompts per forward pass (`predict_many`).
    Like training, it shows its progress unless told not to (`progress` False, or another description): scoring a
    bank's prompts on a task is long enough on a CPU to need it."""
    labels = torch.tensor([item.label for item in items])
    predictions = predict_many(backbone, prompts, items, batch_rows, prompts_per_pass, progress)
    return (predictions == labels).float().sum(dim=1) / len(items)


def evaluate_many(backbone: Backbone, prompts: torch.Tensor, items: list, batch_rows: int = 64,
                  progress: bool | str = False) -> list[Evaluation]:
    """`evaluate` of each of N prompts (N, L, d) on the same items, many prompts per forward pass."""
    gold = [item.label for item in items]
    evaluations = []
    for row in predict_many(backbone, prompts, items, batch_rows, progress=progress).tolist():
        evaluations.append(Evaluation(accuracy(row, gold), macro_f1(row, gold), len(items), tuple(row)))
    return evaluations
