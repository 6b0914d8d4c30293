#!/usr/bin/env bash
# Absolute against relative optimiser steps on Gemma-3-270M, whose embeddings are scaled by sqrt(640) inside the
# model: one source task (movie_sentences) trained on its training split (up to 2,000 examples) for 300 steps,
# dev (200 validation examples) every 50 steps, each step kind at its recipe rate (absolute 0.01; relative 0.08,
# SmolLM2's absolute rate in its embeddings' units). The choice is read on dev; the prompts are kept out of the bank.
# RELATIVE_LRS="0.02 0.04" adds relative runs at those rates (the recipe's 0.08 was never swept on Gemma).
#   usage: [RELATIVE_LRS=...] reports/task-vectors/step.sh [TASK]
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
task=${1:-movie_sentences}
# train STEP OUT [--lr LR]: one run of the comparison, skipped once its folder is there
train() {
    [ -e "$2" ] || .venv/bin/promptbank train --task "$task" --backbone gemma3-270m --shots all --train-size 2000 \
        --dev-size 200 --steps 300 --eval-every 50 --patience 0 --step "$1" --test-size 1000 --no-store --out "$2" \
        "${@:3}"
}
for step in absolute relative; do
    train "$step" "reports/task-vectors/step/gemma3-270m-$task-$step"
done
for lr in ${RELATIVE_LRS:-}; do
    train relative "reports/task-vectors/step/gemma3-270m-$task-relative-lr$lr" --lr "$lr"
done
