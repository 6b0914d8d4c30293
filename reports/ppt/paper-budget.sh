#!/usr/bin/env bash
# PPT at the paper's few-shot budget, on SmolLM2-135M (or BACKBONE): 32 shots per class, up to 200 steps (batch 8;
# the best dev checkpoint kept, dev every 20 steps), 5 seeds, the whole test split (up to 1,000), with the PPT
# prompts of banks/pretrain.sh (formats version 2, those that passed the gate) in banks/<backbone>-full.
# Inits: random, vocab, format-matched PPT (`pretrained`) and PPT plus transfer (`delta-average --base pretrained`:
# the top 3 sources' weighted task vector added to the PPT prompt, lambda on dev). Two of the four formats passed
# the gate (banks/README.md): sentence_sentiment5 for the single-text targets not in the bank (rotten_tomatoes, then
# drug_reviews, 3 levels) and nsp3 for the sentence-pair ones (snli, mrpc, rte, each run as `paper-budget.sh TARGET`
# into the same folder, whose report covers every target it holds). The multiple-choice target (social_iqa:letters)
# and unified PPT (`pretrained-unified`, on rotten_tomatoes:letters) wait for their formats to pass (a changed
# STRATEGIES list is refused on this folder and needs another --out). Cells are saved as they finish: the same
# command continues a stopped run. BACKBONE gemma3-270m reads Gemma's bank (its one gated PPT prompt,
# sentence_sentiment5, so single-text targets only) into reports/ppt/gemma3-270m-paper-budget.
#   usage: [STRATEGIES=...] reports/ppt/paper-budget.sh [TARGETS [BACKBONE]]
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
backbone=${2:-smollm2-135m}
exec .venv/bin/promptbank experiment matrix --bank "banks/$backbone-full" --backbone "$backbone" \
    --targets "${1:-rotten_tomatoes,drug_reviews}" --seeds 5 --shots 32 \
    --steps 200 --eval-every 20 --test-size 1000 \
    --strategies "${STRATEGIES:-vocab,pretrained,delta-average}" --base pretrained --k 3 --by zero-shot \
    --no-per-source --out "reports/ppt/$backbone-paper-budget"
