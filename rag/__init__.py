"""Grounded question answering over news articles, with verbatim quoted spans."""
from .answer import Answer, Quote
from .assistant import Assistant
from .documents import Document
from .errors import RagError
from .settings import Settings

__all__ = ["Assistant", "Answer", "Quote", "Document", "RagError", "Settings"]
__version__ = "0.1.0"
