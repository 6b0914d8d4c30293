"""Errors a user can cause. Each carries one clear sentence; the CLI prints it and exits with 2."""


class PromptbankError(Exception):
    """A mistake in what the user asked for (not a bug): shown as one sentence, never a traceback."""


class UnknownTaskError(PromptbankError):
    pass


class UnknownBackboneError(PromptbankError):
    pass


class IncompatiblePromptError(PromptbankError):
    pass


class DataError(PromptbankError):
    pass


class BadArgumentError(PromptbankError):
    pass


class DamagedBankError(DataError):
    """A bank whose catalog is empty, unreadable or not a catalog: `bank verify` reports it (exit 1) and nothing
    that could delete its prompts runs."""
