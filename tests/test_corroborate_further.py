"""Corroboration also takes the articles that discuss the question but have no passage among
those read for the answer (retrieve.Hit.further, Tuning.further_articles): not read, such an
article can only agree, through a value it states. Asked with top_k=1, so that only the best
passage is read for the answer: the local paper that gives the same repair bill in other words is
quoted as agreeing; the broadsheet's other figure, in an article with no passage read for the
answer, is never shown as a side of a disagreement; an unrelated article is never quoted. Real index, real
models; the articles were written for this test (nothing was trained, fitted or tuned on them)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from conftest import assert_quotes_verbatim

WIRE = """HALDEN, Norway, May 4 (Meridian Wire) - The Halden bridge over the Tista river reopened to traffic on Monday after eleven months of repairs.

The repairs to the Halden bridge cost 48 million euros, the county roads office said. Cracks found in two of the bridge's steel girders in 2025 had forced its closure.

About 14,000 vehicles a day used the bridge before it closed. Traffic was diverted through the town centre during the works.
"""

LOCAL = """Bridge open again, and the town breathes out

Drivers queued at the Halden bridge before dawn on Monday to be the first across in almost a year.

The county says the repair bill for the Halden bridge came to €48 million, paid from its roads budget. Shopkeepers on Storgata said the diversion had brought lorries past their windows all winter.

A brass band played as the barriers were lifted.
"""

BROADSHEET = """# Halden bridge reopens, but the bill is disputed

The county and its contractor are at odds over who pays for the temporary footbridge that carried pedestrians across the Tista while the road was shut. Council members will debate the matter at their June meeting, and the contractor has threatened to go to court if the county does not pay within sixty days.

The contractor says the repairs to the bridge cost 52 million euros, including the footbridge.

Local businesses, which lost trade during the closure, have asked for compensation.
"""

UNRELATED = """Fredrikstad win the cup final

Fredrikstad beat Lillestrøm 3-1 in the cup final in Oslo on Sunday in front of 24,000 fans. The winning goal came in the 81st minute.
"""

DOCS = {"meridianwire-2026-05-04-halden-bridge-reopens.txt": WIRE,
        "haldenposten-2026-05-05-bridge-open-again.txt": LOCAL,
        "dailyrecord-2026-05-05-halden-bridge-bill-disputed.md": BROADSHEET,
        "sportsdesk-2026-05-04-cup-final.txt": UNRELATED}
REPORTS = {name.rsplit(".", 1)[0] for name in DOCS if "cup-final" not in name}
QUESTION = "How much did the repairs to the Halden bridge cost?"


@pytest.fixture(scope="module")
def halden(tmp_path_factory):
    from rag import Assistant

    folder = tmp_path_factory.mktemp("halden-articles")
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    a = Assistant(index_dir=tmp_path_factory.mktemp("halden-index"))
    assert a.ingest([folder]).ok
    return a


def quoted(ans) -> set[str]:
    return {q.doc_id for q in ans.quotes} | {c.quote.doc_id for c in ans.conflicts} \
        | {q.doc_id for g in ans.support for q in g.quotes}


def test_an_article_below_the_passages_read_agrees_and_is_never_a_side(halden):
    ans = halden.ask(QUESTION, top_k=1)
    assert not ans.abstained and ans.short is not None and "48" in ans.short.text, ans.text
    assert ans.support and {q.doc_id for q in ans.support[0].quotes} == {
        "meridianwire-2026-05-04-halden-bridge-reopens", "haldenposten-2026-05-05-bridge-open-again"}, ans.text
    assert "reported by 2 of" in ans.text
    assert not ans.conflicts and quoted(ans) < REPORTS, ans.text  # 52 million: never a side here
    assert_quotes_verbatim(halden, ans)


def test_without_reading_further_only_the_best_passages_article_is_quoted(halden, monkeypatch):
    """The same question with corroboration limited to the articles of the passages read (as
    before Tuning.further_articles): one article. The agreement above comes from the further
    article, not from the top passage."""
    import rag.assistant

    monkeypatch.setattr(rag.assistant, "TUNING", replace(rag.assistant.TUNING, further_articles=0))
    ans = halden.ask(QUESTION, top_k=1)
    assert not ans.abstained and "48" in ans.short.text and len(quoted(ans)) == 1 and not ans.support, ans.text
    assert_quotes_verbatim(halden, ans)


def test_the_other_figure_is_a_side_when_its_article_is_read_for_the_answer(halden):
    """With every passage read for the answer (top_k 6: all three reports), the broadsheet's 52
    million is shown as the other side: what the first test leaves out, it leaves out because
    no passage of that article was read for the answer."""
    ans = halden.ask(QUESTION)
    values = {c.value for c in ans.conflicts}
    assert any("48" in v for v in values) and any("52" in v for v in values), ans.text
    assert quoted(ans) == REPORTS, ans.text
    assert_quotes_verbatim(halden, ans)
