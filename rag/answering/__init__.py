"""Answering: from retrieved chunks to a typed Answer.

evidence (sentence spans, lazy scoring) -> reader (trained span reader) -> decide (learned
answer/abstain decision) -> extractive writer and LLM writer -> corroborate (cross-source
checks) -> render (text for people). `Answerer` (pipeline.py) runs the stage.
"""
from .evidence import Candidate, Evidence
from .pipeline import Answerer, QuoteSource, quotes_for

__all__ = ["Answerer", "Candidate", "Evidence", "QuoteSource", "quotes_for"]
