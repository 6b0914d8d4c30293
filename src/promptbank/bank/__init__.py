"""The prompt bank: a durable, self-describing library of trained prompts (SQLite catalog + safetensors blobs)."""

from promptbank.bank.catalog import KINDS, PromptRecord
from promptbank.bank.store import LENGTH_POLICIES, PromptBank, VerifyReport, default_root

__all__ = ["KINDS", "LENGTH_POLICIES", "PromptBank", "PromptRecord", "VerifyReport", "default_root"]
