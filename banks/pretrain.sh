#!/usr/bin/env bash
# Pre-trains BACKBONE's PPT prompts, one per format, into banks/BACKBONE-full beside its source prompts (kind
# pretrained; `--init pretrained` and the experiments read them from there). Each format: 600 steps of batch 8
# from random init on 4,800 examples built from the bundled corpus (one pass), the best of 6 evaluations on 200
# held-out examples kept. Checkpoints go to the bank's .build/pretrain/ (committed), so the same command
# continues a stopped run in a later session.
#   usage: banks/pretrain.sh BACKBONE [FORMATS]
set -euo pipefail
cd "$(dirname "$0")/.."
backbone=${1:?usage: banks/pretrain.sh BACKBONE [FORMATS]}
formats=${2:-nsp3,next_sentence_selection,sentence_sentiment5,unified}
.venv/bin/promptbank pretrain --bank "banks/$backbone-full" --backbone "$backbone" --formats "$formats" \
    --steps 600 --examples 4800 --eval-every 100 --seed 0 --work-dir "banks/$backbone-full/.build/pretrain"
