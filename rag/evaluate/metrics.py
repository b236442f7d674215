"""Pure metric functions. Inputs are plain data; nothing here touches the index."""
from __future__ import annotations

import re
import string
from bisect import bisect_left, bisect_right
from collections import Counter
from typing import Iterable, Optional, Sequence

from ..textnorm import fold

K_VALUES = (1, 3, 5, 10)


def normalize_answer(s: str) -> str:
    """SQuAD normalisation (lower, no punctuation/articles, single spaces), plus
    diacritic folding and dropping thousands separators ("1,230" == "1230")."""
    s = fold(s)
    s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s)
    s = "".join(ch if ch not in string.punctuation else " " for ch in s)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def answer_hit(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when a normalised gold answer is contained in the normalised prediction."""
    p = f" {normalize_answer(prediction)} "
    return float(any(f" {normalize_answer(g)} " in p for g in golds if normalize_answer(g)))


def token_f1(prediction: str, golds: Sequence[str]) -> float:
    """SQuAD token F1 against the best-matching gold answer."""
    pred = normalize_answer(prediction).split()
    best = 0.0
    for g in golds:
        gold = normalize_answer(g).split()
        common = Counter(pred) & Counter(gold)
        same = sum(common.values())
        if not pred or not gold or same == 0:
            continue
        prec, rec = same / len(pred), same / len(gold)
        best = max(best, 2 * prec * rec / (prec + rec))
    return best


def conflict_flagged(conflicts: Sequence[dict], golds: Sequence[str]) -> float:
    """1.0 when the answer reports a conflict whose sides carry every gold value
    ("12" and "14" for a death toll two outlets disagree on), each with its quote
    and at least two distinct values in all."""
    values = [c.get("value") or "" for c in conflicts if c.get("quote")]
    if len({normalize_answer(v) for v in values}) < 2:
        return 0.0

    def found(g: str) -> bool:
        if answer_hit(" ; ".join(values), [g]):
            return True
        gv = number_value(g)
        return gv is not None and any(number_value(v) == gv for v in values)

    return float(all(found(g) for g in golds))


def _value_sides(conflicts: Sequence[dict]) -> list[dict]:
    """The quoted sides of a disagreement of values ("other-measure" sides are another count in
    the answer's own article, by design, not a disagreement)."""
    return [c for c in conflicts if c.get("kind", "value") == "value" and c.get("quote")]


def shows_value_conflict(conflicts: Sequence[dict]) -> float:
    """1.0 when the answer shows a disagreement between values ("The sources differ"): at
    least two quoted sides of kind "value". Scored on questions whose sources agree
    (corroborated, single-source), where every such answer is a false conflict."""
    return float(len({normalize_answer(c.get("value") or "") for c in _value_sides(conflicts)}) >= 2)


def self_conflict(conflicts: Sequence[dict]) -> float:
    """1.0 when one article stands on two sides of a disagreement of values (it must never)."""
    docs = [c["quote"]["doc_id"] for c in _value_sides(conflicts)]
    return float(len(docs) != len(set(docs)))


def number_value(text: str) -> Optional[float]:
    """The eval's own reading of a figure ("1,230" -> 1230, "Fourteen people" -> 14, "2.5 million"
    -> 2.5e6), independent of the product's parsers; None when there is none."""
    from text_to_num import alpha2digit

    t = fold(text)
    if not re.search(r"\d", t):  # words only: "Fourteen people", "two million"
        t = alpha2digit(t, "en")
    m = re.search(r"\d+(?:[.,]\d+)*", t)
    if not m:
        return None
    raw = m.group()
    raw = raw.replace(",", "") if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", raw) else raw.replace(",", ".")
    try:
        v = float(raw)
    except ValueError:
        return None
    scale = re.search(r"\b(thousand|million|billion|trillion)\b", t[m.end():m.end() + 12])
    if scale:
        v *= {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}[scale.group(1)]
    return v


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """SQuAD exact match against any gold answer."""
    p = normalize_answer(prediction)
    return float(any(p == normalize_answer(g) for g in golds))


def first_relevant_rank(chunk_texts: Sequence[str], evidence: Sequence[str]) -> Optional[int]:
    """1-based rank of the first retrieved chunk containing a gold evidence string."""
    for rank, text in enumerate(chunk_texts, start=1):
        if any(e and e in text for e in evidence):
            return rank
    return None


def recall_at(rank: Optional[int], k: int) -> float:
    return float(rank is not None and rank <= k)


def reciprocal_rank(rank: Optional[int]) -> float:
    return 1.0 / rank if rank else 0.0


def spans_overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def evidence_spans(doc_text: str, evidence: Iterable[str]) -> list[tuple[int, int]]:
    """Every occurrence of every evidence string in a document."""
    out = []
    for e in evidence:
        if not e:
            continue
        i = doc_text.find(e)
        while i != -1:
            out.append((i, i + len(e)))
            i = doc_text.find(e, i + 1)
    return out


def evidence_hit(quotes: Sequence[dict], doc_texts: dict[str, str], evidence: Sequence[str]) -> float:
    """1.0 when some quote overlaps some gold evidence span in the same document."""
    for q in quotes:
        text = doc_texts.get(q["doc_id"])
        if text is None:
            continue
        if any(spans_overlap((q["start"], q["end"]), s) for s in evidence_spans(text, evidence)):
            return 1.0
    return 0.0


def quote_valid(quote: dict, doc_texts: dict[str, str]) -> bool:
    text = doc_texts.get(quote["doc_id"])
    return text is not None and text[quote["start"]:quote["end"]] == quote["text"]


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return 0.0
    v = sorted(values)
    k = (len(v) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def mean(values: Iterable[float]) -> Optional[float]:
    vals = list(values)
    return sum(vals) / len(vals) if vals else None


def answerable_auc(scores: Sequence[float], answerable: Sequence[bool]) -> Optional[float]:
    """How well a confidence tells answerable from unanswerable questions, whatever the
    threshold: the chance that an answerable question scores above an unanswerable one (ties
    count half), i.e. the area under the ROC curve (Mann-Whitney). None without both kinds.
    Abstention and false abstention move together with the threshold; this does not, so two
    builds (or readers) compare on it even when their thresholds differ, and it bounds what any
    threshold can reach (a small set moves by a question or two; Rhine has 208 unanswerable)."""
    pos = sorted(float(x) for x, a in zip(scores, answerable) if a)
    neg = sorted(float(x) for x, a in zip(scores, answerable) if not a)
    if not pos or not neg:
        return None
    wins = sum(bisect_left(neg, x) + 0.5 * (bisect_right(neg, x) - bisect_left(neg, x)) for x in pos)
    return wins / (len(pos) * len(neg))


def _aggregate(rows: list[dict]) -> dict:
    """Summary of scored rows (each row: {"answerable", "scores": {...}, "latency_ms"})."""
    ans = [r["scores"] for r in rows if r["answerable"]]
    una = [r["scores"] for r in rows if not r["answerable"]]
    out: dict = {"n": len(rows), "n_answerable": len(ans), "n_unanswerable": len(una)}
    for k in K_VALUES:
        out[f"recall@{k}"] = mean(s[f"recall@{k}"] for s in ans)
    out["mrr"] = mean(s["rr"] for s in ans)
    out["evidence_hit"] = mean(s["evidence_hit"] for s in ans)
    out["answer_hit"] = mean(s["answer_hit"] for s in ans)
    out["short_hit"] = mean(s.get("short_hit", s["answer_hit"]) for s in ans)
    out["f1"] = mean(s["f1"] for s in ans)
    out["exact"] = mean(s.get("exact", 0.0) for s in ans)
    out["f1_text"] = mean(s.get("f1_text", s["f1"]) for s in ans)
    # SQuAD 2.0's overall F1: an answerable question scores its F1 (0 when abstaining),
    # an unanswerable one 1 when the assistant abstains
    out["squad2_f1"] = mean([(0.0 if s["abstained"] else s["f1"]) for s in ans]
                            + [float(s["abstained"]) for s in una])
    out["false_abstention_rate"] = mean(float(s["abstained"]) for s in ans)
    out["abstention_recall"] = mean(float(s["abstained"]) for s in una)
    if all("confidence" in s for s in ans + una):
        out["answerable_auc"] = answerable_auc([s["confidence"] for s in ans + una],
                                               [True] * len(ans) + [False] * len(una))
    n_quotes = sum(s["n_quotes"] for s in ans + una)
    out["quote_validity"] = (sum(s["n_valid_quotes"] for s in ans + una) / n_quotes) if n_quotes else 1.0
    lat = [r["latency_ms"] for r in rows]
    out["latency_p50_ms"] = percentile(lat, 50)
    out["latency_p95_ms"] = percentile(lat, 95)
    for key in ("conflict_flagged", "all_sources_cited", "false_conflict_rate"):
        vals = [s[key] for s in ans if s.get(key) is not None]
        if vals:
            out[key] = mean(vals)
    out["self_conflicts"] = int(sum(s.get("self_conflict", 0.0) for s in ans + una))
    return out


def summarize(rows: list[dict]) -> dict:
    """Overall summary plus the same summary per tag."""
    summary = _aggregate(rows)
    tags = sorted({t for r in rows for t in r.get("tags", [])})
    summary["by_tag"] = {t: _aggregate([r for r in rows if t in r.get("tags", [])]) for t in tags}
    return summary
