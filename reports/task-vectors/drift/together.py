"""Is a prompt trained among other jobs in one `train_many` the prompt it would be alone, on Gemma-3-270M in bfloat16?

movie_sentences as in pass_size.py (400 training examples, 50 dev, relative lr 0.02, STEPS steps), alone and among
the other tasks given (the Gemma bank rebuild's five); printed: the cosine between the two task vectors and curves.
    usage: .venv/bin/python reports/task-vectors/drift/together.py STEPS TASK,TASK,...
"""
import sys

import torch

from promptbank.backbones import load_backbone
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.init import init_prompt
from promptbank.tuning.loop import Job, train_many
from promptbank.tuning.run import target_data

backbone = load_backbone("gemma3-270m")
steps = int(sys.argv[1])
config = TrainConfig(steps=steps, eval_every=steps, patience=0, step="relative", lr=0.02, seed=0)


def job(name: str) -> Job:
    data = target_data(backbone, name, None, 0, 50, 10, 400)
    return Job(data.train_items, data.dev_items, init_prompt(backbone, 20, "random", seed=0), 0, name)


movie = job("movie_sentences")
start = movie.start.tensor.float()
alone = train_many(backbone, [movie], config, progress=False)[0]
together = train_many(backbone, [movie, *(job(n) for n in sys.argv[2].split(","))], config, progress=False)[0]
alone_delta, together_delta = (r.prompt.tensor.float() - start for r in (alone, together))
print(f"task-vector cosine, alone against together: "
      f"{torch.nn.functional.cosine_similarity(alone_delta.flatten(), together_delta.flatten(), dim=0).item():.4f}; "
      f"norms {alone_delta.norm():.3f} / {together_delta.norm():.3f}")
print("alone", alone.curve[-1])
print("together", together.curve[-1])
