#!/usr/bin/env bash
# The zero-shot transfer matrix (Su et al.): every source prompt of banks/BACKBONE-full, as it is, on every built-in
# task's test split (up to 1,000 examples), for each backbone given. Columns are saved as they finish.
#   usage: reports/transfer/zero-shot.sh BACKBONE...
set -euo pipefail
cd "$(dirname "$0")/../.."
tasks=$(.venv/bin/python -c "from promptbank.tasks import task_names; print(','.join(task_names()))")
for backbone in "$@"; do
    .venv/bin/promptbank experiment zero-shot --bank "banks/$backbone-full" --backbone "$backbone" --tasks "$tasks" \
        --test-size 1000 --out "reports/transfer/$backbone-zero-shot"
done
