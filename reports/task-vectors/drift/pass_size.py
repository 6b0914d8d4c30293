"""How far do two bfloat16 runs of one job drift apart when only the scoring passes differ (rounding, not maths)?

movie_sentences (400 training examples, 50 dev) on Gemma-3-270M from the seed-0 random prompt, relative step lr 0.02,
20 steps, trained with pass size 32 twice and with pass size 4; printed: the cosine between the runs' task vectors.
    usage: .venv/bin/python reports/task-vectors/drift/pass_size.py
"""
import torch

from promptbank.backbones import load_backbone
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.init import init_prompt
from promptbank.tuning.loop import Job, train_many
from promptbank.tuning.run import target_data

backbone = load_backbone("gemma3-270m")
config = TrainConfig(steps=20, eval_every=20, patience=0, step="relative", lr=0.02, seed=0)
data = target_data(backbone, "movie_sentences", None, 0, 50, 10, 400)
start = init_prompt(backbone, 20, "random", seed=0)
deltas = {}
for key, size in (("32", 32), ("4", 4), ("32 again", 32)):
    result = train_many(backbone, [Job(data.train_items, data.dev_items, start, 0, "movie_sentences")], config,
                        progress=False, pass_size=size)[0]
    deltas[key] = (result.prompt.tensor.float() - start.tensor.float()).flatten()
    print(f"pass size {size}: {result.curve[-1]}")
cosine = lambda a, b: torch.nn.functional.cosine_similarity(deltas[a], deltas[b], dim=0).item()
print(f"task-vector cosine, pass size 32 twice: {cosine('32', '32 again'):.4f}; 32 against 4: {cosine('32', '4'):.4f}")
