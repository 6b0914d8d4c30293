#!/usr/bin/env bash
# Transfer at PPT's few-shot budget, SmolLM2-135M: 32 shots per class, 200 steps (best dev checkpoint kept, dev
# every 20 steps), 5 seeds, the whole test split (up to 1,000). Inits trained side by side on the same budget:
# random, vocab, weighted-average (raw), best-of-k, delta-average (target's init + lambda * weighted task vector,
# lambda on dev) and learned-mixture (trained softmax mixture of the top-3 task vectors), the top 3 sources of
# banks/smollm2-135m-full retrieved by zero-shot dev accuracy. Targets not in the bank: rotten_tomatoes, then snli.
# Bank tasks held out in turn (their own prompt out of the sources) go to a folder of their own each, since the
# sources differ: run.sh TASK smollm2-135m-32-shot-without-TASK.
# Every cell is saved as it finishes: the same command continues a stopped run; targets are added in turn.
#   usage: reports/task-vectors/run.sh [TARGETS [FOLDER]]   (default: rotten_tomatoes,snli smollm2-135m-32-shot)
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
exec .venv/bin/promptbank experiment matrix --bank banks/smollm2-135m-full --backbone smollm2-135m \
    --targets "${1:-rotten_tomatoes,snli}" --seeds 5 --shots 32 --steps 200 --eval-every 20 --test-size 1000 \
    --strategies vocab,weighted-average,best-of-k,delta-average,learned-mixture --k 3 --by zero-shot \
    --no-per-source --out "reports/task-vectors/${2:-smollm2-135m-32-shot}"
