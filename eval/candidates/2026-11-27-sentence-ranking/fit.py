"""The hand-set sentence score against listwise linear rankers (softmax over a question's
sentences, L-BFGS) on growing feature sets, each fitted leaving one group out (one training
article, or one development corpus) and scored on it: top-1 (the best sentence holds the gold
answer) and read@3 (a chunk the reader reads, those of the best 3 sentences, holds it).
Usage: python eval/candidates/2026-11-27-sentence-ranking/fit.py OUT.pkl  (collect.py's output)"""
import pickle, sys
import numpy as np
import torch
data = pickle.load(open(sys.argv[1], "rb"))
sets = {
 "base": lambda x, e: [x[0], x[1], 1/(1+x[3]), x[2]],
 "base+inter": lambda x, e: [x[0], x[1], 1/(1+x[3]), x[2], x[0]*x[2], x[1]*x[2]],
 "+retrieval": lambda x, e: [x[0], x[1], 1/(1+x[3]), x[2], x[0]*x[2], x[1]*x[2], e["dense_prior"], e["sparse_prior"], e["dense_sim"], e["fused_ratio"]],
 "+text": lambda x, e: [x[0], x[1], 1/(1+x[3]), x[2], x[0]*x[2], x[1]*x[2], e["doc_pos"], e["log_len"], e["bigram"], e["terms_frac"]],
 "all": lambda x, e: [x[0], x[1], 1/(1+x[3]), x[2], x[0]*x[2], x[1]*x[2], e["dense_prior"], e["sparse_prior"], e["dense_sim"], e["fused_ratio"], e["doc_pos"], e["log_len"], e["bigram"], e["terms_frac"]],
}
Q = len(data); S = max(len(r["spans"]) for r in data); C = max(len(r["chunk_gold"]) for r in data)
M = np.zeros((Q, S), bool); L = np.zeros((Q, S), np.float32); CH = np.full((Q, S), -1); CG = np.zeros((Q, C), bool)
for q, r in enumerate(data):
    for j, x in enumerate(r["spans"]):
        M[q, j] = True; L[q, j] = x[6]; CH[q, j] = x[4]
    CG[q, :len(r["chunk_gold"])] = r["chunk_gold"]
has = L.sum(1) > 0
groups = np.array([r["group"] for r in data])
def metrics(sc, ix):
    sc = np.where(M[ix], sc, -np.inf)
    top1 = L[ix][np.arange(len(ix)), sc.argmax(1)]
    key = np.empty((len(ix), C))
    for c in range(C):
        m = np.where(CH[ix] == c, sc, -np.inf).max(1)
        key[:, c] = np.where(np.isfinite(m), m - 1e-9 * c, -1e9 - c)
    top = np.argsort(-key, 1, kind="stable")[:, :3]
    read = CG[ix][np.arange(len(ix))[:, None], top].any(1)
    return top1, read
def build(fn):
    F = len(fn(data[0]["spans"][0][:7], data[0]["spans"][0][7]))
    X = np.zeros((Q, S, F), np.float32)
    for q, r in enumerate(data):
        for j, x in enumerate(r["spans"]):
            X[q, j] = fn(x, x[7])
    return X
def train(X, ix):
    ix = ix[has[ix]]
    x = torch.tensor(X[ix]); m = torch.tensor(M[ix]); l = torch.tensor(L[ix])
    mu = x[m].mean(0); sd = x[m].std(0) + 1e-6
    w = torch.zeros(X.shape[2], requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=300)
    def clo():
        opt.zero_grad()
        s = (((x - mu) / sd) @ w).masked_fill(~m, -1e9)
        lp = torch.log_softmax(s, 1)
        loss = -(torch.logsumexp(lp.masked_fill(l == 0, -1e9), 1)).mean() + 1e-3 * (w * w).sum()
        loss.backward(); return loss
    opt.step(clo)
    return w.detach(), mu, sd
Xb = build(sets["base"])
hand_sc = (0.55 * Xb[..., 0] + 0.35 * Xb[..., 1] + 0.10 * Xb[..., 2]) * np.where(Xb[..., 3] > 0, 1, 0.6)
out = {}
for name, fn in [("hand", None)] + list(sets.items()):
    res = {"squad": [[], []], "news": [[], []]}
    X = None if fn is None else build(fn)
    for g in sorted(set(groups)):
        te = np.where(groups == g)[0]; tr = np.where(groups != g)[0]
        if fn is None:
            sc = hand_sc[te]
        else:
            w, mu, sd = train(X, tr)
            sc = (((torch.tensor(X[te]) - mu) / sd) @ w).numpy()
        t1, rd = metrics(sc, te)
        d = g.split("/")[0]
        res[d][0] += list(t1); res[d][1] += list(rd)
    print(f"{name:12s}", "  ".join(f"{d}: top1 {np.mean(a):.3f} read@3 {np.mean(b):.3f}" for d, (a, b) in res.items()), flush=True)
