#!/usr/bin/env bash
# Builds the full-data source bank of a backbone into banks/<backbone>-full/ (committed, so a build stopped
# in one session continues in the next: rerun the same command), then exports it as banks/<backbone>-full.tar.gz.
# Each source trains on its whole training split (at most 20,000 examples) with the backbone's recipe, early
# stopping on 200 validation examples, and is kept only if it beats its majority class by 5 points and the bare
# template on the full test split (banks/README.md lists what was left out and why).
# STEP=relative trains with the scale-relative optimiser step (each step a fraction of the embeddings' RMS; compared
# with absolute steps on Gemma in reports/README.md) into banks/<backbone>-full-relative/, beside the bank the reports
# read.
# LR=RATE trains at that rate instead of the recipe's, into a bank whose name ends in -lrRATE.
#   usage: [STEP=absolute|relative] [LR=RATE] banks/build-full.sh BACKBONE [TASKS]
set -euo pipefail
cd "$(dirname "$0")/.."
backbone=${1:?usage: banks/build-full.sh BACKBONE [TASKS]}
. banks/step-settings.sh
bank=banks/$backbone-full$suffix
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# 18 sources of 6 kinds; rotten_tomatoes, presuppositions_nli, intent_recognition and social_iqa are held out
# as the experiment's targets.
tasks=${2:-movie_sentences,bbc_news,vitaminc,tweet_sentiment,food_reviews,drug_reviews,fever,strategyqa,winowhy,implicatures,movie_dialog,question_selection,wiki_hedges,multiemo_sentences,wikihow_goals,movie_reviews,epistemic_reasoning,sports_understanding}
.venv/bin/promptbank bank build --shots all --bank "$bank" --backbone "$backbone" --tasks "$tasks" \
    --train-size 20000 --dev-size 200 --steps 400 --eval-every 50 --patience 3 --prompt-length 20 --seeds 1 \
    "${step_args[@]}"
.venv/bin/promptbank bank export --bank "$bank" --out "$bank.tar.gz"
