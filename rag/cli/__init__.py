"""The `rag` command. Each subcommand lives in its own small module.

Domain errors become messages on stderr and exit codes here, at the edge.
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional

from ..errors import RagError
from . import commands


def _train_reader(argv):
    from ..training.train_reader import main as run
    return run(argv)


def _train_verifier(argv):
    from ..training.train_verifier import main as run
    return run(argv)


def _fit_decision(argv):
    from ..training.fit_decision import main as run
    return run(argv)


TRAINING_COMMANDS = {"train-reader": _train_reader, "train-verifier": _train_verifier,
                     "fit-decision": _fit_decision}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rag", description="Grounded question answering over news articles.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in commands.REGISTRY:
        register(sub)
    return p


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in TRAINING_COMMANDS:  # they parse their own arguments
        return TRAINING_COMMANDS[argv[0]](argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RagError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
