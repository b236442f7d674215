"""What makes an answer cheaper without changing it, checked on real parts:

- the answer path's embedder (embeddings.CachedEmbedder) embeds each distinct text once and
  returns the vectors the model gives, whatever else is in the batch (the real model);
- a reading window of a chunk (evidence.reading_window, measured and not the default): verbatim
  document text holding the chunk's best sentences (the real store);
- documents held out for claiming an outlet (provenance.held_claimants) that do not discuss
  the question have nothing embedded (pipeline.Answerer._held_covering);
- Assistant.open loads the value parsers' data before "Ready" (values.warm), so the first
  answers do not.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import BUNDLED, GOLD_QUESTIONS
from fakes import HashEmbedder
from rag import Assistant
from rag.answering.evidence import Evidence, passages_to_read, reading_window
from rag.answering.extract import question_type
from rag.answering.tuning import TUNING
from rag.embeddings import CachedEmbedder, get_embedder
from rag.retrieve import Hit
from rag.store import ChunkRecord


class Counting(HashEmbedder):
    def __init__(self):
        self.calls: list[list[str]] = []

    def embed(self, texts):
        self.calls.append(list(texts))
        return super().embed(texts)

    @property
    def texts(self) -> int:
        return sum(len(c) for c in self.calls)


def test_cached_embedder_embeds_each_text_once_with_the_models_own_vectors():
    model = get_embedder("auto", "all-MiniLM-L6-v2")
    cached = CachedEmbedder(model, size=3)
    a, b, c, d = ("The Rhine flows into the North Sea.", "Vietnam donated 500,000 doses.",
                  "The mill employs 7,500 people.", "A short one.")
    first = cached.embed([a, b, a, c])
    alone = np.stack([model.embed([t])[0] for t in (a, b, a, c)])
    # the vector of a text does not depend on its batch or on the cache (fp32 rounding only)
    assert first.shape == (4, model.dim) and np.abs(first - alone).max() < 1e-5
    assert np.array_equal(first[0], first[2])

    counting = Counting()
    cached = CachedEmbedder(counting, size=3)
    cached.embed([a, b, a, c])
    assert counting.calls == [[a, b, c]]  # a duplicate in one call is embedded once
    again = cached.embed([c, a])
    assert counting.calls == [[a, b, c]]  # kept from the last call
    assert np.array_equal(again, counting.embed([c, a]))
    counting.calls.clear()
    cached.embed([d])  # over size=3: the least recently used (b) is forgotten ...
    cached.embed([b, a])
    assert counting.calls == [[d], [b]]  # ... and embedded again; a was used recently
    cached.clear()
    cached.embed([a])
    assert counting.calls[-1] == [a]
    assert cached.embed([]).shape[0] == 0


@pytest.fixture(scope="module")
def hashed(tmp_path_factory):
    """The bundled articles with a hash embedder (the windows are about offsets and sentences,
    not the model) and the real reader and decision."""
    a = Assistant(index_dir=tmp_path_factory.mktemp("idx"), embedder=HashEmbedder())
    assert a.ingest([BUNDLED]).ok
    return a


def test_reading_windows_are_verbatim_and_hold_the_best_sentences(hashed):
    """Tuning.reader_window (measured, not the default: see tuning.py): each chosen chunk cut to
    its best sentences and one sentence either side, as document text at its offsets."""
    a, shorter, checked = hashed, 0, 0
    n = TUNING.reader_passages
    for q in GOLD_QUESTIONS[:40]:
        ev = a.evidence(q)
        if not ev.ranked:
            continue
        chunks = passages_to_read(ev, n)
        assert [reading_window(ev, h, -1, n) for h in chunks] == chunks  # -1: whole chunks
        top = ev.ranked[:n]
        for h in chunks:
            w = reading_window(ev, h, 1, n)
            doc = a.document(w.record.doc_id)
            assert doc.text[w.record.start:w.record.end] == w.record.text  # verbatim by construction
            assert w.record.chunk_id == h.record.chunk_id
            assert h.record.start <= w.record.start < w.record.end <= h.record.end
            inside = [sp for sp in top if sp.doc_id == h.record.doc_id and h.record.start <= sp.start < h.record.end]
            for sp in inside:  # every best sentence of the chunk is read
                assert w.record.start <= sp.start and sp.end <= w.record.end, (q, sp.text)
            if not inside:
                assert w is h
            assert reading_window(ev, w, 1, n).record == w.record  # a window of a window is itself
            shorter += len(w.record.text) < len(h.record.text)
            checked += 1
    # not vacuous: windows do cut chunks (26 of 120 here on 2026-11-25: the bundled chunks are short)
    assert checked >= 60 and shorter >= 10, (checked, shorter)


def test_held_documents_that_do_not_discuss_the_question_are_not_embedded(hashed):
    a = hashed
    counting = Counting()
    answerer = a.answerer
    question = "How many doses did the ministry secure?"
    off_topic = ChunkRecord("held-1", "held-doc", 0, 60, "Harbour cranes arrived on Monday. The port opened.")
    on_topic = ChunkRecord("held-2", "held-doc-2", 0, 60, "The ministry secured 500,000 doses. It said so.")
    sparse = a.sparse.get()
    ev = Evidence(question, question_type(question), [], [], [], sparse.idf,
                  held=[Hit(off_topic, 1.0, held=True), Hit(on_topic, 0.9, held=True)],
                  q_vec=counting.embed([question])[0])
    counting.calls.clear()
    saved = answerer.embedder
    answerer.embedder = CachedEmbedder(counting)
    try:
        covering = answerer._held_covering(ev, 0.3)
        assert {sp.doc_id for sp in covering} == {"held-doc-2"}
        assert counting.texts == 0  # coverage needs no embedding
        ranked = answerer._held_ranked(ev, covering)
        assert {sp.doc_id for sp in ranked} == {"held-doc-2"}
        assert all("Harbour" not in t for call in counting.calls for t in call)
    finally:
        answerer.embedder = saved


def test_open_loads_what_the_first_answers_would_load(bundled_index_copy):
    """Assistant.open (the web UI's start-up) says "Ready" only once the value parsers' data is
    loaded too (Babel's currency names, pint's units, dateparser): before, the first figure
    question after "Ready" paid ~1.4 s for it. Checked in a fresh process, where nothing else
    has loaded them; and the first money answer is still right."""
    import subprocess
    import sys

    from conftest import ROOT

    code = (
        "import sys; from rag import Assistant; from rag.answering import values as v\n"
        "a = Assistant.open(sys.argv[1])\n"
        "print(v._currency_names.cache_info().currsize, v._units.cache_info().currsize, "
        "v._date_parser.cache_info().currsize)\n"
        "print(a.ask('How much did vaccine diplomacy save the state budget?').short.text)\n")
    p = subprocess.run([sys.executable, "-c", code, str(bundled_index_copy("open-warm"))], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-1500:]
    loaded, short = p.stdout.strip().splitlines()[-2:]
    assert loaded == "1 1 1", p.stdout
    assert "US$900 million" in short, short  # eval/gold.jsonl g004


_PARSE = (
    "import sys\nfrom rag.answering import values as v\n"
    "if sys.argv[1] == 'cached':  # must come from the disk cache, not from Babel\n"
    "    v._build_currency_names = lambda: (_ for _ in ()).throw(AssertionError('rebuilt'))\n"
    "for t in ('3.2 billion zlotys', '310 million reais', 'R$540 million', 'forty-seven kilometres',\n"
    "          '180 minutes'):\n"
    "    a = v.parse_amount(t); print(f'{a.value:g} {a.unit}')\n")
EXPECTED = ["3.2e+09 PLN", "3.1e+08 BRL", "5.4e+08 BRL", "47000 [length]", "10800 [time]"]


def test_parser_data_is_cached_on_disk_and_a_damaged_cache_is_rebuilt(tmp_path):
    """Babel's currency names and pint's unit definitions are built once per machine into
    RAG_PARSER_CACHE (~1 s a process before: every `rag ask` paid it): a second process reads
    them from there and parses the same values; a damaged cache file is built again, never an
    error."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    cache = tmp_path / "parsers"
    env = {**os.environ, "RAG_PARSER_CACHE": str(cache)}

    def run(mode: str) -> list[str]:
        p = subprocess.run([sys.executable, "-c", _PARSE, mode], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr[-1500:]
        return p.stdout.split("\n")[:-1]

    assert run("build") == EXPECTED
    names = list(cache.glob("currency-names-*.json"))
    assert len(names) == 1 and [p.name for p in cache.glob("pint-*") if p.is_dir()]
    assert not list(cache.glob("*.tmp"))  # built in private folders, renamed into place
    assert run("cached") == EXPECTED
    names[0].write_text('{"half": ', encoding="utf-8")
    for f in next(cache.glob("pint-*")).iterdir():
        f.write_bytes(b"\x80 not a pickle")
    assert run("build") == EXPECTED
    assert run("cached") == EXPECTED  # the names were written again
