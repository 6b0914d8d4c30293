#!/usr/bin/env bash
# Leave one task out: does a projector carry a task it never saw? Over the 6 tasks both full-data banks hold prompts
# of and whose data is still fetchable (movie_sentences, movie_reviews, tweet_sentiment, food_reviews, bbc_news,
# wiki_hedges; the bigbench ones are gone from PyPI), each fold trains a projector SOURCE -> TARGET on 5 tasks and
# projects all 6 source prompts; the held-out task's own projection is scored on its test split (up to 1,000)
# against the other tasks' projections, the native TARGET prompt, a random prompt and the template, and trained from
# at PPT's few-shot budget (32 shots, 200 steps, dev every 20, 5 seeds) against random init.
# Projector: task vectors in (the shipped prompts' inits rebuilt from their recipe), METHOD (default task: task loss
# plus the contrastive term, 2 items per task, 300 steps; ridge: the linear baseline, in closed form) and ARCH
# (per-token, whole or linear). Both banks go into one experiment bank (reports/cross-model/bank, as run.sh builds
# it). Folds are saved as they finish: the same command continues; SEEDS=N (default 5) runs fewer few-shot seeds
# first (0: the zero-shot columns only), and a later run with more adds the rest. STEP=relative reads Gemma's bank
# rebuilt with scale-relative steps (banks/gemma3-270m-full-relative; SmolLM2 and MiniLM keep theirs) into a folder
# whose name ends in -relative; LR=RATE with it reads the rebuild at that rate (banks/gemma3-270m-full-relative-lrRATE).
# RIDGE=R sets the ridge penalty (default 1, in units of the source embeddings' squared RMS) into a folder whose name
# ends in -ridgeR: Gemma's task vectors are 0.10 of its embedding RMS, so a ridge of 0.01 is its 1 in their own units
# (reports/cross-model/ridge_scale.py).
# Options after ARCH go to projector-loo as they are (--report-only: rewrite the folder's summary from what it holds).
#   usage: [SEEDS=N] [STEP=relative [LR=RATE]] [RIDGE=R] reports/cross-model/loo.sh SOURCE TARGET [METHOD [ARCH [OPTION...]]]
set -euo pipefail
cd "$(dirname "$0")/../.."
. banks/step-settings.sh
. reports/cross-model/bank.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
source=${1:?usage: reports/cross-model/loo.sh SOURCE TARGET [METHOD [ARCH]]}
target=${2:?usage: reports/cross-model/loo.sh SOURCE TARGET [METHOD [ARCH]]}
method=${3:-task}
arch=${4:-$([ "$method" = ridge ] && echo linear || echo per-token)}
import_banks "$source" "$target"
exec $pb experiment projector-loo --from "$source" --to "$target" --bank "$bank" \
    --tasks movie_sentences,movie_reviews,tweet_sentiment,food_reviews,bbc_news,wiki_hedges \
    --method "$method" --architecture "$arch" --inputs delta --contrast-weight 1 --contrast-items 2 \
    --ridge "${RIDGE:-1}" --projector-steps 300 --seeds "${SEEDS:-5}" --shots 32 --steps 200 --eval-every 20 --test-size 1000 \
    --out "$here/loo/$source-to-$target-$method-$arch$suffix${RIDGE:+-ridge$RIDGE}" "${@:5}"
