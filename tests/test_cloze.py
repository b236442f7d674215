"""Cloze questions made from unlabelled text (the reader's first training stage).

The paragraphs are written here; the questions are checked as a reader of the training data
would check them: the answer is a verbatim slice of another paragraph, the question no
longer holds it, and a no-answer pair's paragraph really lacks it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rag.training.cloze import cloze_examples, folder_documents, paragraphs_of, wh_word

ROOT = Path(__file__).resolve().parent.parent

PARAS = [
    "The Harbour Bridge was designed by Lena Okafor and opened in 1932 after nine years of work. "
    "It carries eight lanes of traffic across the river.",
    "Lena Okafor, the bridge's chief engineer, had studied steel arches in Glasgow. "
    "Work on the bridge began in 1923, and it opened in 1932 to great crowds.",
    "Traffic across the river doubled within a decade. A toll of six pence paid for the works.",
    "The ferry company lost most of its passengers to the bridge and closed in 1940.",
    "The Harbour Bridge was repainted in grey after years of work by a crew of forty.",
]


def _cut(e):
    """(paragraph, span) pairs: where the question's sentence is, and the span its wh-word stands for."""
    import re

    body = e.question[:-1]
    out = []
    for wh in ("how many", "when", "what"):
        for m in re.finditer(re.escape(wh), body):
            pattern = re.escape(body[:m.start()]) + "(.+?)" + re.escape(body[m.end():]) + r"[.;:!]?(?:\s|$)"
            out += [(p, g.group(1)) for p in PARAS for g in [re.search(pattern, p)] if g]
    return out


def _sources(e, span):
    """The paragraphs holding the question's sentence with `span` put back for its wh-word."""
    return [p for p, s in _cut(e) if s == span]


def test_a_recurring_name_becomes_a_question_answered_by_another_paragraph():
    ex = cloze_examples([("bridge", PARAS)], negatives=0.0, seed=1)
    assert ex, "the name and the year recur: questions are expected"
    for e in ex:
        assert e.answers, "negatives=0: every question has its answer"
        (text, start), = e.answers
        assert e.context[start:start + len(text)] == text          # verbatim in its paragraph
        assert e.context in PARAS and text not in e.question        # the span is cut out of the question
        assert e.question.endswith("?")
        assert _sources(e, text) and e.context not in _sources(e, text), \
            "the question comes from a sentence of another paragraph"
    asked = {e.answers[0][0] for e in ex}
    assert "Lena Okafor" in asked or "1932" in asked
    years = [e for e in ex if e.answers[0][0] == "1932"]
    assert all(" when" in e.question or e.question.startswith("when") for e in years)


def test_no_answer_pairs_give_a_paragraph_without_the_span():
    ex = cloze_examples([("bridge", PARAS)], negatives=1.0, seed=1)
    negatives = [e for e in ex if not e.answers]
    assert negatives
    for e in negatives:
        assert e.context in PARAS
        (source, span), = _cut(e)
        assert source != e.context and span not in e.context, "a no-answer paragraph lacks the cut-out span"


def test_a_span_found_nowhere_else_makes_no_question():
    lone = ["Mira Castellanos founded the choir in a small chapel near the market square.",
            "The choir sings every Sunday morning in the chapel near the market square."]
    ex = cloze_examples([("choir", lone)], negatives=0.0)
    assert all(e.answers[0][0] != "Mira Castellanos" for e in ex)


def test_wh_words():
    assert wh_word("1932") == "when" and wh_word("1,240") == "how many" and wh_word("Lena Okafor") == "what"


def test_paragraphs_of_cuts_long_paragraphs_and_keeps_text_verbatim():
    text = "One two three four. " * 14 + "\n\nShort paragraph here."
    paras = paragraphs_of(text, max_sentences=6)
    assert len(paras) == 4 and all(p in text for p in paras)


def test_folder_documents_read_a_development_set_as_one_document():
    name, paras = folder_documents(ROOT / "eval" / "newsdev" / "civic_dev")
    assert name == "civic_dev" and len(paras) > 50
    assert not any(p.startswith("# ") and len(p) < 3 for p in paras)


def test_training_refuses_a_measuring_set_as_cloze_text(tmp_path):
    train_json = ROOT.parent / "shared" / "datasets" / "squad2-train" / "squad2-train.json"
    r = subprocess.run([sys.executable, "-m", "rag", "train-reader", "--data", str(train_json), "--out",
                        str(tmp_path / "r"), "--cloze-epochs", "1", "--cloze-text", "tests/data/conflict_corpus"],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 2
    assert "conflict_corpus: that is a measuring set" in r.stderr
    assert not (tmp_path / "r" / "training.json").exists()
