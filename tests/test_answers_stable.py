"""Adding an article that does not discuss a question never changes its answer.

Every question of eval/gold.jsonl (the bundled articles' gold set) is asked over the
bundled articles (the session's index of them: conftest.bundled_gold_answers, shared with
the planted-corpus test and the gold gate), then over the same articles plus one unrelated news article
(tests/data/unrelated: a tram line in Da Nang, written for this test; it shares the
bundled articles' vocabulary of places, money and figures but none of their facts).
The answer (short phrase, abstention, quotes, the values of agreeing and conflicting
sources) must be the same, and the new article must never be quoted.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import BUNDLED, GOLD_QUESTIONS as QUESTIONS, assert_quotes_verbatim

pytestmark = pytest.mark.timeout(1800)  # 2 x 96 questions through the real pipeline

UNRELATED = Path(__file__).parent / "data" / "unrelated"


def _answers(tmp_path_factory, folders: list[Path], name: str):
    from rag import Assistant

    docs = tmp_path_factory.mktemp(name + "-docs")
    for folder in folders:
        for f in folder.iterdir():
            if f.is_file():
                shutil.copy(f, docs / f.name)
    a = Assistant(index_dir=tmp_path_factory.mktemp(name + "-index"))
    assert a.ingest([docs]).ok
    return a, {q: a.ask(q) for q in QUESTIONS}


@pytest.fixture(scope="module")
def both(tmp_path_factory, bundled_assistant, bundled_gold_answers):
    return (bundled_assistant, bundled_gold_answers), _answers(tmp_path_factory, [BUNDLED, UNRELATED], "plus")


def _key(ans) -> tuple:
    return (ans.abstained, ans.short.text if ans.short else None,
            tuple((q.doc_id, q.start, q.end) for q in ans.quotes),
            tuple(sorted(s.value or "" for s in ans.support)), tuple(sorted(c.value for c in ans.conflicts)))


def test_an_unrelated_article_changes_no_answer(both):
    (alone, before), (plus, after) = both
    changed = [(q, before[q].text, after[q].text) for q in QUESTIONS if _key(before[q]) != _key(after[q])]
    assert not changed, f"{len(changed)} of {len(QUESTIONS)} answers changed: {changed[:5]}"
    for q in QUESTIONS:
        assert not any("danang" in quote.doc_id or "tram" in quote.doc_id for quote in after[q].quotes), q
        assert_quotes_verbatim(plus, after[q])
