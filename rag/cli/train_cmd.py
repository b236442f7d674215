"""`rag train-reader`, `rag train-verifier` and `rag fit-decision`: the learned parts of answering,
trained here."""
from __future__ import annotations


def register_train(sub) -> None:
    from ..training import fit_decision, train_reader, train_verifier

    for name, mod, help_ in (
            ("train-reader", train_reader, "fine-tune the span reader on SQuAD 2.0 training articles"),
            ("train-verifier", train_verifier, "train the answer verifier on SQuAD 2.0 training articles"),
            ("fit-decision", fit_decision, "fit the answer/abstain decision on held-out training articles")):
        p = sub.add_parser(name, help=help_, add_help=False)
        p.set_defaults(func=lambda args, mod=mod: mod.main([]))  # rag/cli/__init__.py hands them argv
