#!/usr/bin/env bash
# Rebuilds banks/smollm2-135m.tar.gz, the source bank `make demo` ships with (about 15 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/promptbank bank build --bank "$work/bank" --backbone smollm2-135m \
    --tasks movie_sentences,tweet_sentiment,food_reviews,vitaminc,fever,strategyqa,winowhy,bbc_news \
    --shots 16 --steps 60 --eval-every 10 --lr 0.03 --prompt-length 20 --seeds 1 --test-size 300
.venv/bin/promptbank bank export --bank "$work/bank" --out banks/smollm2-135m.tar.gz
