"""What counts as the same value across articles (pure functions; the
end-to-end behaviour is checked on real indexes in test_core_answers.py,
test_eval_gate.py and test_ui_conflicts.py)."""
from __future__ import annotations

import pytest

from rag.answering.corroborate import same_value, value_of


@pytest.mark.parametrize("a,b,kind,same", [
    ("over 258 million doses", "more than 258 million doses", "number", True),
    ("Twelve people", "12 dead", "number", True),
    ("Twelve people", "Fourteen people", "number", False),
    ("US$900 million", "US$80 million", "number", False),
    ("1,230 km", "1230 km", "number", True),
    ("2025-11-10", "November 10", "date", True),      # the parts both give agree
    ("the 2025-2030", "2025–2030", "date", True),
    ("1987", "June 1989", "date", False),
    ("2020", "2020–2021", "date", False),             # a year is not a period
    ("Mayor Elena Varga", "Elena Varga", "person", True),
    ("Prime Minister Phạm Minh Chính", "PM Chinh", "person", True),
    ("Mayor Elena Varga", "Mayor Elena Vargas", "person", False),
    ("Mayor Elena Varga", "Regional Governor Paul Okafor", "person", False),
])
def test_same_value(a, b, kind, same):
    assert same_value(value_of(a, kind), value_of(b, kind)) is same


def test_vague_values_are_not_values():
    assert value_of("hundreds", "number") is None
    assert value_of("Mayor", "person") is None
