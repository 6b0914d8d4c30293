#!/usr/bin/env bash
# The recipe sweep: few-shot (16 per class) prompt tuning scored on 200 validation examples per task (never test).
# Stage 1: the learning rate, per backbone. Gemma's grid first spanned its larger embedding scale (std 1.0 as the
# model reads them, SmolLM2's 0.12: 0.03-1.0); 0.3 and 1.0 collapsed on movie_sentences, so it was extended
# down and 1.0 dropped (its movie_sentences cells stay in the folder). Rerunning continues where it stopped.
set -euo pipefail
cd "$(dirname "$0")/../.."
tasks=movie_sentences,bbc_news,strategyqa
# The two backbones' sweeps run side by side, one thread each (faster on 2 cores than one after the other).
export OMP_NUM_THREADS=1
.venv/bin/promptbank experiment sweep --backbone gemma3-270m --tasks $tasks --lrs 0.003,0.01,0.03,0.1,0.3 \
    --seeds 2 --steps 30 --eval-every 10 --dev-size 200 --out reports/recipe/gemma3-270m-lr &
.venv/bin/promptbank experiment sweep --backbone smollm2-135m --tasks $tasks --lrs 0.003,0.01,0.03,0.1 \
    --seeds 2 --steps 30 --eval-every 10 --dev-size 200 --out reports/recipe/smollm2-135m-lr
wait
