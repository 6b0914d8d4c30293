#!/usr/bin/env bash
# The few-shot transfer experiment (settings shared with the PPT experiment in reports/few-shot.sh): random, vocab
# and every transfer strategy, retrieving the top 3 sources by zero-shot dev score, and (in seeds 0-1) the target
# trained from every source, for the gain matrix, the best single source and the similarity correlations.
#   usage: reports/transfer/run.sh BACKBONE [SHOTS...]   (default: 16 32)
set -euo pipefail
cd "$(dirname "$0")/../.."
backbone=${1:?usage: reports/transfer/run.sh BACKBONE [SHOTS...]}
shift
exec reports/few-shot.sh transfer "$backbone" "${*:-16 32}" \
    --strategies vocab,weighted-average,best-of-k,mixture --k 3 --by zero-shot --per-source-seeds 2
