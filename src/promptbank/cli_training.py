"""The training options that several commands share: the learning rate left to the library's default unless given."""

from __future__ import annotations

from promptbank.train import TrainConfig

LR_HELP = "Learning rate (default: the library's, TrainConfig.lr)."


def train_config(**fields) -> TrainConfig:
    """A TrainConfig from command-line values; an option left out (None) keeps the library default."""
    return TrainConfig(**{name: value for name, value in fields.items() if value is not None})
