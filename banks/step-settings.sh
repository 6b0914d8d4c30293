# Sourced by the scripts that train at a chosen optimiser step. From the environment: STEP (absolute or relative:
# each step a fraction of the embeddings' RMS) and LR (the rate; left out, the backbone's recipe for that step). A
# script whose own step is not absolute sets default_step before sourcing. Sets step and lr, step_args (the
# promptbank arguments that say them) and suffix (what a folder trained so is named with: empty at the script's
# default step and the recipe's rate, else -STEP and/or -lrRATE).
step=${STEP:-${default_step:-absolute}}
lr=${LR:-}
step_args=(--step "$step" ${lr:+--lr "$lr"})
suffix=$([ "$step" = "${default_step:-absolute}" ] || echo "-$step")${lr:+-lr$lr}
