"""Prompt pre-training (PPT, Gu et al. 2022): a corpus of real running text, and tasks built from it."""

from promptbank.pretraining.corpus import Corpus, Document, fetch_corpus, load_corpus
from promptbank.pretraining.formats import (
                                            PRETRAINING_TASKS,
                                            format_for,
                                            next_sentence_selection,
                                            nsp3,
                                            sentence_sentiment5,
                                            unified,
)
from promptbank.pretraining.labeller import lexicon_levels

__all__ = ["Corpus", "Document", "fetch_corpus", "load_corpus", "PRETRAINING_TASKS", "format_for", "nsp3",
           "next_sentence_selection", "sentence_sentiment5", "unified", "lexicon_levels"]
