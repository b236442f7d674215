"""Shared fixtures: a real index of the bundled articles, built once per session."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "rag" / "data" / "articles"
# eval/gold.jsonl's questions, in file order (the bundled articles' measuring set)
GOLD_QUESTIONS = [json.loads(line)["question"] for line in
                  (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


# The longest test files, longest first (seconds of test time each, `--durations=0` on a 2-core
# AVX2-only EPYC, 2026-11-27). scripts/test.sh runs one file per worker (--dist loadfile) and
# turns off xdist's own order (files with more tests first, which started the two longest ones
# last): starting these first lets the short files fill in around them. Simulated on those
# durations, the two workers' busy time went from 833/988 s to 901/920 s.
SLOW_FIRST = ["test_reliability_update.py",   # 233 s
              "test_readme_examples.py",      # 207 s
              "test_hostile_inputs.py",       # 178 s
              "test_reader.py",               # 116 s
              "test_security_planted.py",     # 93 s
              "test_kernels.py"]              # 90 s


def pytest_collection_modifyitems(config, items) -> None:
    """The files in SLOW_FIRST first, in that order; the others as collected (the order of
    tests inside a file never changes)."""
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FIRST)))


def assert_quotes_verbatim(assistant, answer) -> None:
    """The product's promise: every quote shown is the document's own text at its offsets."""
    shown = list(answer.quotes) + list(answer.closest) + ([answer.short] if answer.short else [])
    shown += [c.quote for c in answer.conflicts] + [q for g in answer.support for q in g.quotes]
    for q in shown:
        doc = assistant.document(q.doc_id)
        assert doc.text[q.start:q.end] == q.text, (q.doc_id, q.start, q.end)
    if answer.short is not None:  # the short answer stands inside the first quote
        first = answer.quotes[0]
        assert first.doc_id == answer.short.doc_id and first.start <= answer.short.start < answer.short.end <= first.end


@pytest.fixture(scope="session")
def bundled_assistant(tmp_path_factory):
    from rag import Assistant

    return Assistant(index_dir=tmp_path_factory.mktemp("bundled-index"), bootstrap=True)


@pytest.fixture(scope="session")
def bundled_index_copy(tmp_path_factory):
    """copy(name) -> the folder of a new, writable index of the bundled articles: a copy of one
    index built once per session as Assistant(bootstrap=True) builds it (Chroma files and all),
    for modules that need a bundled index of their own (the web UI tests run an app over it,
    upload into it, remove from it) without each embedding the articles again. Opened with
    bootstrap=True, a copy is used as it is (it is not empty)."""
    from rag import Assistant

    template = tmp_path_factory.mktemp("bundled-index-template") / "index"
    assert len(Assistant(index_dir=template, bootstrap=True).documents()) == len(list(BUNDLED.iterdir()))

    def copy(name: str) -> Path:
        dst = tmp_path_factory.mktemp(name) / "index"
        shutil.copytree(template, dst)
        return dst

    return copy


@pytest.fixture(scope="session")
def bundled_gold_answers(bundled_assistant, tmp_path_factory) -> dict:
    """{question: Answer} for every question of eval/gold.jsonl, asked once per session of the
    bundled articles through the real pipeline. Three modules need exactly these answers and
    each used to ask all 96 itself: test_answers_stable and test_security_planted (the answers
    without the added articles, to compare against) and test_eval_gate (what the gold gate
    scores). Answers are values (the tests only read them).

    Under pytest-xdist the workers share one set: the first worker to need it asks, the
    others wait for it and read it (pickled in the run's temporary folder, which only this
    run's workers share); each worker asked all 96 itself before, 40-60 s each on 2 cores.
    Every worker's index holds the same bundled articles, so the answers are the ones it
    would have got."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return {q: bundled_assistant.ask(q) for q in GOLD_QUESTIONS}
    import pickle

    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent / "bundled-gold-answers.pickle"
    with FileLock(str(shared) + ".lock"):
        if shared.is_file():
            answers = pickle.loads(shared.read_bytes())
        else:
            answers = {q: bundled_assistant.ask(q) for q in GOLD_QUESTIONS}
            shared.write_bytes(pickle.dumps(answers))
    assert list(answers) == GOLD_QUESTIONS
    return answers


@pytest.fixture()
def articles_copy(tmp_path) -> Path:
    """A private, writable copy of the bundled articles."""
    dst = tmp_path / "articles"
    shutil.copytree(BUNDLED, dst)
    return dst


def filler_prose(seed: int, n_sentences: int) -> str:
    """Sentences of made-up words that vary like prose: filler for synthetic articles. A sentence
    repeated many times would make every passage repeat itself like a keyword-stuffed page,
    which answering sets aside (rag/planted.py)."""
    import random

    rng = random.Random(seed)
    syllables = ("ba be bi bo bu da de di do du ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni no "
                 "nu ra re ri ro ru sa se si so su ta te ti to tu").split()

    def word() -> str:
        return "".join(rng.choice(syllables) for _ in range(rng.randint(2, 3)))

    return " ".join(word().capitalize() + " " + " ".join(word() for _ in range(rng.randint(8, 12))) + "."
                    for _ in range(n_sentences)) + " "
