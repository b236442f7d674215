"""The answer verifier: a second trained model that reads one candidate answer in the words
around it and scores whether that text answers the question.

Why a second model when the reader already has a no-answer score: SQuAD 2.0's unanswerable
questions are written to look answerable ("How many firefighters were injured?" over a
sentence saying 40 were sent). The reader's no-answer score weighs a whole 256-token window;
the verifier sees only the candidate, marked « like this » in its sentence and the one before,
and was trained on exactly the contrast that matters: the gold answer of an answerable question
against the plausible-looking span of an unanswerable one (Hu et al., "Read + Verify", AAAI
2019, verify the answer sentence apart from the reader). Its logit is one more feature of the
learned decision (evidence.FEATURES "verifier"), fitted on the calibration articles, which
neither the reader nor the verifier saw.

The shipped weights (`rag/data/reader/verifier/`, MODEL_CARD.md there) are all-MiniLM-L6-v2 fine-tuned
by `rag train-verifier` on the reader's eight training articles of ../shared/datasets/squad2-train.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..chunking import split_sentences

from .reader import SHIPPED_READER

# Beside the reader whose decision uses it: decision.json is fitted on this reader's and this
# verifier's scores together, so a reader folder carries its verifier (`<reader>/verifier`).
VERIFIER_FOLDER = "verifier"
SHIPPED_VERIFIER = SHIPPED_READER / VERIFIER_FOLDER

MAX_LENGTH = 160  # tokens: question + one or two sentences; what it was trained on
OPEN, CLOSE = " « ", " » "  # how the candidate is marked in its context (as trained)


def marked_context(text: str, start: int, end: int, lo: int = 0, hi: Optional[int] = None) -> str:
    """The sentence holding text[start:end] and the one before it (within text[lo:hi]), with the
    candidate marked. Training (rag.training.train_verifier) and answering both cut it here."""
    hi = len(text) if hi is None else hi
    sents = split_sentences(text, lo, hi)
    i = next((k for k, (a, b) in enumerate(sents) if a <= start < b), None)
    if i is None:
        return OPEN.strip() + " " + text[start:end] + " " + CLOSE.strip()
    j = i
    while j + 1 < len(sents) and sents[j][1] < end:
        j += 1
    s0 = sents[i - 1][0] if i > 0 else sents[i][0]
    return text[s0:start] + OPEN + text[start:end] + CLOSE + text[end:max(end, sents[j][1])]


class AnswerVerifier:
    """Load once, then `score(question, contexts)`; thread-safe. `bf16` as the reader's."""

    def __init__(self, path: Path | str = SHIPPED_VERIFIER, bf16: bool = False, model=None, tokenizer=None):
        self.path = Path(path)
        if model is None:
            from .reader import load_tokenizer, load_weights
            from .bert import BertPairScore

            model = load_weights(self.path, BertPairScore, "verifier", "rag train-verifier",
                                 f"write it with `rag train-verifier --out {self.path}`, or reinstall the package")
            tokenizer = load_tokenizer(self.path)
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.tokenizer.enable_truncation(MAX_LENGTH, strategy="only_second")
        self.tokenizer.no_padding()
        self.bf16 = bf16
        self._lock = threading.Lock()

    def score(self, question: str, contexts: Sequence[str]) -> np.ndarray:
        """One logit per marked context (marked_context): higher, more likely an answer."""
        import torch

        if not contexts:
            return np.zeros(0, np.float32)
        enc = self.tokenizer.encode_batch([(question, c) for c in contexts])
        width = max(len(e.ids) for e in enc)
        ids = torch.zeros((len(enc), width), dtype=torch.long)
        tt = torch.zeros_like(ids)
        mask = torch.zeros_like(ids)
        for i, e in enumerate(enc):
            n = len(e.ids)
            ids[i, :n] = torch.tensor(e.ids)
            tt[i, :n] = torch.tensor(e.type_ids)
            mask[i, :n] = 1
        with self._lock, torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            out = self.model(input_ids=ids, token_type_ids=tt, attention_mask=mask)
        return out.float().numpy()


_cache: dict[tuple[str, bool], AnswerVerifier] = {}
_cache_lock = threading.Lock()


def get_verifier(path: Path | str = SHIPPED_VERIFIER, bf16: bool = False) -> AnswerVerifier:
    key = (str(Path(path).resolve()), bool(bf16))
    with _cache_lock:
        if key not in _cache:
            _cache[key] = AnswerVerifier(path, bf16=bf16)
        return _cache[key]
