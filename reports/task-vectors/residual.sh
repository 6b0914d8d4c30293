#!/usr/bin/env bash
# Residual Prompt Tuning (arXiv 2305.03937) against the plain prompt, on dev: one task trained on up to 2,000 training
# examples for 300 steps, dev (200 validation examples) every 50, absolute steps at the backbone's recipe rate (the
# residual MLP works at the embeddings' own scale), seed 0; the residual run's MLP is folded back into a plain
# prompt at the end. The prompts are kept out of the bank; each run is skipped once its folder is there.
#   usage: reports/task-vectors/residual.sh [TASK [BACKBONE]]   (default: movie_sentences smollm2-135m)
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
task=${1:-movie_sentences}
backbone=${2:-smollm2-135m}
for reparam in none residual; do
    out="reports/task-vectors/residual/$backbone-$task-$reparam"
    [ -e "$out" ] || .venv/bin/promptbank train --task "$task" --backbone "$backbone" --shots all --train-size 2000 \
        --dev-size 200 --steps 300 --eval-every 50 --patience 0 --reparam "$reparam" --test-size 1000 --no-store \
        --out "$out"
done
