#!/usr/bin/env bash
# Transfer in SPoT's and Su et al.'s regime, SmolLM2-135M: each target trained on its whole training split for 600
# steps (batch 8), dev (200 validation examples) every 25 steps, 3 seeds, the whole test split (up to 1,000). The
# same inits as the few-shot run; the report gives each init's dev AUC and steps to 95% of random init's final dev
# accuracy beside the test gains. Targets: two not in the bank, and two bank tasks held out in turn (a target's own
# prompt is never a source). Cells are saved as they finish: the same command continues a stopped run.
#   usage: reports/task-vectors/full-data.sh [TARGETS]   (default: rotten_tomatoes,snli,tweet_sentiment,bbc_news)
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
exec .venv/bin/promptbank experiment matrix --bank banks/smollm2-135m-full --backbone smollm2-135m \
    --targets "${1:-rotten_tomatoes,snli,tweet_sentiment,bbc_news}" --seeds 3 --shots all --dev-size 200 \
    --steps 600 --eval-every 25 --test-size 1000 \
    --strategies vocab,weighted-average,best-of-k,delta-average,learned-mixture --k 3 --by zero-shot \
    --no-per-source --out reports/task-vectors/smollm2-135m-full-data
