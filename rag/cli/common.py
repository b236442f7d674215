"""Shared CLI plumbing: --index and settings overrides, opening the assistant."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..settings import Settings


def add_index_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", metavar="DIR", default=None,
                   help="index folder (default: RAG_INDEX_DIR or ./index, built from the "
                        "bundled articles on first use)")


def open_assistant(args, **overrides):
    from ..assistant import Assistant

    settings = Settings()
    for key, value in overrides.items():
        group, _, field = key.partition("__")
        if value is not None:
            sub = getattr(settings, group).model_copy(update={field: value})
            settings = settings.model_copy(update={group: sub})
    if args.index is not None:
        return Assistant(index_dir=Path(args.index), settings=settings)
    return Assistant(settings=settings)
