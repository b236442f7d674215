"""The span reader: a transformer trained on SQuAD 2.0 that reads a passage and points at
the answer inside it (start and end scores per token), or at nothing ([CLS]).

The shipped weights (`rag/data/reader/`, see its MODEL_CARD.md) are all-MiniLM-L6-v2
fine-tuned by `rag train-reader` on ../shared/datasets/squad2-train. The reader returns
character offsets in the passage it was given; callers turn them into document offsets,
so the answer is always a slice of the stored article.

It runs on the embedding kernel chosen for this machine (rag/kernels.py): under bf16
autocast iff that kernel is torch-bf16 (auto picked it here, or RAG_EMBEDDING__PROVIDER
forces it), in fp32 otherwise; see reader_precision().
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from .. import hardware
from .windows import make_windows

SHIPPED_READER = Path(__file__).resolve().parent.parent / "data" / "reader"


@dataclass(frozen=True)
class ReaderTuning:
    """Decoding limits of the reader, each with its reason."""

    max_length: int = 256      # tokens per window: the length it was trained on
    stride: int = 64           # overlap of windows over a long passage (as trained)
    n_best: int = 20           # start/end candidates tried per window (SQuAD reference decoding)
    # Longest span the reader may give, in tokens: SQuAD's reference decoding. Measured on the
    # two calibration articles (2026-11-26), gold paragraph given, forced F1 for 6 / 8 / 10 / 12
    # / 15 / 20 / 30 tokens: .526 / .544 / .549 / .546 / .538 / .534 / .531. Through the whole
    # pipeline with the decision refitted (leave one article out) 10 tokens did not gain: F1 on
    # answerable questions .496 vs .497, SQuAD2 F1 of the chosen option .455 vs .472. Kept at 30.
    max_answer_tokens: int = 30


@dataclass
class ReadSpan:
    """The reader's best answer in one passage."""

    passage: int            # index of the passage it was read from
    start: int              # character offsets in that passage
    end: int
    text: str
    score: float            # start + end logit of the span
    null_score: float       # start + end logit of [CLS] (no answer) in the same window
    runner_up: Optional[float] = None  # score of the best span elsewhere in the passage (not overlapping)

    @property
    def margin(self) -> float:
        """How much the span beats 'no answer' (the SQuAD 2.0 decision value)."""
        return self.score - self.null_score


def reader_precision(settings=None) -> tuple[bool, str]:
    """(bf16 autocast or not, why): the embedding kernel chosen for these settings (default:
    the environment's) decides, so query embedding, sentence scoring and the reader follow one
    choice; a forced RAG_EMBEDDING__PROVIDER wins. Should the choice fail, fp32 (the reference)."""
    try:
        choice = hardware.chosen_kernel(settings)
    except Exception as e:  # noqa: BLE001 - the reader must load whatever the kernel choice does
        return False, (f"fp32: the embedding kernel choice failed ({type(e).__name__}: {e}"[:200]
                       + "); `rag doctor` shows why")
    return choice.bf16, f"{'bf16 autocast' if choice.bf16 else 'fp32'}: follows the embedding kernel " \
                        f"{choice.name} ({choice.reason})"


class SpanReader:
    """Load once, then `read(question, passages)`; thread-safe.

    `bf16` None follows the embedding kernel chosen for `settings` (reader_precision())."""

    def __init__(self, path: Path | str = SHIPPED_READER, tuning: ReaderTuning = ReaderTuning(),
                 bf16: Optional[bool] = None, model=None, tokenizer=None, settings=None):
        self.path = Path(path)
        self.tuning = tuning
        if model is None:
            if not (self.path / "config.json").exists():
                from ..errors import ConfigError
                raise ConfigError(f"No reader model in {self.path}: set RAG_READER__PATH to a folder "
                                  "written by `rag train-reader`, or reinstall the package.")
            model = load_model(self.path)
            tokenizer = load_tokenizer(self.path)
        self.model = model.eval()
        self.tokenizer = tokenizer
        if bf16 is None:
            self.bf16, self.bf16_reason = reader_precision(settings)
        else:
            self.bf16, self.bf16_reason = bool(bf16), f"{'bf16 autocast' if bf16 else 'fp32'}: set by the caller"
        self._lock = threading.Lock()

    def logits(self, windows) -> tuple[np.ndarray, np.ndarray]:
        """Start and end logits for tokenised windows (padded here), as float32 arrays."""
        import torch

        n, width = len(windows), max(len(w.input_ids) for w in windows)
        ids = torch.zeros((n, width), dtype=torch.long)
        tt = torch.zeros((n, width), dtype=torch.long)
        mask = torch.zeros((n, width), dtype=torch.long)
        for i, w in enumerate(windows):
            L = len(w.input_ids)
            ids[i, :L] = torch.tensor(w.input_ids)
            tt[i, :L] = torch.tensor(w.token_type_ids)
            mask[i, :L] = 1
        with self._lock, torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16,
                                                                  enabled=self.bf16):
            out = self.model(input_ids=ids, token_type_ids=tt, attention_mask=mask)
        return out.start_logits.float().numpy(), out.end_logits.float().numpy()

    def read(self, question: str, passages: list[str]) -> list[Optional[ReadSpan]]:
        """The best span of each passage (None where no span fits), with its no-answer score."""
        return self.read_many([(question, p) for p in passages])

    def read_many(self, pairs: list[tuple[str, str]]) -> list[Optional[ReadSpan]]:
        """read() for (question, passage) pairs that may have different questions."""
        return self.read_scored(pairs)[0]

    def read_scored(self, pairs: list[tuple[str, str]]) -> tuple[list[Optional[ReadSpan]], list["SpanScorer"]]:
        """read_many(), plus for each passage a SpanScorer that gives the reader's score of any
        other span of it (to weigh answers proposed by other means on the reader's scale)."""
        if not pairs:
            return [], []
        t = self.tuning
        passages = [p for _, p in pairs]
        windows = make_windows(self.tokenizer, [q for q, _ in pairs], passages, t.max_length, t.stride)
        starts, ends = self.logits(windows)
        best: list[Optional[ReadSpan]] = [None] * len(pairs)
        scorers = [SpanScorer() for _ in pairs]
        for w, s, e in zip(windows, starts, ends):
            L = len(w.input_ids)
            sc = scorers[w.example]
            sc.null = min(sc.null, float(s[0] + e[0]))
            sc.windows.append((s[:L], e[:L], w.offsets))
            span = decode_window(s[:L], e[:L], w.offsets, t.n_best, t.max_answer_tokens)
            if span is None:
                continue
            score, c0, c1, other = span
            cur = best[w.example]
            if cur is None or score > cur.score:
                # the runner-up is the best non-overlapping span of any window read so far
                rivals = [v for v in (other, cur.score if cur is not None and (cur.end <= c0 or c1 <= cur.start)
                                      else None) if v is not None]
                best[w.example] = ReadSpan(w.example, c0, c1, passages[w.example][c0:c1], score, 0.0,
                                           max(rivals) if rivals else None)
            elif c1 <= cur.start or cur.end <= c0:
                cur.runner_up = score if cur.runner_up is None else max(cur.runner_up, score)
            elif other is not None:
                cur.runner_up = other if cur.runner_up is None else max(cur.runner_up, other)
        for i, b in enumerate(best):
            if b is not None:
                b.null_score = scorers[i].null  # the most confident 'no answer' over the passage's windows
        return best, scorers


INT8_WEIGHTS = "model.int8.safetensors"
SCALE_SUFFIX = ".int8_scale"


def load_model(folder: Path):
    """The reader's weights as an fp32 model (answering/bert.py, no transformers import): from
    `model.int8.safetensors` (int8 matrices with one fp32 scale per row, written by
    rag.training.quantize; dequantized here) when the folder has it, else from the fp16/fp32
    `model.safetensors` that `rag train-reader` writes."""
    from .bert import BertQA

    return load_weights(folder, BertQA, "reader", "rag train-reader",
                        "set RAG_READER__PATH to a folder written by `rag train-reader`, or reinstall the package")


def load_weights(folder: Path, network, what: str, command: str, fix_missing: str):
    """`network` (a class of answering/bert.py) with the weights stored in `folder`: int8 with one
    scale per row (dequantized to fp32 here), or the fp16/fp32 file `command` writes."""
    import json

    import torch
    from safetensors.numpy import load_file

    from .bert import BertConfig

    int8 = folder / INT8_WEIGHTS
    weights = int8 if int8.exists() else folder / "model.safetensors"

    def refuse(why: str):
        from ..errors import ConfigError
        fix = (f"rewrite it with `python -m rag.training.quantize {folder}`" if weights == int8
               else f"train it again with `{command}`")
        return ConfigError(f"{weights} does not fit {folder / 'config.json'} ({why}): {fix}.")

    if not weights.exists():
        from ..errors import ConfigError
        raise ConfigError(f"No {what} weights in {folder} ({INT8_WEIGHTS} or model.safetensors): {fix_missing}.")
    stored = load_file(str(weights))  # numpy: dequantizing is one multiply per matrix, no thread pool
    state = {}
    for name, t in stored.items():
        if not name.endswith(SCALE_SUFFIX):
            scale = stored.get(name + SCALE_SUFFIX)
            state[name] = torch.from_numpy(t.astype(np.float32) * scale if scale is not None else t.astype(np.float32))
    try:
        config = BertConfig.from_dict(json.loads((folder / "config.json").read_text(encoding="utf-8")))
        return network(config).load(state).eval()
    except (RuntimeError, ValueError, KeyError, TypeError) as e:
        raise refuse(str(e)[:300]) from None


def load_tokenizer(folder: Path):
    """The reader's tokenizer (`tokenizer.json`, the `tokenizers` library itself: what
    transformers' fast tokenizer wraps, without importing transformers)."""
    from tokenizers import Tokenizer

    path = folder / "tokenizer.json"
    if not path.exists():
        from ..errors import ConfigError
        raise ConfigError(f"No tokenizer.json in {folder}: set RAG_READER__PATH to a folder written by "
                          "`rag train-reader`, or reinstall the package.")
    return Tokenizer.from_file(str(path))


@dataclass
class SpanScorer:
    """The reader's start+end score of any character span of one passage."""

    windows: list = None  # (start_logits, end_logits, offsets) per window
    null: float = float("inf")

    def __post_init__(self):
        self.windows = [] if self.windows is None else self.windows

    def score(self, c0: int, c1: int) -> Optional[float]:
        best = None
        for s, e, offs in self.windows:
            toks = [k for k, o in enumerate(offs) if o is not None]
            if not toks or offs[toks[0]][0] > c0 or offs[toks[-1]][1] < c1:
                continue  # the span is not wholly inside this window
            i = next((k for k in toks if offs[k][1] > c0), None)
            j = next((k for k in reversed(toks) if offs[k][0] < c1), None)
            if i is None or j is None or j < i:
                continue
            v = float(s[i] + e[j])
            best = v if best is None else max(best, v)
        return best


def decode_window(start_logits: np.ndarray, end_logits: np.ndarray, offsets, n_best: int,
                  max_tokens: int) -> Optional[tuple[float, int, int, Optional[float]]]:
    """Best (score, char_start, char_end, runner_up) with start <= end inside the context, or
    None; runner_up is the score of the best span that does not overlap it (None if none)."""
    ctx = np.array([o is not None for o in offsets])
    if not ctx.any():
        return None
    s = np.where(ctx, start_logits, -np.inf)
    e = np.where(ctx, end_logits, -np.inf)
    top_s = np.argsort(-s)[:n_best]
    top_e = np.argsort(-e)[:n_best]
    spans = []
    for i in top_s:
        if not np.isfinite(s[i]):
            break
        for j in top_e:
            if j < i or j - i + 1 > max_tokens or not np.isfinite(e[j]):
                continue
            spans.append((float(s[i] + e[j]), int(i), int(j)))
    if not spans:
        return None
    score, i, j = max(spans)
    rival = max((v for v, a, b in spans if b < i or a > j), default=None)
    return score, offsets[i][0], offsets[j][1], rival


_cache: dict[tuple[str, bool], SpanReader] = {}
_cache_lock = threading.Lock()


def get_reader(path: Path | str = SHIPPED_READER, settings=None) -> SpanReader:
    """The reader at `path`, on the kernel chosen for `settings` (default: the environment's),
    loaded once per process and precision."""
    bf16, why = reader_precision(settings)
    key = (str(Path(path).resolve()), bf16)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = SpanReader(path, bf16=bf16)
            _cache[key].bf16_reason = why
        return _cache[key]
