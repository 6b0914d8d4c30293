# Sourced by the scripts that train at a chosen optimiser step. From the environment: STEP (absolute, the default, or
# relative: each step a fraction of the embeddings' RMS) and LR (the rate; left out, the backbone's recipe for that
# step). Sets step and lr, step_args (the promptbank arguments that say them) and suffix (what a folder trained so is
# named with: empty at the recipe's absolute step, else -relative and/or -lrRATE).
step=${STEP:-absolute}
lr=${LR:-}
step_args=(--step "$step" ${lr:+--lr "$lr"})
suffix=$([ "$step" = absolute ] || echo "-$step")${lr:+-lr$lr}
