"""The 5-level sentiment pseudo-labeller measured (promptbank.pretraining.labeller): on 3-class sets it never saw
(the test examples of tweet_sentiment and drug_reviews, up to 1,000, its levels collapsed to negative / neutral /
positive), beside VADER alone and the review-trained quintile labeller it replaced (figures in labeller.py's
docstring, measured before it was removed), and the class balance it gives the pre-training corpus.
    usage: .venv/bin/python reports/ppt/labeller.py   (writes reports/ppt/labeller.json)"""

import json
from collections import Counter
from pathlib import Path

from promptbank.pretraining import load_corpus
from promptbank.pretraining.labeller import agreement_accuracy, level, lexicon_levels, lexicon_scores
from promptbank.tasks import get_task, split


def vader_alone(texts):
    return [level(vader) for vader, _ in lexicon_scores(texts)]


results = {}
for name in ("tweet_sentiment", "drug_reviews"):
    test = split(get_task(name)).test[:1000]
    texts, gold = [ex.text for ex in test], [ex.label for ex in test]
    results[name] = {"examples": len(test), "gold_classes": dict(Counter(gold)),
                     "agreement": agreement_accuracy(lexicon_levels, texts, gold),
                     "vader_alone": agreement_accuracy(vader_alone, texts, gold)}
sentences = [s for document in load_corpus(None, 0).documents for s in document.sentences]
levels = Counter(lexicon_levels(sentences))
results["corpus"] = {"sentences": len(sentences), "labelled": len(sentences) - levels[None],
                     "levels": {str(k): levels[k] for k in range(5)}}
out = Path(__file__).with_name("labeller.json")
out.write_text(json.dumps(results, indent=1))
print(json.dumps(results, indent=1))
