"""Every example question the chat page offers is answered from the bundled articles."""
from __future__ import annotations

import pytest

from conftest import assert_quotes_verbatim
from rag.web.app import EXAMPLES


@pytest.mark.parametrize("question", EXAMPLES)
def test_each_example_shown_in_the_ui_is_answered(bundled_assistant, question):
    ans = bundled_assistant.ask(question)
    assert not ans.abstained, (question, ans.text)
    assert ans.quotes and ans.short is not None
    assert_quotes_verbatim(bundled_assistant, ans)
