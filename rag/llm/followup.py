"""Follow-up questions made standalone before retrieval.

"And how much did that save the state budget?" after "How many vaccine doses did
Vietnam secure?" cannot be retrieved on its own. Two rewriters:

- `deterministic_rewrite` (always available): strip the leading "and/so/but",
  and when the follow-up leans on the conversation (a pronoun such as "that",
  "it", "they", or too few content words) append the previous user question's
  topic words: its names, the noun phrase it counted ("vaccine doses") and its
  other content words.
- an LLM rewrite (when a backend is on), accepted only if `valid_rewrite` holds:
  one short line that keeps every content word of the follow-up, adds at least
  one word of the previous question, and brings in no number or name found in
  neither. Tiny models often rewrite badly; then the deterministic one is used.
"""
from __future__ import annotations

import re
from typing import Optional

from ..textnorm import STOPWORDS, TOKEN_RE, fold, terms

_LEAD = re.compile(r"^\s*(?:and|so|but|also|then|ok(?:ay)?|well|now)\b[\s,]*", re.I)
_ANAPHORA = {"it", "its", "that", "this", "those", "these", "they", "them", "their", "there", "he",
             "she", "him", "his", "her", "same", "such", "former", "latter"}
_FRAGMENT = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\b", re.I)
_QWORDS = {"how", "what", "which", "who", "whom", "whose", "when", "where", "why", "did", "do",
           "does", "was", "were", "is", "are", "has", "have", "had", "will", "can", "could", "would"}

REWRITE_SYSTEM = ("Rewrite the user's follow-up question so that it can be understood without the "
                  "conversation. Keep every word of the follow-up and replace pronouns like 'that' or "
                  "'it' with what they refer to. Reply with the rewritten question only.")


def last_user_question(history: list[dict]) -> Optional[str]:
    for m in reversed(history or []):
        if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), str):
            if m["content"].strip():
                return m["content"].strip()
    return None


def _content_words(text: str) -> list[str]:
    out = []
    for m in TOKEN_RE.finditer(text):
        w = m.group()
        f = fold(w)
        if f in STOPWORDS or f in _QWORDS or f in _ANAPHORA:
            continue
        out.append(w)
    return out


def needs_context(followup: str) -> bool:
    words = [fold(m.group()) for m in TOKEN_RE.finditer(followup)]
    if any(w in _ANAPHORA for w in words) or _FRAGMENT.match(followup):
        return True
    n = len(_content_words(followup))
    return n < 2 or (n < 3 and bool(_LEAD.match(followup)))  # "And the budget?"


def topic_words(previous: str, followup: str) -> list[str]:
    """Words of the previous question that name its topic and are not in the follow-up."""
    have = set(terms(followup))
    out = []
    for w in _content_words(previous):
        if terms(w) and terms(w)[0] in have:
            continue
        if w not in out:
            out.append(w)
    return out


def deterministic_rewrite(history: list[dict], followup: str) -> str:
    prev = last_user_question(history)
    q = " ".join(followup.split())
    if not prev or not needs_context(q):
        return q
    core = _LEAD.sub("", q).strip() or q
    core = core[0].upper() + core[1:]
    extra = topic_words(prev, core)
    if not extra:
        return core
    body = core.rstrip(" ?.!")
    return f"{body} ({' '.join(extra)})?"


def rewrite_messages(history: list[dict], followup: str) -> list[dict]:
    prev = last_user_question(history) or ""
    return [{"role": "system", "content": REWRITE_SYSTEM},
            {"role": "user", "content": f"Previous question: {prev}\nFollow-up: {followup}\n"
                                        "Rewritten question:"}]


def clean_rewrite(text: str) -> str:
    line = next((ln for ln in text.strip().splitlines() if ln.strip()), "")
    line = re.sub(r"^\s*(?:rewritten|standalone)?\s*question\s*:\s*", "", line, flags=re.I)
    return " ".join(line.strip().strip('"“”').split())


def valid_rewrite(rewrite: str, history: list[dict], followup: str) -> bool:
    prev = last_user_question(history) or ""
    if not rewrite or len(rewrite) > 3 * len(followup) + len(prev) or "\n" in rewrite:
        return False
    got = set(terms(rewrite))
    if not set(terms(" ".join(_content_words(followup)))) <= got:
        return False  # lost a word of the follow-up
    if needs_context(followup) and not (got & set(terms(prev))):
        return False  # did not bring in the context
    known = fold(followup + " " + prev)
    for m in TOKEN_RE.finditer(rewrite):
        w = m.group()
        if (w[0].isdigit() or (m.start() > 0 and w[0].isupper())) and fold(w) not in known:
            return False  # an invented number or name
    return True


def rewrite_followup(history: list[dict], followup: str, chat=None, max_tokens: int = 48) -> str:
    """A standalone form of `followup` (the follow-up itself when it already stands alone)."""
    if not last_user_question(history) or not needs_context(followup):
        return " ".join(followup.split())
    if chat is not None:
        from . import complete

        try:
            cand = clean_rewrite(complete(chat, rewrite_messages(history, followup), max_tokens))
        except Exception:  # a flaky rewriter must not break the conversation
            cand = ""
        if valid_rewrite(cand, history, followup):
            return cand
    return deterministic_rewrite(history, followup)
