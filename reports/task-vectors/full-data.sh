#!/usr/bin/env bash
# Transfer in SPoT's and Su et al.'s regime, SmolLM2-135M: each target trained on its whole training split for 500
# steps (batch 8), dev (200 validation examples) every 25 steps, 3 seeds, the whole test split (up to 1,000). Inits:
# those of the few-shot run but the raw weighted average (the few-shot run keeps it as delta-average's baseline).
# The report gives each init's dev AUC and steps to 95% of random init's final dev accuracy beside the test gains.
# Targets: tasks not in the bank, and bank tasks held out in turn, each in a folder of its own since the sources
# differ (full-data.sh TASK smollm2-135m-full-data-without-TASK). Cells are saved as they finish, and a cell in training
# checkpoints at every dev evaluation (cells/CELL.partial/, commit it to carry it across sessions): the same command
# continues a stopped run.
#   usage: reports/task-vectors/full-data.sh [TARGETS [FOLDER]]   (default: rotten_tomatoes,snli smollm2-135m-full-data)
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
exec .venv/bin/promptbank experiment matrix --bank banks/smollm2-135m-full --backbone smollm2-135m \
    --targets "${1:-rotten_tomatoes,snli}" --seeds 3 --shots all --dev-size 200 \
    --steps 500 --eval-every 25 --test-size 1000 \
    --strategies vocab,best-of-k,delta-average,learned-mixture --k 3 --by zero-shot \
    --no-per-source --out "reports/task-vectors/${2:-smollm2-135m-full-data}"
