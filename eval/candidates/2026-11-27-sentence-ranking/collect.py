"""Collect, per answerable training/development question, the sentences of its retrieved chunks
with their ranking features (exact similarity for all) and which of them hold the gold answer.
Usage, from the repository root: python eval/candidates/2026-11-27-sentence-ranking/collect.py OUT.pkl
(squad2-train: all ten articles, answer located by its offset; eval/newsdev civic/field: by text).
Training and development data only; about 7 minutes on 2 cores."""
import pickle
import sys
import tempfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
from rag.assistant import Assistant  # noqa
from rag.settings import Settings  # noqa
from rag.planted import is_question_shaped, screen_hits  # noqa
from rag.answering.spans import candidate_spans, score_spans  # noqa
from rag.answering.extract import question_type  # noqa
from rag.training.squad import load_examples  # noqa
from rag.evaluate.samples import load_gold  # noqa
from rag.textnorm import fold, terms  # noqa
doc_len = {}

SQ = ROOT.parent / "shared" / "datasets" / "squad2-train"


def rows_for(a, question, gold_locs, gold_texts, group):
    q_vec = a.embedder.embed([question])[0]
    hits = a.retriever.retrieve(question, q_vec, None)
    hits, _ = screen_hits(hits)
    hits = [h for h in hits if not getattr(h, "held", False)]
    spans = [sp for sp in candidate_spans(hits) if not is_question_shaped(sp.text)]
    if not spans:
        return None
    sparse = a.sparse.get()
    vecs = a.embedder.embed([sp.text for sp in spans])
    qtype = question_type(question)
    score_spans(question, spans, q_vec, vecs, sparse.idf, qtype)
    # chunk index (hit order) containing each span
    out = []
    qt = terms(question)
    qb = set(zip(qt, qt[1:]))
    for sp in spans:
        chunk = next(i for i, h in enumerate(hits) if h.record.doc_id == sp.doc_id
                     and h.record.start <= sp.start and sp.end <= h.record.end)
        if gold_locs is not None:
            lab = any(d == sp.doc_id and sp.start <= s and e <= sp.end for d, s, e in gold_locs)
        else:
            ft = fold(sp.text).lower()
            lab = any(fold(g).lower() in ft for g in gold_texts)
        h = hits[chunk]
        if sp.doc_id not in doc_len:
            doc_len[sp.doc_id] = len(a.document(sp.doc_id).text)
        dl = doc_len[sp.doc_id]
        st = terms(sp.text)
        sb = set(zip(st, st[1:]))
        extra = {
            "dense_prior": 0.0 if h.dense_rank is None else 1.0 / (1 + h.dense_rank),
            "sparse_prior": 0.0 if h.sparse_rank is None else 1.0 / (1 + h.sparse_rank),
            "dense_sim": h.dense_sim or 0.0,
            "fused_ratio": h.score / hits[0].score if hits[0].score > 0 else 0.0,
            "doc_pos": sp.start / max(1, dl),
            "log_len": float(np.log1p(len(st))),
            "bigram": len(sb & qb) / max(1, len(qb)),
            "terms_frac": len(set(st) & set(qt)) / max(1, len(set(qt))),
        }
        out.append((sp.coverage, sp.similarity, float(sp.type_ok), sp.rank, chunk, sp.doc_id, lab, extra))
    # chunk-level gold: does the chunk contain the answer
    chunk_gold = []
    for h in hits:
        r = h.record
        if gold_locs is not None:
            chunk_gold.append(any(d == r.doc_id and r.start <= s and e <= r.end for d, s, e in gold_locs))
        else:
            t = fold(r.text).lower()
            chunk_gold.append(any(fold(g).lower() in t for g in gold_texts))
    return {"group": group, "question": question, "qtype": qtype.kind, "spans": out, "chunk_gold": chunk_gold}


def main():
    out_path = Path(sys.argv[1])
    data = []
    with tempfile.TemporaryDirectory(prefix="rank-") as tmp:
        a = Assistant(index_dir=Path(tmp), settings=Settings(), bootstrap=False)
        a.ingest([SQ / "articles"])
        docs = {d["doc_id"]: a.document(d["doc_id"]) for d in a.documents()}
        exs = [e for e in load_examples(SQ / "squad2-train.json") if e.answerable]
        miss = 0
        for e in tqdm(exs, mininterval=10):
            locs = []
            for did, doc in docs.items():
                p = doc.text.find(e.context)
                if p >= 0:
                    locs = [(did, p + s, p + s + len(t)) for t, s in e.answers]
                    break
            if not locs:
                miss += 1
            r = rows_for(a, e.question, locs or None, [t for t, _ in e.answers], "squad/" + e.article)
            if r:
                data.append(r)
        print("context not found:", miss, file=sys.stderr)
    for name in ("civic_dev", "field_dev"):
        with tempfile.TemporaryDirectory(prefix="rank-") as tmp:
            a = Assistant(index_dir=Path(tmp), settings=Settings(), bootstrap=False)
            a.ingest([(ROOT / "eval" / "newsdev") / name])
            for s in tqdm(load_gold((ROOT / "eval" / "newsdev") / f"{name}_gold.jsonl"), mininterval=10):
                if not s.answerable:
                    continue
                r = rows_for(a, s.question, None, s.answers, "news/" + name)
                if r:
                    data.append(r)
    pickle.dump(data, open(out_path, "wb"))
    print(len(data), "questions", file=sys.stderr)


if __name__ == "__main__":
    main()
