"""PEFT interop: a soft prompt as a PEFT prompt-tuning directory, and back.

PEFT keeps a prompt-tuning adapter as `adapter_config.json` + `adapter_model.safetensors` holding one
tensor, `prompt_embeddings` (L×d). PEFT prepends it to the input embeddings exactly as promptbank does,
so `PeftModel.from_pretrained(base_model, directory)` gives the same scores. A `promptbank.json` beside
them keeps the provenance PEFT has no field for, and the local path the base model was loaded from (the
config names the model's hub id, which means something on another machine).
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from promptbank.atomic import atomic_dir
from promptbank.backbones import Backbone
from promptbank.errors import DataError, IncompatiblePromptError
from promptbank.tuning.prompt import SoftPrompt, check_compatible

CONFIG, WEIGHTS, PROVENANCE, KEY = "adapter_config.json", "adapter_model.safetensors", "promptbank.json", \
    "prompt_embeddings"
KEPT = ("task", "task_format", "task_category", "task_kind", "labels", "metrics", "data_fingerprint", "training", "curve", "shots")
# PEFT's task type per backbone family: the PeftModel subclass that prepends the prompt for that kind of model
TASK_TYPES = {"causal": "CAUSAL_LM", "seq2seq": "SEQ_2_SEQ_LM", "masked": "FEATURE_EXTRACTION",
              "encoder": "FEATURE_EXTRACTION"}


def export_peft(prompt: SoftPrompt, backbone: Backbone, out: Path) -> None:
    """Write `prompt` as a PEFT prompt-tuning directory for `backbone` (atomically: whole or absent)."""
    from peft import PromptTuningConfig

    check_compatible(prompt, backbone)
    out = Path(out)
    config = backbone.model.config
    peft_config = PromptTuningConfig(
        task_type=TASK_TYPES[backbone.family], num_virtual_tokens=prompt.length, token_dim=prompt.hidden_size,
        num_transformer_submodules=1,  # the prompt goes in front of the (encoder's) input only
        num_layers=config.num_hidden_layers, num_attention_heads=config.num_attention_heads,
        base_model_name_or_path=backbone.hub_id, inference_mode=True)  # a name that means something elsewhere
    with atomic_dir(out) as partial:
        peft_config.save_pretrained(partial)
        save_file({KEY: prompt.tensor.detach().float().contiguous().cpu()}, partial / WEIGHTS)
        provenance = prompt.metadata() | {"base_model_local_path": str(backbone.model.name_or_path)}
        (partial / PROVENANCE).write_text(json.dumps(provenance, indent=1))


def read_peft(directory: Path, backbone: Backbone) -> SoftPrompt:
    """The prompt of a PEFT prompt-tuning directory, for `backbone` (whose hidden size it must have)."""
    directory = Path(directory)
    try:
        config = json.loads((directory / CONFIG).read_text())
    except FileNotFoundError:
        raise DataError(f"{directory} is not a PEFT adapter directory (it has no {CONFIG}).") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DataError(f"The {CONFIG} in {directory} is not valid JSON.") from None
    if not isinstance(config, dict) or config.get("peft_type") != "PROMPT_TUNING":
        raise DataError(f"{directory} holds a PEFT {config.get('peft_type') if isinstance(config, dict) else '?'} "
                        "adapter, not prompt tuning.")
    if (config.get("num_transformer_submodules") or 1) != 1:
        raise DataError(f"{directory} holds separate encoder and decoder prompts; promptbank prompts have one.")
    if not (directory / WEIGHTS).is_file():
        raise DataError(f"{directory} has no {WEIGHTS} (promptbank reads safetensors only, never pickled .bin files).")
    try:
        tensor = load_file(directory / WEIGHTS)[KEY].float()
    except (SafetensorError, KeyError):
        raise DataError(f"{directory / WEIGHTS} is damaged or has no {KEY} tensor.") from None
    if tensor.dim() != 2 or tensor.shape[1] != backbone.hidden_size:
        raise IncompatiblePromptError(
            f"The PEFT prompt in {directory} has width {tensor.shape[-1]}, but backbone {backbone.name!r} has hidden "
            f"size {backbone.hidden_size}.")
    tokens, width = config.get("num_virtual_tokens"), config.get("token_dim")
    if not isinstance(tokens, int) or tokens != tensor.shape[0] or (width is not None and width != tensor.shape[1]):
        raise DataError(f"The {CONFIG} in {directory} does not describe its prompt (num_virtual_tokens {tokens!r}, "
                        f"token_dim {width!r}; the prompt is {tensor.shape[0]}×{tensor.shape[1]}).")
    provenance = _provenance(directory)
    if provenance.get("tokenizer_fingerprint", backbone.tokenizer_fingerprint) != backbone.tokenizer_fingerprint:
        raise IncompatiblePromptError(f"The PEFT prompt in {directory} was trained on backbone "
                                      f"{provenance.get('backbone')!r}, whose tokenizer differs from {backbone.name!r}'s.")
    info = {k: v for k, v in provenance.items() if k in KEPT}
    return SoftPrompt(tensor, backbone.name, backbone.tokenizer_fingerprint, "peft", str(directory), info)


def _provenance(directory: Path) -> dict:
    """What promptbank wrote beside a PEFT export, if it made it; {} for a directory PEFT made."""
    try:
        provenance = json.loads((directory / PROVENANCE).read_text())
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return provenance if isinstance(provenance, dict) else {}
