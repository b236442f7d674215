"""`rag serve`: the web UI (gradio) over an index."""
from __future__ import annotations

from .common import add_index_arg


def cmd_serve(args) -> int:
    from ..settings import Settings
    from ..web import launch

    launch(index_dir=args.index, settings=Settings(), host=args.host, port=args.port)
    return 0


def register_serve(sub) -> None:
    p = sub.add_parser("serve", help="start the web UI (default http://127.0.0.1:7860)")
    add_index_arg(p)
    p.add_argument("--host", default=None, help="bind address (RAG_UI__HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (RAG_UI__PORT, default 7860)")
    p.set_defaults(func=cmd_serve)
