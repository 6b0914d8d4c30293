#!/usr/bin/env bash
# PPT at the paper's few-shot budget, SmolLM2-135M: 32 shots per class, up to 200 steps (batch 8; the best dev
# checkpoint kept, dev every 20 steps), 5 seeds, the whole test split (up to 1,000), with the PPT prompts of
# banks/pretrain.sh (formats version 2, those that passed the gate) in banks/smollm2-135m-full.
# Inits: random, vocab, format-matched PPT (`pretrained`), unified PPT (`pretrained-unified`), and PPT plus transfer
# (`delta-average --base pretrained`: the top 3 sources' weighted task vector added to the PPT prompt, lambda on dev).
# Targets, none in the bank: rotten_tomatoes (single text), snli (pair), social_iqa:letters (multiple choice scored
# by letter, PPT's form, chosen for social_iqa on validation by reports/choice-scoring) and rotten_tomatoes:letters
# (the single-text task recast as lettered choice, unified PPT's form). Cells are saved as they finish: the same
# command continues a stopped run.
#   usage: reports/ppt/paper-budget.sh [TARGETS]
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
exec .venv/bin/promptbank experiment matrix --bank banks/smollm2-135m-full --backbone smollm2-135m \
    --targets "${1:-rotten_tomatoes,snli,social_iqa:letters,rotten_tomatoes:letters}" --seeds 5 --shots 32 \
    --steps 200 --eval-every 20 --test-size 1000 \
    --strategies vocab,pretrained,pretrained-unified,delta-average --base pretrained --k 3 --by zero-shot \
    --no-per-source --out reports/ppt/smollm2-135m-paper-budget
