"""`rag train-reader`, `rag train-verifier`, `rag fit-decision` and `rag fit-answer-type`: the learned parts of answering,
trained here."""
from __future__ import annotations


def register_train(sub) -> None:
    from ..training import fit_answer_type, fit_decision, train_reader, train_verifier

    for name, mod, help_ in (
            ("train-reader", train_reader, "fine-tune the span reader on SQuAD 2.0 training articles"),
            ("train-verifier", train_verifier, "train the answer verifier on SQuAD 2.0 training articles"),
            ("fit-decision", fit_decision, "fit the answer/abstain decision on held-out training articles"),
            ("fit-answer-type", fit_answer_type, "fit the answer-type model and its veto on training data")):
        p = sub.add_parser(name, help=help_, add_help=False)
        p.set_defaults(func=lambda args, mod=mod: mod.main([]))  # rag/cli/__init__.py hands them argv
