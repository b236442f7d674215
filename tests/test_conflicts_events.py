"""Cross-source answers on the events corpus (tests/data/events_corpus: three invented events,
six outlets in different house styles; a measuring set nobody tuned on), through the whole
pipeline: real index, real model, the trained reader and decision."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import assert_quotes_verbatim

CORPUS = Path(__file__).parent / "data" / "events_corpus"


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    from rag import Assistant

    a = Assistant(index_dir=tmp_path_factory.mktemp("events-index"))
    files = sorted(p for p in CORPUS.iterdir() if p.suffix in (".txt", ".md", ".html", ".jsonl"))
    assert a.ingest(files).ok
    return a


def _doc_ids(quotes) -> list[str]:
    return [q.doc_id for q in quotes]


def test_names_with_and_without_diacritics_corroborate(events):
    ans = events.ask("Who was the chief engineer on the aqueduct project?")
    assert not ans.abstained and "lvarez" in ans.short.text
    assert ans.support, ans.text
    quoted = ans.support[0].quotes
    assert len(set(_doc_ids(quoted))) >= 2
    assert any("José Álvarez" in q.text for q in quoted) and any("Jose Alvarez" in q.text for q in quoted)
    assert_quotes_verbatim(events, ans)


def test_different_figures_for_one_thing_are_a_conflict_with_every_side_quoted(events):
    ans = events.ask("How many firefighters were sent to the derailment?")
    assert ans.conflicts, ans.text
    values = " ".join(c.value for c in ans.conflicts)
    assert "240" in values and "300" in values
    sides = [c.quote.doc_id for c in ans.conflicts]
    assert len(sides) == len(set(sides)), "an article is never on two sides"
    assert_quotes_verbatim(events, ans)


@pytest.mark.parametrize("question", [
    "How many people died when the Phú Hưng 7 ferry capsized?",
    "Vam Tre ferry: how many passengers on board?",
    "How many people were rescued from the Vam Tre river?",
    "How many people were injured in the Hollenbrück derailment?",
    "On what date did the Hollenbrück freight train derail?",
    "How many passengers was the Phú Hưng 7 licensed to carry?",
])
def test_no_article_is_in_conflict_with_itself_and_counts_add_up(events, question):
    ans = events.ask(question)
    value_sides = [c.quote.doc_id for c in ans.conflicts if c.kind == "value"]
    assert len(value_sides) == len(set(value_sides)), ans.text
    for group in ans.support:
        ids = _doc_ids(group.quotes)
        assert len(ids) == len(set(ids)), ans.text
    assert_quotes_verbatim(events, ans)
