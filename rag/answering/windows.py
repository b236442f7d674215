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
    # every annotated answer inside this window, (start, end) token positions (training with
    # all annotators' answers); empty when none is: the target is then [CLS]
    targets: tuple[tuple[int, int], ...] = ()


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
