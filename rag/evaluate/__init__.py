"""Evaluation: gold samples (data) + pure metric functions + a runner and report."""
from .metrics import summarize
from .samples import GoldSample, load_gold

__all__ = ["GoldSample", "load_gold", "summarize"]
