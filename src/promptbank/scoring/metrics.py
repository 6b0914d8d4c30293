"""Classification metrics over predicted and gold label indices."""

from collections import Counter
from collections.abc import Sequence


def accuracy(predicted: Sequence[int], gold: Sequence[int]) -> float:
    return sum(p == g for p, g in zip(predicted, gold)) / len(gold)


def macro_f1(predicted: Sequence[int], gold: Sequence[int]) -> float:
    """F1 averaged over every label that occurs in gold or predictions, each label weighing the same."""
    scores = []
    for label in sorted(set(gold) | set(predicted)):
        tp = sum(p == g == label for p, g in zip(predicted, gold))
        fp = sum(p == label != g for p, g in zip(predicted, gold))
        fn = sum(g == label != p for p, g in zip(predicted, gold))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def majority_accuracy(train_labels: Sequence[int], test_labels: Sequence[int]) -> float:
    """Accuracy of always answering the most frequent training label: the floor a prompt must beat."""
    majority = Counter(train_labels).most_common(1)[0][0]
    return accuracy([majority] * len(test_labels), test_labels)
