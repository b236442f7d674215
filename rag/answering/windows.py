"""Tokenised (question, passage) windows for the span reader, shared by training and answering."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Optional

_TOKENIZER_LOCK = threading.Lock()


@dataclass
class Window:
    """One tokenised (question, context window) pair."""

    example: int  # index into the example list
    input_ids: list[int]
    token_type_ids: list[int]
    offsets: list[Optional[tuple[int, int]]]  # char offsets in the context; None outside it
    start: int = 0  # answer token positions; 0 (the [CLS] token) = no answer in this window
    end: int = 0
    # every annotated answer inside this window, (start, end) token positions (training with
    # all annotators' answers); empty when none is: the target is then [CLS]
    targets: tuple[tuple[int, int], ...] = ()


def make_windows(tokenizer, questions: list[str], contexts: list[str], max_length: int = 256,
                 stride: int = 64, answers: Optional[list[list[tuple[str, int]]]] = None) -> list[Window]:
    """SQuAD-style windows: the context is cut into overlapping pieces that fit with the question.
    A question longer than a third of a window is cut to its first tokens (SQuAD questions are
    short; a pasted paragraph must not leave no room for the passage)."""
    limit = max(8, max_length // 3)
    # the `tokenizers` library directly (transformers' fast tokenizer wraps it: `backend_tokenizer`),
    # doing what that wrapper does for return_overflowing_tokens: truncate only the passage with a
    # stride, and list each encoding's overflowing windows after it
    tok = getattr(tokenizer, "backend_tokenizer", tokenizer)
    with _TOKENIZER_LOCK:  # truncation and padding are settings of the shared tokenizer object
        tok.no_padding()
        tok.no_truncation()
        cut = []
        for q, enc_q in zip(questions, tok.encode_batch(questions, add_special_tokens=False)):
            offs = enc_q.offsets
            cut.append(q[:offs[limit - 1][1]] if len(offs) > limit else q)
        tok.enable_truncation(max_length, stride=stride, strategy="only_second", direction="right")
        try:
            encodings = tok.encode_batch(list(zip(cut, contexts)), add_special_tokens=True)
        finally:
            tok.no_truncation()
    out = []
    flat = [(ex, e) for ex, enc in enumerate(encodings) for e in [enc, *enc.overflowing]]
    for ex, e in flat:
        ids = list(e.ids)
        offsets = [tuple(o) if s == 1 else None for o, s in zip(e.offsets, e.sequence_ids)]
        w = Window(ex, ids, list(e.type_ids), offsets)
        if answers is not None and answers[ex]:
            ctx_tok = [j for j, o in enumerate(offsets) if o is not None]
            spans = [_token_span(offsets, ctx_tok, ans) for ans in answers[ex]]
            if spans[0] is not None:
                w.start, w.end = spans[0]
            w.targets = tuple(dict.fromkeys(sp for sp in spans if sp is not None))
        out.append(w)
    return out


def _token_span(offsets, ctx_tok: list[int], answer: tuple[str, int]) -> Optional[tuple[int, int]]:
    """Token positions of an answer (text, character start), None when the window does not hold it."""
    text, s_char = answer
    e_char = s_char + len(text)
    if not ctx_tok or offsets[ctx_tok[0]][0] > s_char or offsets[ctx_tok[-1]][1] < e_char:
        return None
    st = next(j for j in ctx_tok if offsets[j][1] > s_char)
    en = next(j for j in reversed(ctx_tok) if offsets[j][0] < e_char)
    return (st, en) if st <= en else None
