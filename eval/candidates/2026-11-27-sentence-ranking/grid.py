"""Usage: python eval/candidates/2026-11-27-sentence-ranking/grid.py OUT.pkl [loo|all]
Fit the sentence-ranking weights (w_coverage, w_similarity, w_prior, type_penalty) on the
collected rows; leave-one-group-out figures. Objective: top-1 sentence holds the gold answer
+ a chunk read (chunks of the best 3 sentences) holds it; mean over the two domains."""
import pickle
import sys
from collections import defaultdict

import numpy as np

data = pickle.load(open(sys.argv[1], "rb"))
N_READ = 3

Q = len(data)
S = max(len(r["spans"]) for r in data)
C = max(len(r["chunk_gold"]) for r in data)
COV = np.zeros((Q, S)); SIM = np.zeros((Q, S)); TOK = np.zeros((Q, S)); PRI = np.zeros((Q, S))
CH = np.full((Q, S), -1); LAB = np.zeros((Q, S), bool); MASK = np.zeros((Q, S), bool); CG = np.zeros((Q, C), bool)
for q, r in enumerate(data):
    for j, x in enumerate(r["spans"]):
        COV[q, j], SIM[q, j], TOK[q, j], PRI[q, j] = x[0], x[1], x[2], 1.0 / (1.0 + x[3])
        CH[q, j] = x[4]; LAB[q, j] = x[6]; MASK[q, j] = True
    CG[q, :len(r["chunk_gold"])] = r["chunk_gold"]
groups = [r["group"] for r in data]
dom = np.array([g.split("/")[0] for g in groups])
QI = np.arange(Q)[:, None]


def per_question(w):
    wc, ws, wp, pen = w
    sc = (wc * COV + ws * SIM + wp * PRI) * np.where(TOK > 0, 1.0, pen)
    sc = np.where(MASK, sc, -np.inf)
    top1 = LAB[np.arange(Q), np.argmax(sc, axis=1)]  # argmax: first of ties, as a stable sort
    key = np.empty((Q, C))
    for c in range(C):
        m = np.where(CH == c, sc, -np.inf).max(axis=1)
        key[:, c] = np.where(np.isfinite(m), m - 1e-9 * c, -1e9 - c)
    top = np.argsort(-key, axis=1, kind="stable")[:, :N_READ]
    read = CG[QI, top].any(axis=1)
    return top1, read


grid = []
for wc in np.arange(0, 1.01, 0.05):
    for ws in np.arange(0, 1.01 - wc, 0.05):
        wp = 1 - wc - ws
        for pen in (0.3, 0.45, 0.6, 0.75, 0.9, 1.0):
            grid.append((round(wc, 2), round(ws, 2), round(wp, 2), pen))
print(len(grid), "grid points", Q, "questions", file=sys.stderr)

HAND = (0.55, 0.35, 0.10, 0.6)
grid = [HAND] + grid
CACHE = np.array([np.stack(per_question(w)) for w in grid])  # [G, 2, Q]
print("cached", file=sys.stderr)
allidx = np.arange(Q)


def metrics_g(gi, idx):
    return CACHE[gi, 0, idx].mean(), CACHE[gi, 1, idx].mean()


def fit(idx):
    idx = np.asarray(idx)
    vals = np.zeros(len(grid))
    for d in set(dom[idx]):
        ix = idx[dom[idx] == d]
        vals += CACHE[:, :, ix].sum(axis=1).mean(axis=1)
    return int(np.argmax(vals))


if __name__ == "__main__":
    mode = sys.argv[2] if len(sys.argv) > 2 else "all"
    ug = sorted(set(groups))
    garr = np.array(groups)
    if mode == "loo":
        tot = defaultdict(lambda: np.zeros(4)); cnt = defaultdict(int)
        for g in ug:
            tr = allidx[garr != g]; te = allidx[garr == g]
            gi = fit(tr)
            mh = metrics_g(0, te); mf = metrics_g(gi, te)
            d = g.split("/")[0]
            tot[d] += np.array([*mh, *mf]) * len(te); cnt[d] += len(te)
            print(f"{g:40s} n={len(te):4d} fitted={grid[gi]} hand top1 {mh[0]:.3f} read {mh[1]:.3f} | fitted top1 {mf[0]:.3f} read {mf[1]:.3f}", flush=True)
        for d in ("squad", "news"):
            v = tot[d] / cnt[d]
            print(f"{d}: held-out n={cnt[d]} hand top1 {v[0]:.3f} read {v[1]:.3f} | fitted top1 {v[2]:.3f} read {v[3]:.3f}")
    else:
        gi = fit(allidx)
        for d in ("squad", "news"):
            ix = allidx[dom == d]
            print(d, "hand", metrics_g(0, ix), "fitted", grid[gi], metrics_g(gi, ix))
