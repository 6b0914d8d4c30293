#!/usr/bin/env bash
# The PPT few-shot experiment (settings shared with the transfer experiment in reports/few-shot.sh): BACKBONE's
# pre-trained prompts (banks/pretrain.sh, in banks/BACKBONE-full) as inits, format-matched (`pretrained`) and
# unified (`pretrained-unified`), against random and vocab init. No source prompt is involved (`--sources ''`:
# nothing is scored zero-shot), so only the four inits are trained and tested. The prompts it read (formats version
# 1, below today's gate) are in banks/smollm2-135m-ppt-v1.tar.gz: import it into a copy of the bank to rerun it.
#   usage: reports/ppt/run.sh BACKBONE [SHOTS...]   (default: 16 32)
set -euo pipefail
cd "$(dirname "$0")/../.."
backbone=${1:?usage: reports/ppt/run.sh BACKBONE [SHOTS...]}
shift
exec reports/few-shot.sh ppt "$backbone" "${*:-16 32}" \
    --sources '' --strategies vocab,pretrained,pretrained-unified --no-per-source
