"""Run a gold set through the assistant in one process and score every answer."""
from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Callable, Optional

from ..errors import ConfigError, LLMError, RagError
from . import metrics as m
from .samples import GoldSample


def score_sample(sample: GoldSample, answer: dict, retrieved_texts: list[str],
                 doc_texts: dict[str, str]) -> dict:
    """All per-question scores; pure given its inputs."""
    rank = m.first_relevant_rank(retrieved_texts, sample.evidence)
    quotes = answer.get("quotes", [])
    shown = quotes + answer.get("closest", [])
    abstained = bool(answer.get("abstained"))
    text = "" if abstained else answer.get("text", "")
    short = "" if abstained else ((answer.get("short") or {}).get("text") or text)  # the answer phrase
    s = {f"recall@{k}": m.recall_at(rank, k) for k in m.K_VALUES}
    s.update({
        "rank": rank, "rr": m.reciprocal_rank(rank),
        "evidence_hit": 0.0 if abstained else m.evidence_hit(quotes, doc_texts, sample.evidence),
        "answer_hit": m.answer_hit(text, sample.answers) if sample.answerable else None,
        # the same on the short answer alone: the text also carries the sentence that holds it
        "short_hit": m.answer_hit(short, sample.answers) if sample.answerable else None,
        "f1": m.token_f1(short, sample.answers) if sample.answerable else None,
        "exact": m.exact_match(short, sample.answers) if sample.answerable else None,
        "f1_text": m.token_f1(text, sample.answers) if sample.answerable else None,
        "abstained": abstained,
        # the decision's probability that its answer is right, also when it abstained (0 when
        # nothing was retrieved or the question was refused): for answerable_auc
        "confidence": float(answer.get("confidence") or 0.0),
        "n_quotes": len(shown),
        "n_valid_quotes": sum(m.quote_valid(q, doc_texts) for q in shown),
    })
    s["correct"] = (not abstained and s["answer_hit"] == 1.0) if sample.answerable else abstained
    if "conflict" in sample.tags and sample.answerable:
        s["conflict_flagged"] = m.conflict_flagged(answer.get("conflicts", []), sample.answers)
    if sample.answerable and {"corroborated", "single-source"} & set(sample.tags) and "conflict" not in sample.tags:
        s["false_conflict_rate"] = m.shows_value_conflict(answer.get("conflicts", []))
    s["self_conflict"] = m.self_conflict(answer.get("conflicts", []))
    if "corroborated" in sample.tags and sample.answerable:
        supporting = {d for d, t in doc_texts.items() if any(e in t for e in sample.evidence)}
        s["all_sources_cited"] = float(bool(supporting) and supporting <= {q["doc_id"] for q in quotes})
    return s


def corpus_info(assistant, samples: list[GoldSample], doc_texts: dict[str, str],
                index_label: Optional[str] = None) -> dict:
    """What the run read: the index, every article in it with a hash of its text, and a
    warning for articles no gold question has evidence in (they can take quotes and change
    the scores, e.g. an article uploaded into the default index)."""
    st = assistant.settings
    index = index_label or (st.chroma_url or str(Path(st.index_dir).resolve()))
    evidence = [e for smp in samples for e in smp.evidence]
    articles, uncovered = [], []
    for d in assistant.documents():
        text = doc_texts[d["doc_id"]]
        covered = any(e in text for e in evidence)
        if not covered:
            uncovered.append(d["doc_id"])
        articles.append({"doc_id": d["doc_id"], "title": d.get("title"), "source": d.get("source"),
                         "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                         "chars": len(text), "gold_evidence": covered})
    warnings = []
    if uncovered:
        warnings.append(
            f"The index {index} holds {len(uncovered)} article(s) the gold file has no evidence in: "
            f"{', '.join(uncovered)}. Their passages compete for answers and quotes, so the scores "
            "are not comparable with a run on the gold's own articles; evaluate those with "
            "--articles DIR (a fresh temporary index) or --index DIR.")
    return {"index": index, "n_articles": len(articles), "articles": articles,
            "uncovered": uncovered, "warnings": warnings}


def run_eval(assistant, samples: list[GoldSample],
             progress: Optional[Callable[[int, int], None]] = None,
             index_label: Optional[str] = None) -> dict:
    """Score every sample; the result records what it ran on (result["corpus"])."""
    doc_texts = {d["doc_id"]: assistant.document(d["doc_id"]).text for d in assistant.documents()}
    corpus = corpus_info(assistant, samples, doc_texts, index_label)
    rows = []
    for n, sample in enumerate(samples):
        if progress:
            progress(n, len(samples))
        t0 = time.perf_counter()
        try:
            answer = assistant.ask(sample.question).to_dict()
        except (LLMError, ConfigError):  # a broken backend is not an abstention: stop the run
            raise
        except RagError as e:  # a refused question counts as an abstention
            answer = {"question": sample.question, "text": str(e), "abstained": True,
                      "quotes": [], "closest": [], "timings": {}}
        latency = answer.get("timings", {}).get("total_ms") or (time.perf_counter() - t0) * 1000
        try:
            q_vec = assistant.embedder.embed([sample.question])[0]
            hits = assistant.retriever.retrieve(sample.question, q_vec, top_k=max(m.K_VALUES))
            retrieved = [h.record.text for h in hits]
        except RagError:
            retrieved = []
        rows.append({
            "id": sample.id, "question": sample.question, "answers": sample.answers,
            "tags": sample.tags, "answerable": sample.answerable, "answer": answer,
            "latency_ms": latency,
            "scores": score_sample(sample, answer, retrieved, doc_texts),
        })
    if progress:
        progress(len(samples), len(samples))
    return {"summary": m.summarize(rows), "corpus": corpus, "results": rows}


def compare(old: dict, new: dict) -> dict:
    """Questions whose outcome changed between two eval JSON results."""
    before = {r["id"]: r for r in old.get("results", [])}
    better, worse = [], []
    for r in new.get("results", []):
        o = before.get(r["id"])
        if o is None:
            continue
        a, b = o["scores"], r["scores"]
        delta = (b["correct"] - a["correct"]) or ((b.get("f1") or 0) - (a.get("f1") or 0))
        if delta > 1e-9:
            better.append({"id": r["id"], "question": r["question"], "before": o["answer"]["text"],
                           "after": r["answer"]["text"]})
        elif delta < -1e-9:
            worse.append({"id": r["id"], "question": r["question"], "before": o["answer"]["text"],
                          "after": r["answer"]["text"]})
    return {"better": better, "worse": worse}
