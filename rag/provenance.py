"""Honest provenance: who claims what about an article.

An outlet name, a date and a title are what a file says about itself (its name, a .jsonl
field, HTML meta, a dateline); Document.provenance records which, and where the file came
from (the package, `rag ingest`, a UI upload). Two things follow here:

- `source_label(quote)`: the outlet as it may be shown in an answer: the name alone when a
  file the operator ingested (or the package) is named for it, otherwise qualified with who
  claims it ("VOV (claimed by a .jsonl field)").
- `same_title_claims(...)`: documents that claim the same outlet and the same (or a nearly
  identical) title but have different texts. One of them is not what it says; the product
  cannot tell which, so it flags all of them in `rag docs`, the Articles tab and answers.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Optional

from .documents import Provenance
from .textnorm import fold, terms

SIMILAR_TITLE = 0.9  # difflib ratio of folded titles from which two titles count as the same


@dataclass(frozen=True)
class TitleClash:
    """Documents claiming one outlet and one title with different texts."""

    outlet: str
    title: str
    doc_ids: tuple[str, ...]

    def words(self, describe: Callable[[str], str] = lambda d: d) -> str:
        who = "; ".join(describe(d) for d in self.doc_ids)
        return (f"{len(self.doc_ids)} articles claim to be {self.outlet}'s \"{self.title}\" but their "
                f"texts differ ({who}): at most one of them is that article.")


def source_label(outlet: Optional[str], title: str, provenance: Optional[Provenance]) -> str:
    """The name an answer gives a source: its outlet (qualified when only a .jsonl field or an
    upload claims it), else its title."""
    if not outlet:
        return title
    claim = provenance.outlet_claim() if provenance else None
    return f"{outlet} ({claim})" if claim else outlet


def _norm_title(title: str) -> str:
    return " ".join(re.findall(r"\w+", fold(title or "")))


def same_title_claims(records: Mapping[str, dict], texts: Callable[[list[str]], Mapping[str, str]]
                      ) -> list[TitleClash]:
    """Groups of documents (by their store records: outlet, title) that claim the same outlet
    and a near-identical title while their texts differ. `texts(ids)` gives the texts of the
    few documents that share an outlet and title (only those are read)."""
    by_outlet: dict[str, list[tuple[str, str, str]]] = {}
    for doc_id, r in records.items():
        outlet, title = r.get("outlet"), r.get("title")
        if outlet and title:
            by_outlet.setdefault(fold(outlet).strip(), []).append((doc_id, _norm_title(title), title))
    clashes = []
    for items in by_outlet.values():
        if len(items) < 2:
            continue
        items.sort()
        groups: list[list[tuple[str, str, str]]] = []
        for it in items:
            g = next((g for g in groups if difflib.SequenceMatcher(None, g[0][1], it[1]).ratio() >= SIMILAR_TITLE),
                     None)
            if g is None:
                groups.append([it])
            else:
                g.append(it)
        for g in groups:
            if len(g) < 2:
                continue
            ids = [d for d, _n, _t in g]
            got = texts(ids)
            if len({" ".join((got.get(d) or "").split()) for d in ids}) > 1:
                first = records[ids[0]]
                clashes.append(TitleClash(first.get("outlet"), first.get("title"), tuple(ids)))
    return clashes


def clashes_of(doc_ids: Iterable[str], clashes: list[TitleClash]) -> list[TitleClash]:
    ids = set(doc_ids)
    return [c for c in clashes if ids & set(c.doc_ids)]


ORIGIN_STRENGTH = {"bundled": 3, "file": 2, "upload": 1}  # who vouches for the file: the package, the operator, anyone


def lead_by_provenance(cands: list, docs: Mapping[str, object], accepts) -> list:
    """Candidates (best first) with one change: when the best comes from a document speaking
    for an outlet (its outlet field) and another document speaking for the same outlet, from
    a stronger origin (the package over a file given to ingest over an upload), has an answer
    the decision also accepts, that answer leads. A file cannot outvote the outlet it claims
    to be: a "correction" named like an outlet's article, a .jsonl line borrowing its name.
    The other answer is still read, cross-checked and shown as a side of any disagreement."""
    if not callable(accepts):  # a probability threshold
        threshold = float(accepts)
        accepts = lambda c: c.p_correct >= threshold  # noqa: E731
    passing = [c for c in cands if accepts(c)]
    if len(passing) < 2:
        return cands

    def outlet_and_strength(c) -> tuple[Optional[str], int]:
        d = docs.get(c.doc_id)
        if d is None or not getattr(d, "outlet", None):
            return None, 0
        return fold(d.outlet).strip(), ORIGIN_STRENGTH.get(d.provenance.origin, 0)

    outlet, strength = outlet_and_strength(passing[0])
    if outlet is None:
        return cands
    stronger = next((c for c in passing[1:] if outlet_and_strength(c)[0] == outlet
                     and outlet_and_strength(c)[1] > strength), None)
    if stronger is None:
        return cands
    return [stronger] + [c for c in cands if c is not stronger]


def outlet_claims(records: Mapping[str, dict]) -> dict[str, tuple[str, int]]:
    """doc_id -> (the outlet it claims, folded; the strength of its origin), for the documents
    (store records) that claim an outlet."""
    out = {}
    for doc_id, r in records.items():
        outlet = r.get("outlet")
        if outlet:
            out[doc_id] = (fold(outlet).strip(), ORIGIN_STRENGTH.get(Provenance.from_meta(r).origin, 0))
    return out


def held_claimants(question_weights: Mapping[str, float], candidates: Iterable, claims: Mapping[str, tuple[str, int]],
                   related: float) -> set[str]:
    """Documents that may not take a place among the passages answering reads, for one question:
    a document claiming an outlet when a document of that same outlet from a stronger origin
    (the package over a file given to ingest over an upload) discusses the question too. The
    stronger one speaks for the outlet; the other is read on its own and cross-checked (shown
    as a side of any disagreement, named with its provenance), never in its place. A file
    cannot crowd out, nor outvote, the outlet it claims to be: a "correction" named like an
    outlet's article, a .jsonl line borrowing its name.

    `candidates` are the retrieved passages (records with doc_id and text) that are evidence;
    a document discusses the question as a cross-source passage must (pipeline._discussing):
    its best passage covers at least `related` of what the claimant's best passage covers
    (`question_weights`: the question's terms and their IDF weights)."""
    cands = list(candidates)
    groups: dict[str, set[str]] = {}
    for rec in cands:
        c = claims.get(rec.doc_id)
        if c is not None:
            groups.setdefault(c[0], set()).add(rec.doc_id)
    mixed = {o: ids for o, ids in groups.items() if len({claims[d][1] for d in ids}) > 1}
    if not mixed:
        return set()
    total = sum(question_weights.values()) or 1.0
    best: dict[str, float] = {}
    for rec in cands:
        if any(rec.doc_id in ids for ids in mixed.values()):
            words = set(terms(rec.text))
            cov = sum(w for t, w in question_weights.items() if t in words) / total
            best[rec.doc_id] = max(best.get(rec.doc_id, 0.0), cov)
    held = set()
    for ids in mixed.values():
        top = max(claims[d][1] for d in ids)
        strongest = [d for d in ids if claims[d][1] == top]
        for d in ids:
            if claims[d][1] < top and any(best.get(s, 0.0) >= related * best.get(d, 0.0) for s in strongest):
                held.add(d)
    return held
