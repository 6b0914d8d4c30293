"""Where a new prompt starts: the init methods (Lester et al.'s random, vocab and text inits, plus label words and
a saved prompt), each at the scale of the embeddings the backbone actually reads, and seeded."""

from __future__ import annotations

from pathlib import Path

import torch

from promptbank.backbones import Backbone
from promptbank.errors import BadArgumentError
from promptbank.tasks.task import Task
from promptbank.tuning.prompt import SoftPrompt, check_compatible, load_prompt

INIT_METHODS = ("random", "vocab", "text", "labels", "prompt")
VOCAB_SAMPLE_SIZE = 5000  # Lester et al. sample init tokens from the 5,000 most frequent tokens


def _cycle_to(rows: torch.Tensor, length: int) -> torch.Tensor:
    repeats = -(-length // rows.shape[0])
    return rows.repeat(repeats, 1)[:length]


def _token_rows(backbone: Backbone, text: str) -> torch.Tensor:
    ids = backbone.tokenizer(text, add_special_tokens=False)["input_ids"]
    if not ids:
        raise BadArgumentError("The init text has no tokens; give a non-empty --init-text.")
    with torch.no_grad():
        return backbone.embed(torch.tensor(ids, device=backbone.device)).float().cpu()


def embedding_scale(backbone: Backbone) -> float:
    """How much the embedding module scales the rows of its table (Gemma multiplies them by sqrt(d); most
    models by 1): random inits must start at the scale of the embeddings the model actually reads."""
    ids = torch.arange(min(256, backbone.model.get_input_embeddings().weight.shape[0]), device=backbone.device)
    with torch.no_grad():
        table = backbone.model.get_input_embeddings().weight[ids].float()
        return (backbone.embed(ids).float().norm() / table.norm()).item()


def embedding_rms(backbone: Backbone) -> float:
    """The RMS of the embeddings the model reads for its ordinary tokens (scaling included): the unit of a prompt
    trained with a relative step."""
    with torch.no_grad():
        return backbone.embed(ordinary_tokens(backbone).to(backbone.device)).float().pow(2).mean().sqrt().item()


def ordinary_tokens(backbone: Backbone) -> torch.Tensor:
    """The first VOCAB_SAMPLE_SIZE token ids that are neither special nor added (Gemma's thousands of unused
    and image placeholders): the frequent real tokens of a vocabulary ordered by merge frequency."""
    tokenizer = backbone.tokenizer
    excluded = set(tokenizer.all_special_ids) | set(tokenizer.get_added_vocab().values())
    size = backbone.model.get_input_embeddings().weight.shape[0]
    pool = [i for i in range(min(VOCAB_SAMPLE_SIZE + len(excluded), size)) if i not in excluded]
    return torch.tensor(pool[:VOCAB_SAMPLE_SIZE])


def init_prompt(backbone: Backbone, length: int, method: str = "random", *, seed: int = 0,
                text: str | None = None, task: Task | None = None,
                source: Path | SoftPrompt | None = None) -> SoftPrompt:
    """A new prompt for `backbone`, initialised by one of INIT_METHODS.

    random: uniform in ±sqrt(3)·std of the vocabulary embeddings as the model scales them, so it starts at the
    embeddings' scale; vocab: embeddings of tokens sampled from the first 5,000 ordinary ids (vocabularies are
    ordered by merge frequency); text: the embeddings of a text's tokens, repeated to length L;
    labels: the embeddings of the task's verbalizer words, repeated to length L; prompt: a saved prompt (its
    directory, or the prompt already loaded from a bank or a PEFT adapter).
    """
    if length <= 0:
        raise BadArgumentError(f"--prompt-length must be a positive number of tokens, not {length}.")
    generator = torch.Generator().manual_seed(seed)
    weights = backbone.model.get_input_embeddings().weight
    common = {"backbone": backbone.name, "tokenizer_fingerprint": backbone.tokenizer_fingerprint, "init": method}
    if method == "random":
        bound = 3 ** 0.5 * weights.float().std().item() * embedding_scale(backbone)
        tensor = (torch.rand(length, backbone.hidden_size, generator=generator) * 2 - 1) * bound
        return SoftPrompt(tensor, **common)
    if method == "vocab":
        pool = ordinary_tokens(backbone)
        ids = pool[torch.randint(len(pool), (length,), generator=generator)]
        with torch.no_grad():
            tensor = backbone.embed(ids.to(backbone.device)).float().cpu()
        return SoftPrompt(tensor, **common, source=f"{len(pool)} most frequent tokens")
    if method == "text":
        if not text:
            raise BadArgumentError("--init text needs --init-text with the words to start from.")
        return SoftPrompt(_cycle_to(_token_rows(backbone, text), length), **common, source=text)
    if method == "labels":
        if task is None or not task.verbalizer:
            raise BadArgumentError("--init labels needs a task with verbalizer words (not a multiple-choice task).")
        words = " " + " ".join(task.verbalizer)
        return SoftPrompt(_cycle_to(_token_rows(backbone, words), length), **common, source=words.strip())
    if method == "prompt":
        if source is None:
            raise BadArgumentError("--init prompt needs --init-prompt: a saved prompt directory, a PEFT prompt-tuning "
                                   "adapter directory or a bank id.")
        if isinstance(source, SoftPrompt):  # from a bank (its id) or a PEFT adapter (its directory)
            loaded, origin = source, source.info.get("bank_id") or source.source
        else:
            loaded, origin = load_prompt(source), str(source)
        check_compatible(loaded, backbone)
        if loaded.length != length:
            raise BadArgumentError(f"The prompt {origin} has length {loaded.length}, not --prompt-length {length}.")
        return SoftPrompt(loaded.tensor.clone(), **common, source=origin)
    raise BadArgumentError(f"Unknown init method {method!r}; use one of {', '.join(INIT_METHODS)}.")
