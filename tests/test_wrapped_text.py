"""Plain text hard-wrapped at a fixed column (e-mail and terminal exports): a line break inside a
paragraph is not a sentence end, so sentences, and the quotes cut from them, stay whole."""
from __future__ import annotations

import textwrap

import pytest

from conftest import assert_quotes_verbatim
from rag.chunking import split_sentences, wrap_width

TITLE = "Harbour crane collapses at Port Ellery, two dockers injured"
PARAGRAPHS = [
    "A container crane collapsed at the Port Ellery terminal on Friday afternoon, injuring two "
    "dockers and closing the north quay for the rest of the week, the harbour authority said.",
    "The crane, which was installed in 1994 and lifted about 30 containers an hour, fell across "
    "the deck of the cargo ship Maren Holt while it was being unloaded at berth seven.",
    "Harbour master Idris Camber said an inspection of the other five cranes on the quay would "
    "begin on Monday morning and take about three days.",
]


def wrapped(width: int = 72) -> str:
    return TITLE + "\n" + "\n\n".join(textwrap.fill(p, width) for p in PARAGRAPHS) + "\n"


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def test_a_hard_wrapped_paragraph_is_split_into_whole_sentences_and_the_headline_stays_apart():
    text = wrapped()
    assert wrap_width(text) == 72 and "\n" in text.split("\n\n")[1]  # paragraphs run over lines
    got = sentences(text)
    assert got[0] == TITLE  # the headline is not run into the first sentence
    assert [" ".join(s.split()) for s in got[1:]] == [" ".join(p.split()) for p in PARAGRAPHS]
    assert all(text[a:b] == s for (a, b), s in zip(split_sentences(text), got))  # offsets into the text itself


def test_text_that_is_not_wrapped_keeps_every_line_break_as_a_sentence_end():
    one_line_paragraphs = TITLE + "\n" + "\n\n".join(PARAGRAPHS)
    assert wrap_width(one_line_paragraphs) == 0
    assert sentences(one_line_paragraphs) == [TITLE] + PARAGRAPHS
    short_lines = "Contents\nWorld\nBusiness news\nsport and weather\nLetters\n"
    assert sentences(short_lines) == ["Contents", "World", "Business news", "sport and weather", "Letters"]


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    from rag import Assistant

    folder = tmp_path_factory.mktemp("wrapped-articles")
    (folder / "elleryherald-2026-06-06-crane-collapse.txt").write_text(wrapped(), encoding="utf-8")
    a = Assistant(index_dir=tmp_path_factory.mktemp("wrapped-index"))
    assert a.ingest([folder]).ok
    return a


def test_a_wrapped_articles_answer_quotes_the_whole_sentence(port):
    ans = port.ask("When was the crane installed?")
    assert not ans.abstained and "1994" in ans.short.text, ans.text
    quote = ans.quotes[0].text
    assert quote.startswith("The crane, which was installed in 1994") and quote.endswith("at berth seven."), quote
    assert "\n" in quote  # the article's own line breaks, verbatim
    assert_quotes_verbatim(port, ans)
