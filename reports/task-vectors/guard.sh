#!/usr/bin/env bash
# What `--guard 0.05` would have done in every finished SmolLM2 matrix with a retrieving strategy: no training, each
# cell's dev set rebuilt from its task, seed and spec, a fallback counted as the run of the start it falls back to.
# Targets whose data this machine cannot build (the bigbench tasks, without bigbench-1.0.0.tar.gz) are listed as
# skipped. Writes reports/task-vectors/guard.json.
#   usage: reports/task-vectors/guard.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
exec .venv/bin/promptbank experiment guard-replay --alpha 0.05 --out reports/task-vectors/guard.json \
    reports/task-vectors/smollm2-135m-32-shot reports/task-vectors/smollm2-135m-32-shot-without-movie_sentences \
    reports/task-vectors/smollm2-135m-32-shot-without-wiki_hedges reports/task-vectors/smollm2-135m-32-shot-attention \
    reports/task-vectors/smollm2-135m-full-data reports/transfer/smollm2-135m-16-shot \
    reports/transfer/smollm2-135m-32-shot reports/ppt/smollm2-135m-paper-budget
