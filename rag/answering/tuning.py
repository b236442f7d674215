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
    # 4 measured 2026-11-27 (eval/candidates/2026-11-27-four-passages.md): the chunks of the best 4
    # sentences hold the answer more often (news development .925 -> .994), but with the decision
    # refitted for it gold answer hit fell .887 -> .875 and Rhine token F1 .472 -> .471: kept at 3
    reader_passages: int = 3
    # the reader reads, of each such chunk, the best sentences in it with this many sentences
    # either side (-1: the whole chunk). On training articles (`rag fit-decision`, leave-one-
    # article-out, the decision refitted for each): SQuAD2 F1 .474 whole chunks, .475 with 1,
    # .397 with 0; with 1 the reader reads fewer tokens (ask() p50 296 -> 247 ms over 16 bench
    # questions at 1k chunks). Not the default:
    # a window's bounds follow the ranking of the best sentences, which other documents' term
    # statistics move, so answers about the bundled articles changed when the planted files sat
    # beside them (tests/test_security_planted.py): a candidate at the decision threshold moved
    # by a swapped chunk rank, and, with a rank-free feature (chunk_score) in its place, a
    # window that started one sentence earlier and a different span read. Whole chunks have
    # fixed bounds. A change of this number needs `rag fit-decision` for it.
    reader_window: int = -1
    # for figure/date/name questions, the rules' typed mention in each of the best sentences is
    # offered to the decision as a candidate too (scored by the reader); 3 as for passages
    rule_sentences: int = 3
    # sentence score = w_cov * coverage + w_sim * similarity + w_prior * 1/(1+chunk rank),
    # times type_penalty when the sentence lacks the kind of answer asked for. Coverage leads
    # because news questions reuse the article's words; similarity catches paraphrases.
    # Checked against data (eval/candidates/2026-11-27-sentence-ranking.md): rankers fitted on
    # squad2-train and eval/newsdev, scored on held-out articles, did no better (top-1 .721 ->
    # at most .732 on training articles, .677 -> at most .658 on news).
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
    # this many articles (each costs a reader pass, ~20-40 ms per passage on 2 cores), on the
    # chunks of its best 2 sentences (as for the whole collection, where the gold answer's
    # sentence is among the top 3 ~0.9 of the time). An article agrees when one of its best
    # `article_answers` answers states the same value (a second figure in the same sentence
    # often outranks it); it conflicts only through its best one, over the decision threshold.
    max_articles: int = 6
    # two figures are the same value within 1% of the larger (rounding in words and digits:
    # "1.2 billion" and "1,200 million"; "1.2 billion" and "1.45 billion" differ)
    value_tolerance: float = 0.01
    # a figure without a currency agrees with the same sum in a currency ("540 million" and
    # "R$540 million") from this size up: a short answer that drops the currency is a sum
    # of money in the millions, while small equal figures ("12" and "$12") coincide by chance
    bare_money_min: float = 1000.0
    # two free-text answers agree when one holds the other's words or they share half of all
    # their words (Jaccard), e.g. "ammonia" / "ammonia solution"
    words_overlap: float = 0.5
    article_passages: int = 2
    article_answers: int = 3
    # articles that no read passage is from, among retrieval's fused candidates (up to dense_k +
    # sparse_k passages), can agree with the answer through the values they state when a
    # sentence of theirs discusses the question (related_coverage), within max_articles; they
    # are not read and never lead or disagree. On the news development sets, 8 of the 14
    # supporting articles left uncited under right answers had no passage in the top_k
    # (2026-11-27); see eval/candidates/2026-11-27-further-stated.md
    further_articles: int = 4


TUNING = Tuning()
