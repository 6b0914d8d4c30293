#!/usr/bin/env bash
# The bank bench/retrieval.py ranks in part (a): real few-shot prompts, one per task and seed, of the bundled
# single-text and sentence-pair tasks but the bench's target (rotten_tomatoes): 18 tasks × 4 seeds = 72 prompts,
# 16 shots, 20 steps, trained together (train_many). Multiple-choice tasks are left out (a step costs 4-10× more
# there). No quality bar and 20 test examples: the bench times ranking and compares rankings, it ships nothing.
# Resumable. About an hour on one thread.
#   usage: bench/retrieval-bank.sh [BANK]   (default: runs/retrieval-bank), then
#          python bench/retrieval.py --bank runs/retrieval-bank
set -euo pipefail
cd "$(dirname "$0")/.."
bank=${1:-runs/retrieval-bank}
tasks=$(.venv/bin/python -c "
from promptbank.tasks import get_task, task_names
print(','.join(t for t in task_names() if t != 'rotten_tomatoes' and get_task(t).format != 'multiple_choice'))")
.venv/bin/promptbank bank build --bank "$bank" --tasks "$tasks" --seeds 0,1,2,3 --shots 16 --steps 20 --eval-every 20 \
    --test-size 20 --no-bar
