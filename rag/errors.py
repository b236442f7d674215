"""Domain exceptions. Each message says what went wrong *and how to fix it*.

They are converted to exit codes (CLI) or chat messages (UI) only at the edges.
"""
from __future__ import annotations


class RagError(Exception):
    """Base class for every error the product reports to a user."""

    exit_code = 1


class ConfigError(RagError):
    """A setting is wrong (unknown provider, missing model file, bad URL)."""

    exit_code = 2


class UnknownProviderError(ConfigError):
    def __init__(self, kind: str, name: str, known: list[str], setting: str):
        self.kind, self.name, self.known = kind, name, known
        super().__init__(
            f"Unknown {kind} {name!r}. Known: {', '.join(sorted(known))}. "
            f"Fix the setting {setting}."
        )


class IngestError(RagError):
    """One input (file, or line of a .jsonl file) was refused."""

    def __init__(self, source: str, reason: str):
        self.source, self.reason = source, reason
        super().__init__(f"{source}: {reason}")


class IndexMismatchError(RagError):
    """The index was built with other embedding/chunking settings."""

    exit_code = 3


class IndexLockedError(RagError):
    """Another process is writing to this index."""

    exit_code = 4


class StoreUnavailableError(RagError):
    """The Chroma server (RAG_CHROMA_URL) did not answer within the retry budget."""

    exit_code = 5


class DocumentNotFoundError(RagError):
    def __init__(self, doc_id: str):
        self.doc_id = doc_id
        super().__init__(
            f"No document with id {doc_id!r} in this index. "
            "List the ids with `rag docs` (or Assistant.documents())."
        )


class QuestionError(RagError):
    """The question cannot be asked as given (empty, too long)."""


class LLMError(RagError):
    """The language model backend failed or is misconfigured."""
