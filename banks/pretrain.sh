#!/usr/bin/env bash
# Pre-trains BACKBONE's PPT prompts, one per format, into banks/BACKBONE-full beside its source prompts (kind
# pretrained; `--init pretrained` and the experiments read them from there). The formats as PPT has them
# (formats version 2: lettered next sentence selection, unified lettered selection with 2-16 options, 5-level
# sentiment where two lexicons agree, NSP-3), all four trained together in one pass: 400 steps of batch 8 from
# random init, drawn from 5,000 examples each (about the most 5-level sentiment examples the corpus gives with its
# levels balanced), relative steps, the best of 5 evaluations on 200 held-out examples kept. The budget is the
# CPU's: the lettered formats read every option in the input (up to 16 sentences), so a step of the four costs
# 15-30 s on one core (PPT saw 0.5-1M examples; this is 3,200 per format). A format is stored only if
# its held-out accuracy reaches chance + 15 points (the gate); one below it is saved under the work dir's
# below-gate/. Checkpoints go to the bank's .build/pretrain/ (committed), so the same command continues a stopped
# run in a later session.
# STEPS=N trains longer than 400 (a format that is still rising at 400 steps, such as nsp3); a stopped run continues
# from its checkpoint only under the same STEPS. STEP=absolute|relative and LR=RATE train at another step or rate than
# relative at the recipe's, with checkpoints in a work dir named for them (.build/pretrain-absolute, ...).
#   usage: [STEPS=N] [STEP=absolute|relative] [LR=RATE] banks/pretrain.sh BACKBONE [FORMATS]
set -euo pipefail
cd "$(dirname "$0")/.."
backbone=${1:?usage: banks/pretrain.sh BACKBONE [FORMATS]}
formats=${2:-nsp3,next_sentence_selection,sentence_sentiment5,unified}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # one core a run: two runs share this machine
default_step=relative
. banks/step-settings.sh
.venv/bin/promptbank pretrain --bank "banks/$backbone-full" --backbone "$backbone" --formats "$formats" \
    --steps "${STEPS:-400}" --examples 5000 --eval-every 100 "${step_args[@]}" --seed 0 \
    --work-dir "banks/$backbone-full/.build/pretrain$suffix"
