"""The web face of the product (gradio). The core (`rag`) never imports this package.

    from rag.web import build_app, launch
"""
from __future__ import annotations

import os

# No phoning home from a local tool: gradio's usage analytics stay off unless asked for.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def build_app(*args, **kwargs):
    from .app import build_app as _build

    return _build(*args, **kwargs)


def launch(*args, **kwargs):
    from .app import launch as _launch

    return _launch(*args, **kwargs)


__all__ = ["build_app", "launch"]
