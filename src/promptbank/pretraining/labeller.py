"""The sentiment pseudo-labeller behind PPT's 5-level sentence sentiment pre-training task.

PPT labels its pre-training sentences with a RoBERTa fine-tuned on 5-star reviews (Yelp-5); no such model or data
is offline here. promptbank labels a sentence with two sentiment lexicons, VADER (compound score) and TextBlob
(polarity), each cut into five levels at fixed thresholds, and keeps the sentence only where the two agree
(`lexicon_levels`). The thresholds are not tuned: ±0.05 is VADER's own neutral band, ±0.5 splits polar from
strongly polar, the same for both scores (each in [-1, 1]).

No labelled 5-class sentence set is offline either, so it is measured on 3-class sets it never saw, with its
levels collapsed (terrible/bad → negative, neutral, good/great → positive), on the test examples of each, up to
1,000 (`agreement_accuracy`): tweet_sentiment 0.569 on the 41% of tweets the two lexicons agree on (VADER alone 0.467
on all), drug_reviews 0.659 on 23% (VADER alone 0.523). The labeller it replaces (a bag-of-words model
trained on food and drug reviews, its score's quintiles over the corpus taken as levels) scored 0.364 and 0.482
on the same examples: quintiles force four polar classes onto mostly neutral text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

LEVELS = 5
THRESHOLDS = (-0.5, -0.05, 0.05, 0.5)  # a score's level is how many of these it exceeds
# texts -> each text's level 0 (most negative) .. LEVELS-1, or None where the text is left unlabelled
LevelLabeller = Callable[[Sequence[str]], list[int | None]]


def level(score: float, thresholds: tuple[float, ...] = THRESHOLDS) -> int:
    return sum(score > t for t in thresholds)


@cache
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    return SentimentIntensityAnalyzer()


def lexicon_scores(texts: Sequence[str]) -> list[tuple[float, float]]:
    """(VADER compound, TextBlob polarity) of each text."""
    from textblob import TextBlob
    return [(_vader().polarity_scores(text)["compound"], TextBlob(text).sentiment.polarity) for text in texts]


def lexicon_levels(texts: Sequence[str]) -> list[int | None]:
    """Each text's level where VADER's and TextBlob's agree, else None (left out of the pre-training data)."""
    return [a if a == b else None for a, b in ((level(v), level(t)) for v, t in lexicon_scores(texts))]


def collapsed(value: int) -> int:
    """A 5-level label as negative (0), neutral (1) or positive (2)."""
    return 0 if value < 2 else 1 if value == 2 else 2


def agreement_accuracy(labeller: LevelLabeller, texts: Sequence[str], gold: Sequence[int]) -> dict[str, float]:
    """The labeller against 3-class gold labels (negative, neutral, positive): its coverage (texts labelled) and
    its accuracy on those, levels collapsed."""
    labelled = [(collapsed(value), g) for value, g in zip(labeller(texts), gold) if value is not None]
    return {"coverage": round(len(labelled) / len(texts), 4),
            "accuracy": round(sum(p == g for p, g in labelled) / max(len(labelled), 1), 4)}
