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

# Stage 2, SmolLM2 (the experiment's backbone), once its full-data bank is built (banks/build-full.sh): warmup and
# prompt length at lr 0.01, and the transfer init (weighted average of the 3 best sources by zero-shot dev score,
# never the task's own prompt) at that rate and a lower one. Random init is rerun here: the folder records the bank.
# Transfer inits keep the bank's 20 tokens, so the other lengths are swept from random init only.
stage2="--backbone smollm2-135m --tasks $tasks --seeds 2 --steps 30 --eval-every 10 --dev-size 200
        --bank banks/smollm2-135m-full --out reports/recipe/smollm2-135m-stage2"
.venv/bin/promptbank experiment sweep $stage2 --lrs 0.01 --warmups 0,0.06,0.2 --prompt-lengths 20 --inits random,transfer &
.venv/bin/promptbank experiment sweep $stage2 --lrs 0.003 --warmups 0,0.06,0.2 --prompt-lengths 20 --inits transfer
wait
.venv/bin/promptbank experiment sweep $stage2 --lrs 0.01 --warmups 0.06 --prompt-lengths 10,50 --inits random

# Stage 2, Gemma: the same grid on its own full-data bank, once `banks/build-full.sh gemma3-270m` has finished it
# (the folder records the bank, so it must not change under the sweep).
built=$(ls banks/gemma3-270m-full/.build/*-s0.json 2>/dev/null | wc -l)  # one outcome per task, 18 in all
[ "$built" -ge 18 ] || {
    echo "Gemma's stage 2 waits for its full-data bank: run banks/build-full.sh gemma3-270m first." >&2; exit 0; }
stage2=${stage2//smollm2-135m/gemma3-270m}
.venv/bin/promptbank experiment sweep $stage2 --lrs 0.01 --warmups 0,0.06,0.2 --prompt-lengths 20 --inits random,transfer &
.venv/bin/promptbank experiment sweep $stage2 --lrs 0.003 --warmups 0,0.06,0.2 --prompt-lengths 20 --inits transfer
wait
.venv/bin/promptbank experiment sweep $stage2 --lrs 0.01 --warmups 0.06 --prompt-lengths 10,50 --inits random
