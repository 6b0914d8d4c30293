"""The exact tensor a bank prompt's training began from, for records stored before inits were kept with them.

Such a record is rebuilt from its recipe where it has one: a task prompt (`train`, `bank build`) begun from a seeded
random or vocab init, whose seed is its training seed. The recipe reads the backbone's embeddings, so the backbone
must be loaded in the precision the prompt was trained in (a record that says only "auto" is rebuilt on the backbone
as it is loaded: exact where auto meant that precision). Other inits (label words, a text, another prompt, a
transfer strategy) leave nothing to rebuild from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from promptbank.bank.catalog import PromptRecord
from promptbank.errors import DataError, IncompatiblePromptError

if TYPE_CHECKING:
    from promptbank.backbones import Backbone

REBUILDABLE = ("random", "vocab")


def rebuilt_init(record: PromptRecord, backbone: Backbone | None) -> torch.Tensor:
    """The init of an older record, rebuilt bit for bit from its recipe, or a DataError saying why it cannot be."""
    from promptbank.tuning.init import init_prompt
    if record.kind != "task" or record.init not in REBUILDABLE:
        raise DataError(f"Prompt {record.id} ({record.name}) does not store the tensor it began from, and its "
                        f"{record.init!r} init cannot be rebuilt (only task prompts begun from a seeded "
                        f"{' or '.join(REBUILDABLE)} init can): it has no task vector.")
    trained_in = record.training.get("dtype") if record.training else None
    if backbone is None:
        raise DataError(f"Prompt {record.id} ({record.name}) was stored before inits were kept; rebuilding its init "
                        f"needs its backbone {record.backbone!r} loaded ({trained_in or 'its training precision'}).")
    if backbone.tokenizer_fingerprint != record.tokenizer_fingerprint or backbone.hidden_size != record.hidden_size:
        raise IncompatiblePromptError(f"Prompt {record.id} belongs to backbone {record.backbone!r}, not "
                                      f"{backbone.name!r}: its init cannot be rebuilt on it.")
    # "auto" (recorded before the concrete precision was) cannot be checked: the backbone is taken as loaded
    if trained_in not in (None, "auto") and trained_in != str(backbone.dtype).removeprefix("torch."):
        raise DataError(f"Prompt {record.id} was trained in {trained_in}; load {record.backbone!r} in {trained_in} "
                        f"to rebuild its init exactly.")
    seed = (record.training or {}).get("seed", 0)
    return init_prompt(backbone, record.length, record.init, seed=seed).tensor
