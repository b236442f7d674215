"""Folding for matching (textnorm.fold): the same result on every text as its definition."""
from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from rag.textnorm import _SPECIAL, fold


def folded_by_definition(text: str) -> str:
    """Typographic characters mapped, NFKD, combining marks dropped, lower case."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPECIAL))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x7F)) | st.text())
def test_fold_is_its_definition_on_ascii_and_other_text(text):
    assert fold(text) == folded_by_definition(text)


def test_fold_reads_names_and_quotes_as_a_reader_types_them():
    assert fold("Nguyễn Văn Hải") == "nguyen van hai"
    assert fold("Đà Nẵng’s “Số 1” – 2025") == "da nang's \"so 1\" - 2025"
    assert fold("The MAYOR said") == "the mayor said"
