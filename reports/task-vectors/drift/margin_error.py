"""Does sharing a scoring pass with other tasks' items and prompts make Gemma-3-270M's bfloat16 scores worse?

16 movie_sentences validation items under one random prompt, scored alone and in one pass with 16 items of another
task under a second prompt, in float32 and in bfloat16; printed: the error of each item's decision margin (score of
label 1 minus label 0) against float32 alone.
    usage: .venv/bin/python reports/task-vectors/drift/margin_error.py
"""
import torch

from promptbank import scoring
from promptbank.backbones import load_backbone
from promptbank.tasks import get_task
from promptbank.tasks.task import split
from promptbank.tuning.init import embedding_rms

results = {}
for dtype in ("float32", "bfloat16"):
    backbone = load_backbone("gemma3-270m", dtype=dtype)
    torch.manual_seed(0)
    rms, width = embedding_rms(backbone), backbone.model.get_input_embeddings().weight.shape[1]
    def items(name: str) -> list:
        return scoring.encode(backbone, get_task(name), split(get_task(name)).validation[:16])
    movie = items("movie_sentences")
    own, other = ((torch.randn(1, 20, width) * rms).to(backbone.dtype) for _ in range(2))
    with torch.no_grad():
        results[dtype, "alone"] = scoring.score(backbone, own[0], movie).float()
        for name in ("tweet_sentiment", "bbc_news"):
            both = scoring.score(backbone, torch.cat([own, other]), movie + items(name), torch.tensor([0] * 16 + [1] * 16))
            results[dtype, f"with {name}"] = both[:16, :2].float()
margin = lambda scores: scores[:, 1] - scores[:, 0]
reference = margin(results["float32", "alone"])
for (dtype, how), scores in results.items():
    error = (margin(scores) - reference).abs()
    print(f"{dtype:9} {how:20} margin error against float32 alone: mean {error.mean():.4f}, max {error.max():.4f}")
