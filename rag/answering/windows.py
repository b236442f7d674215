"""Tokenised (question, passage) windows for the span reader, shared by training and answering."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass
class Window:
    """One tokenised (question, context window) pair."""

    example: int  # index into the example list
    input_ids: list[int]
    token_type_ids: list[int]
    offsets: list[Optional[tuple[int, int]]]  # char offsets in the context; None outside it
    start: int = 0  # answer token positions; 0 (the [CLS] token) = no answer in this window
    end: int = 0


def make_windows(tokenizer, questions: list[str], contexts: list[str], max_length: int = 256,
                 stride: int = 64, answers: Optional[list[list[tuple[str, int]]]] = None) -> list[Window]:
    """SQuAD-style windows: the context is cut into overlapping pieces that fit with the question.
    A question longer than a third of a window is cut to its first tokens (SQuAD questions are
    short; a pasted paragraph must not leave no room for the passage)."""
    limit = max(8, max_length // 3)
    cut = []
    for q in questions:
        enc_q = tokenizer(q, add_special_tokens=False, return_offsets_mapping=True)
        offs = enc_q["offset_mapping"]
        cut.append(q[:offs[limit - 1][1]] if len(offs) > limit else q)
    questions = cut
    enc = tokenizer(questions, contexts, truncation="only_second", max_length=max_length, stride=stride,
                    return_overflowing_tokens=True, return_offsets_mapping=True, padding=False)
    out = []
    for i, ids in enumerate(enc["input_ids"]):
        ex = enc["overflow_to_sample_mapping"][i]
        seq = enc.sequence_ids(i)
        offsets = [tuple(o) if s == 1 else None for o, s in zip(enc["offset_mapping"][i], seq)]
        w = Window(ex, ids, enc["token_type_ids"][i], offsets)
        if answers is not None and answers[ex]:
            text, s_char = answers[ex][0]
            e_char = s_char + len(text)
            ctx_tok = [j for j, o in enumerate(offsets) if o is not None]
            if ctx_tok and offsets[ctx_tok[0]][0] <= s_char and offsets[ctx_tok[-1]][1] >= e_char:
                st = next(j for j in ctx_tok if offsets[j][1] > s_char)
                en = next(j for j in reversed(ctx_tok) if offsets[j][0] < e_char)
                if st <= en:
                    w.start, w.end = st, en
        out.append(w)
    return out
