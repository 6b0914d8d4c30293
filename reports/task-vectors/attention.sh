#!/usr/bin/env bash
# ATTEMPT's per-example mixture against the learned mixture at PPT's few-shot budget, SmolLM2-135M: the settings of
# run.sh (32 shots, 200 steps, dev every 20, 5 seeds, the whole test split up to 1,000, the top 3 sources of
# banks/smollm2-135m-full by zero-shot dev accuracy), with random init beside them (the seeds, data and inits of
# run.sh's cells; gains pair within this folder: prompts trained in other company differ by bf16 rounding).
# Cells are saved as they finish.
#   usage: reports/task-vectors/attention.sh [TARGETS]   (default: rotten_tomatoes)
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
exec .venv/bin/promptbank experiment matrix --bank banks/smollm2-135m-full --backbone smollm2-135m \
    --targets "${1:-rotten_tomatoes}" --seeds 5 --shots 32 --steps 200 --eval-every 20 --test-size 1000 \
    --strategies learned-mixture,attention-mixture --k 3 --by zero-shot \
    --no-per-source --out reports/task-vectors/smollm2-135m-32-shot-attention
