"""Numbers of answering that were chosen by hand, in one place, each with its reason.

The answer decision itself (which candidate, whether to abstain) is learned from
data (decide.py); what stays here are the sizes and weights of the evidence stage.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tuning:
    # how many passages the reader reads per question: the chunks of the best sentences.
    # The gold answer's sentence is among the top 3 sentences ~0.9 of the time on held-out
    # training articles; each extra passage costs ~15-25 ms of reader time on 2 cores.
    reader_passages: int = 3
    # for figure/date/name questions, the rules' typed mention in each of the best sentences is
    # offered to the decision as a candidate too (scored by the reader); 3 as for passages
    rule_sentences: int = 3
    # sentence score = w_cov * coverage + w_sim * similarity + w_prior * 1/(1+chunk rank),
    # times type_penalty when the sentence lacks the kind of answer asked for. Coverage leads
    # because news questions reuse the article's words; similarity catches paraphrases.
    w_coverage: float = 0.55
    w_similarity: float = 0.35
    w_prior: float = 0.10
    type_penalty: float = 0.6
    # lazy scoring (lazyspans.py) embeds every sentence that could reach these bars; they
    # must stay at or below the bars used downstream (pick_quotes' quote_ratio and
    # cross_check's related_coverage) for lazy scoring to equal full scoring
    lazy_score_ratio: float = 0.6
    lazy_coverage_ratio: float = 0.4
    quote_ratio: float = 0.75          # other quotes must score >= this share of the best
    related_coverage: float = 0.45     # cross-source passages must cover this share of the best's words
    # corroboration reads each other article that discusses the question on its own: at most
    # this many articles (each costs a reader pass, ~20-40 ms on 2 cores), on this many of its
    # passages (the chunk of its best sentence: where its answer is ~0.9 of the time)
    max_articles: int = 6
    article_passages: int = 1


TUNING = Tuning()
