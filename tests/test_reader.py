"""The trained span reader: the shipped weights answer, training runs, the decision loads.

The reader and the decision are the real shipped files (rag/data/reader); the passages
are written here, not taken from any set the reader was trained or measured on.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rag.answering.decide import DECISION_FILE, load_decision
from rag.answering.evidence import FEATURES
from rag import kernels
from rag.answering.reader import SHIPPED_READER, SpanReader, get_reader
from rag.settings import EmbeddingSettings, Settings

ROOT = Path(__file__).resolve().parent.parent
TRAIN_JSON = ROOT.parent / "shared" / "datasets" / "squad2-train" / "squad2-train.json"

PASSAGE = ("The new bridge over the Saigon River was opened on 2 September 2024 by the city's mayor, "
           "Tran Van Binh. It is 1,350 metres long and cost 3.2 trillion dong. Engineers from Japan "
           "designed its cable-stayed main span.")


@pytest.fixture(scope="module")
def reader():
    return SpanReader(SHIPPED_READER)


def test_shipped_reader_points_at_a_span_inside_the_passage(reader):
    (span,) = reader.read("Who opened the bridge?", [PASSAGE])
    assert span is not None
    assert PASSAGE[span.start:span.end] == span.text  # a slice of the passage, never retyped
    assert "Tran Van Binh" in span.text and len(span.text) <= len("Tran Van Binh") + 25, span.text


def test_reader_reads_several_passages_and_scores_any_span(reader):
    other = "The old ferry it replaces carried 4,000 passengers a day."
    (a, b), scorers = reader.read_scored([("How many passengers did the ferry carry?", PASSAGE),
                                          ("How many passengers did the ferry carry?", other)])
    assert b is not None and "4,000" in b.text and other[b.start:b.end] == b.text
    start = other.index("4,000")
    # the reader's score of a span it did not choose is on the same scale, and lower
    assert scorers[1].score(start, start + len("4,000 passengers")) <= b.score + 1e-6
    assert scorers[1].score(0, len(other) + 5) is None  # outside the passage: no score


def test_reader_scores_no_answer_higher_for_a_question_the_passage_does_not_answer(reader):
    (answered,) = reader.read("Who opened the bridge?", [PASSAGE])
    (unanswered,) = reader.read("How many people died building the bridge?", [PASSAGE])
    assert answered.margin > unanswered.margin


@pytest.mark.parametrize("provider,chosen", [("torch-bf16", None), ("sentence-transformers", None), ("onnx", None),
                                             ("auto", "torch-bf16"), ("auto", "onnx")])
def test_reader_runs_on_the_embedding_kernel_chosen_for_the_machine(reader, tmp_path, provider, chosen):
    """bf16 autocast iff the chosen embedding kernel is torch-bf16: forced by the setting, or
    picked by `auto` (here from this machine's cache entry, as a measurement would leave it)."""
    cache = tmp_path / "kernels.json"
    if chosen:
        kernels._write_entry(cache, kernels._entry_key("all-MiniLM-L6-v2", 64),
                             {"chosen": chosen, "query": "onnx", "measured": {}, "at": "test", "why": "test"})
    s = Settings(embedding=EmbeddingSettings(provider=provider, kernel_cache=cache))
    r = SpanReader(model=reader.model, tokenizer=reader.tokenizer, settings=s)
    assert r.bf16 == ((chosen or provider) == "torch-bf16")
    assert (chosen or provider) in r.bf16_reason
    assert chosen or not cache.exists()  # a forced kernel measures nothing


def test_bf16_reader_gives_the_fp32_answer_and_the_pipeline_reader_follows_the_setting(reader, monkeypatch):
    q = "How long is the bridge?"
    (fp32,) = SpanReader(model=reader.model, tokenizer=reader.tokenizer, bf16=False).read(q, [PASSAGE])
    (bf16,) = SpanReader(model=reader.model, tokenizer=reader.tokenizer, bf16=True).read(q, [PASSAGE])
    assert "1,350" in bf16.text and PASSAGE[bf16.start:bf16.end] == bf16.text
    assert (bf16.start, bf16.end) == (fp32.start, fp32.end)
    assert bf16.score != fp32.score  # autocast really ran: the logits moved, the answer did not
    # the reader the answer pipeline loads (get_reader) follows RAG_EMBEDDING__PROVIDER
    monkeypatch.setenv("RAG_EMBEDDING__PROVIDER", "torch-bf16")
    on = get_reader(SHIPPED_READER)
    monkeypatch.setenv("RAG_EMBEDDING__PROVIDER", "sentence-transformers")
    off = get_reader(SHIPPED_READER)
    assert on.bf16 and not off.bf16 and on is not off
    assert get_reader(SHIPPED_READER) is off  # loaded once per precision


def test_shipped_decision_is_fitted_on_held_out_training_articles():
    d = load_decision(SHIPPED_READER)
    assert (SHIPPED_READER / DECISION_FILE).exists()
    assert set(d.features) <= set(FEATURES)
    assert d.meta["fitted_on"] and "leave_one_article_out" in d.meta
    card = (SHIPPED_READER / "MODEL_CARD.md").read_text()
    assert "rag train-reader" in card and "rag fit-decision" in card
    trained = json.loads((SHIPPED_READER / "training.json").read_text())
    assert not set(trained["held_out_articles"]) & {"Rhine"} and not trained["partial"]


def test_training_runs_a_few_steps_and_the_result_reads(tmp_path):
    assert TRAIN_JSON.exists(), "the training set is ../shared/datasets/squad2-train"
    out = tmp_path / "reader"
    r = subprocess.run([sys.executable, "-m", "rag", "train-reader", "--data", str(TRAIN_JSON), "--out", str(out),
                        "--limit", "24", "--epochs", "1", "--batch-size", "8", "--eval-limit", "6",
                        "--answers", "all", "--negatives", "0.5", "--held-out", "Force,Huguenot",
                        "--cloze-epochs", "1", "--cloze-text", "eval/newsdev/civic_dev"],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    meta = json.loads((out / "training.json").read_text())
    assert meta["train_questions"] == 24 and meta["history"] and meta["history"][-1]["n"] == 6
    assert meta["config"]["answers"] == "all" and meta["config"]["negatives"] == 0.5
    assert meta["held_out_articles"] == ["Force", "Huguenot"]  # fit-decision --fold reads this
    cloze = meta["history"][0]  # the cloze stage ran first and was measured on the held-out articles
    assert cloze["stage"] == "cloze" and cloze["windows"] >= 24 and cloze["n"] == 6
    assert "cloze:" in r.stderr and "squad:" in r.stderr
    (span,) = SpanReader(out).read("Who opened the bridge?", [PASSAGE])
    assert span is None or PASSAGE[span.start:span.end] == span.text


ARTICLE = ROOT / "rag" / "data" / "articles" / "vns-2025-11-10-mofa-patriotic-emulation-congress.txt"


@pytest.mark.parametrize("question,answer", [
    ("Who attended the ministry's Patriotic Emulation Congress?", "Phạm Minh Chính"),
    ("How many doses of vaccines did the ministry secure?", "258 million"),
    ("How many countries recognised Viet Nam's market economy status?", "73"),
    ("How many cooperation agreements did the MoFA help localities sign?", "400"),
    ("How many official documents on key foreign affairs issues were issued?", "17"),
])
def test_shipped_int8_reader_finds_the_answer_in_a_real_article(reader, question, answer):
    """The shipped (int8) weights read the bundled article's first paragraphs and point at
    the phrase a person would underline, as a verbatim slice of its paragraph."""
    assert (SHIPPED_READER / "model.int8.safetensors").exists()
    paras = [p for p in ARTICLE.read_text(encoding="utf-8").split("\n\n") if p.strip()][:6]
    spans = [s for s in reader.read(question, paras) if s is not None]
    best = max(spans, key=lambda s: s.score)
    assert paras[best.passage][best.start:best.end] == best.text
    assert answer in best.text and len(best.text) <= len(answer) + 20, best.text


def test_int8_weights_answer_like_the_weights_they_were_made_from(tmp_path):
    """quantize writes int8 matrices with row scales; the reader loads them and scores spans
    within a small distance of the fp32 model it came from."""
    import torch

    from rag.answering.reader import INT8_WEIGHTS, load_model
    from rag.training.quantize import write_int8

    src = load_model(SHIPPED_READER)
    for f in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (tmp_path / f).write_bytes((SHIPPED_READER / f).read_bytes())
    write_int8(src.state_dict(), tmp_path)
    assert (tmp_path / INT8_WEIGHTS).stat().st_size < 26e6
    a = SpanReader(model=src, tokenizer=SpanReader(tmp_path).tokenizer, bf16=False)
    b = SpanReader(tmp_path, bf16=False)
    (sa,), (sb,) = a.read("Who opened the bridge?", [PASSAGE]), b.read("Who opened the bridge?", [PASSAGE])
    assert (sa.start, sa.end) == (sb.start, sb.end)
    assert abs(sa.score - sb.score) < 0.5 and abs(sa.null_score - sb.null_score) < 0.5


def test_a_broken_int8_file_says_how_to_fix_it(tmp_path):
    from safetensors.torch import save_file
    import torch

    from rag.errors import ConfigError

    for f in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (tmp_path / f).write_bytes((SHIPPED_READER / f).read_bytes())
    save_file({"bert.embeddings.word_embeddings.weight": torch.zeros((4, 4), dtype=torch.int8)},
              str(tmp_path / "model.int8.safetensors"))
    with pytest.raises(ConfigError, match="rag.training.quantize"):
        SpanReader(tmp_path)


def test_training_windows_hold_every_annotated_answer_as_a_target(reader):
    """Annotators often mark different spans ("Tran Van Binh" / "the city's mayor, Tran Van Binh"):
    with --answers all each distinct one inside a window is a target; the first stays the
    reference target; a window holding none of them points at [CLS]."""
    from rag.answering.windows import make_windows

    a1 = PASSAGE.index("Tran Van Binh")
    a2 = PASSAGE.index("the city's mayor")
    answers = [("Tran Van Binh", a1), ("the city's mayor, Tran Van Binh", a2), ("Tran Van Binh", a1)]
    (w,) = make_windows(reader.tokenizer, ["Who opened the bridge?"], [PASSAGE], 256, 64, answers=[answers])
    spans = [PASSAGE[w.offsets[s][0]:w.offsets[e][1]] for s, e in w.targets]
    assert spans == ["Tran Van Binh", "the city's mayor, Tran Van Binh"]  # duplicates counted once
    assert (w.start, w.end) == w.targets[0]
    # a window too short to hold the answers: no target, the start/end point at [CLS]
    short = make_windows(reader.tokenizer, ["Who opened the bridge?"], [PASSAGE], 24, 8, answers=[answers])
    assert any(not x.targets and (x.start, x.end) == (0, 0) for x in short)


def test_multi_target_loss_is_the_reference_loss_for_one_answer_and_the_mean_for_several():
    import torch

    from rag.answering.windows import Window
    from rag.training.train_reader import multi_target_loss

    torch.manual_seed(0)
    start, end = torch.randn(2, 7), torch.randn(2, 7)
    ce = torch.nn.functional.cross_entropy
    one = [Window(0, [0] * 7, [0] * 7, [None] * 7, 2, 3, ((2, 3),)),
           Window(1, [0] * 7, [0] * 7, [None] * 7, 0, 0, ())]
    ref = (ce(start, torch.tensor([2, 0])) + ce(end, torch.tensor([3, 0]))) / 2  # transformers' QA loss
    assert torch.allclose(multi_target_loss(start, end, one, [0, 1]), ref)
    two = [Window(0, [0] * 7, [0] * 7, [None] * 7, 2, 3, ((2, 3), (4, 6)))]
    mean = sum((ce(start[:1], torch.tensor([s])) + ce(end[:1], torch.tensor([e]))) / 2 for s, e in ((2, 3), (4, 6))) / 2
    assert torch.allclose(multi_target_loss(start[:1], end[:1], two, [0]), mean)


def test_distractor_passages_share_the_question_words_and_never_hold_its_answer():
    """--negatives: a question's extra no-answer passage is the same article's other paragraph
    that BM25 ranks first for it, skipping one that states the answer; other articles' paragraphs
    are never used, and a rate of 0 adds none."""
    from rag.training.squad import Example, distractors

    own = "The Varga Bridge was opened in 1998 by the mayor, Tran Van Binh."
    states = "Mayor Tran Van Binh, who opened the bridge, later retired."
    near = "The bridge was closed in 2004 for repairs ordered by the city council."
    far = "Rice exports rose in the third quarter."
    other_article = "The bridge opened by the mayor in Hue spans the Perfume River."
    ex = [Example("q1", "A", "Who opened the bridge?", own, [("Tran Van Binh", own.index("Tran"))]),
          Example("q2", "A", "When was the bridge closed?", near, [("2004", near.index("2004"))]),
          Example("q3", "A", "x", states, []), Example("q4", "A", "y", far, []),
          Example("q5", "B", "z", other_article, [])]
    got = dict(distractors(ex, 1.0, 13))
    assert got[0] == near          # `states` ranks higher but holds the answer; B is never used
    assert got[1] in (own, states)
    assert distractors(ex, 0.0, 13) == []


def test_train_reader_names_the_articles_when_a_held_out_one_does_not_exist(tmp_path):
    r = subprocess.run([sys.executable, "-m", "rag", "train-reader", "--data", str(TRAIN_JSON), "--out",
                        str(tmp_path / "r"), "--held-out", "Force,Rhine"], capture_output=True, text=True,
                       timeout=300, cwd=ROOT)
    assert r.returncode == 2
    assert "no training article is called Rhine" in r.stderr and "Huguenot" in r.stderr
    assert not (tmp_path / "r").exists()


def test_the_reader_network_gives_transformers_logits_without_importing_it(reader):
    """answering/bert.py is BERT with a start/end head in plain PyTorch (importing transformers
    cost each answering process ~2.3 s): on the shipped weights it gives the logits transformers'
    BertForQuestionAnswering gives, in fp32 and under bf16 autocast, on windows cut by the
    `tokenizers` library exactly as transformers' fast tokenizer cuts them; and loading the
    shipped reader imports no transformers module."""
    import torch

    probe = subprocess.run([sys.executable, "-c", "import sys; from rag.answering.reader import get_reader; "
                            "r = get_reader(); r.read('Who opened it?', ['The mayor opened it.']); "
                            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'transformers'))"],
                           capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert probe.returncode == 0 and probe.stdout.strip() == "[]", (probe.stdout, probe.stderr[-800:])

    from transformers import AutoConfig, AutoTokenizer, BertForQuestionAnswering

    from rag.answering.windows import make_windows

    text = ARTICLE.read_text(encoding="utf-8")
    questions = ["How many doses of vaccines did the ministry secure?", "Ai chủ trì hội nghị ở Hà Nội?",
                 "why " * 120 + "?"]
    contexts = [text[:3000], text[500:900], text[1000:6000]]
    hf_tok = AutoTokenizer.from_pretrained(SHIPPED_READER, local_files_only=True)
    enc = hf_tok(questions[:2], contexts[:2], truncation="only_second", max_length=256, stride=64,
                 return_overflowing_tokens=True, return_offsets_mapping=True, padding=False)
    ours = make_windows(reader.tokenizer, questions[:2], contexts[:2])
    assert [w.input_ids for w in ours] == enc["input_ids"]
    assert [w.example for w in ours] == enc["overflow_to_sample_mapping"]
    assert [[o if o is None else list(o) for o in w.offsets] for w in ours] == [
        [list(o) if s == 1 else None for o, s in zip(enc["offset_mapping"][i], enc.sequence_ids(i))]
        for i in range(len(ours))]
    assert [w.input_ids for w in make_windows(hf_tok, questions, contexts)] == \
        [w.input_ids for w in make_windows(reader.tokenizer, questions, contexts)]

    hf = BertForQuestionAnswering(AutoConfig.from_pretrained(SHIPPED_READER, local_files_only=True)).eval()
    missing, unexpected = hf.load_state_dict(reader.model.state_dict(), strict=False)
    assert not unexpected and all(k.endswith("position_ids") for k in missing), (missing, unexpected)
    windows = make_windows(reader.tokenizer, questions, contexts)
    for bf16 in (False, True):
        a = SpanReader(model=reader.model, tokenizer=reader.tokenizer, bf16=bf16).logits(windows)
        b = SpanReader(model=hf, tokenizer=reader.tokenizer, bf16=bf16).logits(windows)
        for x, y, w in zip(a[0], b[0], windows):
            assert abs(x[:len(w.input_ids)] - y[:len(w.input_ids)]).max() < 1e-3, bf16
