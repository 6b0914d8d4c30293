"""Write a built-in single-text task as a promptbank user task whose answer words come in a shuffled order per
example: each example's choices are the verbalizer's words in a random order (fixed seed), its label the right
word's place. Lettered (`spec.json:letters`), the letter of the right answer is then not tied to the label, so a
prompt that scores it must read the options; in the task's own lettered form ("(A) negative (B) positive" for every
example) a fixed label-to-letter map suffices.
    usage: .venv/bin/python reports/choice-scoring/shuffled_task.py TASK FOLDER
"""

import json
import random
import sys
from pathlib import Path

from promptbank.tasks import get_task

SEED = 0

name, folder = sys.argv[1], Path(sys.argv[2])
task = get_task(name)
if task.format != "single":
    sys.exit(f"{name} is a {task.format} task; this writes single-text tasks only.")
rng = random.Random(SEED)
rows = []
for example in task.examples:  # the same examples in the same order: the same fixed train/dev/test split
    order = list(range(len(task.verbalizer)))
    rng.shuffle(order)
    rows.append({"text": example.text, "choices": [task.verbalizer[i] for i in order],
                 "label": order.index(example.label)})
folder.mkdir(parents=True, exist_ok=True)
(folder / "data.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
(folder / "task.json").write_text(json.dumps({
    "name": f"{name}_shuffled", "data": "data.jsonl", "format": "multiple_choice", "text": "text",
    "choices": "choices", "label": "label", "template": task.template, "category": task.category,
    "description": f"{name} with its answer words in a shuffled order per example (seed {SEED})."}, indent=1))
print(f"{folder / 'task.json'}: {len(rows)} examples, the right answer first in "
      f"{sum(row['label'] == 0 for row in rows) / len(rows):.3f} of them")
