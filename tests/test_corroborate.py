"""What counts as the same value across articles (pure functions over rag/answering/values.py;
the end-to-end behaviour is checked on real indexes in test_core_answers.py,
test_conflicts_events.py, test_answers_stable.py and test_ui_conflicts.py)."""
from __future__ import annotations

import pytest

from rag.answering.corroborate import ArticleAnswer, cross_check, same_value, value_of
from rag.answering.extract import Mention, question_type
from rag.answering.spans import Span
from rag.answering.values import agree, comparable, parse


@pytest.mark.parametrize("a,b,kind,same", [
    ("over 258 million doses", "more than 258 million doses", "number", True),
    ("Twelve people", "12 dead", "number", True),
    ("Twelve people", "Fourteen people", "number", False),
    ("three workers", "3 workers", "number", True),
    ("seventeen", "17", "number", True),
    ("1.2 billion pesos", "1,200 million pesos", "number", True),
    ("US$900 million", "US$80 million", "number", False),
    ("$12 million", "$9.5 million", "number", False),
    ("1,230 km", "1230 km", "number", True),
    ("47 km", "forty-seven kilometres", "number", True),
    ("600 metres", "0.6 km", "number", True),
    ("three weeks", "21 days", "number", True),
    ("four years", "48 months", "number", True),
    ("a week", "seven days", "number", True),
    ("two-kilometre radius", "2 km", "number", True),
    ("2025-11-10", "November 10", "date", True),      # the parts both give agree
    ("the 2025-2030", "2025–2030", "date", True),
    ("1987", "June 1989", "date", False),
    ("2020", "2020–2021", "date", False),             # a year is not a period
    ("built in 1998", "dated from 1998", "date", True),
    ("3 March 2026", "March 3", "date", True),
    ("Mayor Elena Varga", "Elena Varga", "person", True),
    ("Prime Minister Phạm Minh Chính", "PM Chinh", "person", True),
    ("Nguyễn Văn Hải", "Nguyen Van Hai", "person", True),
    ("Judge Trần Thị Mai", "Tran Thi Mai", "person", True),
    ("Dr. José Álvarez", "Jose Alvarez", "person", True),
    ("Mayor Elena Varga", "Mayor Elena Vargas", "person", False),
    ("Mayor Elena Varga", "Regional Governor Paul Okafor", "person", False),
    # currencies by any of their names (CLDR's, through Babel), the figure's own first
    ("3.2 billion zlotys", "PLN 3.2 billion", "number", True),
    ("310 million reais ($57 million)", "R$310 million", "number", True),
    ("120 million koruna", "CZK 120 million", "number", True),
    ("12 million US dollars", "US$12 million", "number", True),
    ("12 million pesos", "MX$12 million", "number", False),   # which peso, the text does not say
    # a short answer that left the currency out is the same sum, not a small count
    ("540 million", "R$540 million", "number", True),
    ("12", "$12", "number", False),
    ("38 gold ducats", "thirty-eight gold ducats taken", "number", True),  # gold is no currency here
])
def test_same_value(a, b, kind, same):
    assert same_value(value_of(a, kind), value_of(b, kind)) is same


def test_relative_dates_are_read_against_the_articles_own_date():
    # 2026-03-05 was a Thursday: "on Tuesday" is March 3 in an article of that day
    assert agree(parse("on Tuesday", "date", "2026-03-05"), parse("3 March 2026", "date"))
    assert parse("on Tuesday", "date") is None  # no article date: no value rather than a guess


def test_a_length_is_not_a_cost_and_dollars_are_not_pesos():
    assert not comparable(parse("14 km", "number"), parse("$14 million", "number"))
    assert not comparable(parse("$12 million", "number"), parse("12 million pesos", "number"))
    assert not comparable(parse("40 firefighters", "number"), parse("40 km", "number"))


def test_a_figure_without_its_currency_agrees_but_never_conflicts():
    assert not comparable(parse("290 million", "number"), parse("PLN 310 million", "number"))
    assert parse("12 real estate deals", "number").unit == ""  # an English word, not the real
    assert parse("5,00 zł", "number").unit == parse("PLN 5.00", "number").unit == "PLN"


def test_vague_values_are_not_values():
    assert value_of("hundreds", "number") is None
    assert value_of("Mayor", "person") is None
    assert value_of("a footbridge", "number") is None
    # text2num reads "several hundred" as 100: found on a news development set, where
    # "Several hundred people protested" was shown as disagreeing with "About 300 people"
    for vague in ("Several hundred people", "a few thousand runners", "many thousands"):
        assert value_of(vague, "number") is None, vague
    assert value_of("two hundred people", "number").value == 200
    assert value_of("Some twelve thousand runners", "number").value == 12000


def test_a_vague_count_never_disagrees_with_a_figure():
    best = _article("gazette", "About 300 people protested outside the town hall.", "About 300 people")
    other = _article("explainer", "Several hundred people protested outside during the vote.", "Several hundred people")
    agree, differ = cross_check("How many people protested outside the town hall?", question_type(
        "How many people protested outside the town hall?"), best, [[other]])
    assert differ == [] and [s.span.doc_id for s in agree] == ["gazette"]


def _article(doc_id: str, sentence: str, value: str, text_key: str = "", date=None) -> ArticleAnswer:
    i = sentence.index(value)
    return ArticleAnswer(doc_id, Span(doc_id, 0, len(sentence), sentence, 0),
                         Mention(i, i + len(value), value), text_key or doc_id, date)


def test_cross_check_groups_articles_by_value_and_never_pits_an_article_against_itself():
    q = "How many workers died in the fire?"
    best = _article("a", "Three workers died in the fire.", "Three workers")
    others = [[_article("b", "The fire killed 3 workers.", "3 workers")],
              [_article("c", "Five workers died, the union said.", "Five workers")],
              [_article("a", "Later, five workers were said to have died.", "five workers")],  # same article
              [_article("d", "Three workers died in the fire.", "Three workers", text_key="a")]]  # a copy of a
    agree_sides, differ = cross_check(q, question_type(q), best, others)
    assert [s.span.doc_id for s in agree_sides] == ["a", "b"]
    assert [s.span.doc_id for s in differ] == ["c"]


def test_a_figure_that_counts_something_else_is_no_conflict():
    q = "How many firefighters were injured?"
    best = _article("a", "Three firefighters were injured.", "Three firefighters")
    other = _article("b", "About 40 firefighters were sent to the depot.", "About 40 firefighters")
    assert parse(best.mention.text, "number") is not None
    agree_sides, differ = cross_check(q, question_type(q), best, [[other]])
    assert [s.span.doc_id for s in agree_sides] == ["a"] and differ == []


def test_a_rate_is_not_a_total():
    q = "How many passengers were on the ferry?"
    best = _article("a", "The ferry carried 118 passengers.", "118 passengers")
    daily = _article("b", "Ferries here carry 40,000 passengers a day.", "40,000 passengers")
    agree_sides, differ = cross_check(q, question_type(q), best, [[daily]])
    assert differ == []


def test_an_article_agrees_through_any_of_its_answers_but_conflicts_only_through_its_best():
    q = "How many divers are searching the river?"
    best = _article("a", "Sixty divers are searching the river.", "Sixty divers")
    other = [_article("b", "Fifteen boats and 60 divers joined the search.", "Fifteen boats"),
             _article("b", "Fifteen boats and 60 divers joined the search.", "60 divers")]
    agree_sides, differ = cross_check(q, question_type(q), best, [other])
    assert [s.mention.text for s in agree_sides] == ["Sixty divers", "60 divers"] and differ == []


def test_figures_of_differently_named_things_do_not_conflict_but_a_verb_does_not_rename():
    q = "How many cooperation agreements with international partners were signed?"
    best = _article("a", "Localities signed over 400 cooperation agreements.", "over 400 cooperation agreements")
    other = _article("b", "They signed more than 600 international agreements.", "more than 600 international agreements")
    assert cross_check(q, question_type(q), best, [[other]])[1] == []
    q = "How many people died?"
    best = _article("a", "Twelve people died in the collapse.", "Twelve people")
    other = _article("b", "The collapse left 14 dead.", "14 dead")
    assert [s.span.doc_id for s in cross_check(q, question_type(q), best, [[other]])[1]] == ["b"]


def test_a_count_of_what_happened_to_others_is_no_conflict_for_a_population():
    q = "About how many people live in Marrowick?"
    best = _article("a", "About 18,000 people live in the town.", "About 18,000 people")
    other = _article("b", "The collapse left 31 injured.", "31 injured")
    assert cross_check(q, question_type(q), best, [[other]])[1] == []
    assert not comparable(parse("nearly four decades old", "number"), parse("31 injured", "number"))


def _stated(doc_id: str, sentence: str, value: str, date=None) -> ArticleAnswer:
    a = _article(doc_id, sentence, value, date=date)
    a.answers, a.stated = False, True
    return a


def test_an_article_stating_the_same_date_in_other_words_corroborates():
    q = "When was the railway line built?"
    best = _article("a", "The line, built in 1911, is a key freight link.", "1911")
    reader_miss = _article("b", "Trains will not run for three weeks.", "three weeks")
    stated = _stated("b", "The line, dating from 1911, carries chemicals.", "1911")
    agree_sides, differ = cross_check(q, question_type(q), best, [[reader_miss, stated]])
    assert [s.span.doc_id for s in agree_sides] == ["a", "b"] and differ == []
    assert agree_sides[1].span.text == "The line, dating from 1911, carries chemicals."


def test_a_unit_joined_by_a_hyphen_is_read_with_its_figure():
    from rag.answering.extract import mentions, value_phrase

    sentence = "Police set up an exclusion zone with a two-kilometre radius."
    i = sentence.index("two")
    s, e = value_phrase(sentence, i, i + 3, "number")
    assert sentence[s:e].startswith("two-kilometre")
    assert agree(parse(sentence[s:e], "number"), parse("2 km", "number"))
    assert [m.text for m in mentions("a 28-metre vessel", "number")] == ["28"]  # the short answer stays the figure


def test_a_number_in_words_with_a_hyphen_is_read_whole():
    """civic_dev: 'heard fifty-eight witnesses' gave the short answer 'fifty', another number."""
    from rag.answering.extract import mentions

    sentence = "The trial took four months and heard fifty-eight witnesses, among them engineers."
    assert "fifty-eight witnesses" in [m.text for m in mentions(sentence, "number")]
    assert parse("fifty-eight witnesses", "number").value == 58


def test_an_equal_figure_that_counts_something_else_does_not_corroborate():
    q = "How many people died in the fire?"
    best = _article("a", "Twelve people died in the fire.", "Twelve people")
    wagons = _stated("b", "Twelve wagons left the rails.", "Twelve wagons")
    injured = _stated("c", "Twelve people were injured, the hospital said.", "Twelve people")
    agree_sides, differ = cross_check(q, question_type(q), best, [[wagons], [injured]])
    assert [s.span.doc_id for s in agree_sides] == ["a"] and differ == []


def test_an_equal_count_of_what_was_asked_corroborates_and_a_stated_value_never_conflicts():
    q = "How many people were injured?"
    best = _article("a", "The blast left 17 injured.", "17 injured")
    same = _stated("b", "Seventeen people were injured, police said.", "Seventeen people")
    other = _stated("c", "Twenty people were injured, the union said.", "Twenty people")
    agree_sides, differ = cross_check(q, question_type(q), best, [[same], [other]])
    assert [s.span.doc_id for s in agree_sides] == ["a", "b"]
    assert differ == []  # a value found, not read as the article's answer, is no side of a disagreement


def test_a_value_an_article_only_states_is_never_a_side_of_a_disagreement():
    q = "How many workers died in the blast?"
    best = _article("a", "Three workers died in the blast.", "Three workers")
    unsure = _article("b", "The blast shook the town.", "the town")
    unsure.answers = False  # its reader's answer is under the decision threshold
    five = _stated("b", "Five workers died in the blast, the union said.", "Five workers")
    agree_sides, differ = cross_check(q, question_type(q), best, [[unsure, five]])
    assert [s.span.doc_id for s in agree_sides] == ["a"] and differ == []


def test_a_count_stated_without_what_the_question_says_happened_does_not_corroborate():
    q = "How many miners died in the explosion?"
    best = _article("a", "The explosion trapped 147 miners underground.", "147 miners")
    underground = _stated("b", "There were 147 miners underground at the time of the explosion.", "147 miners")
    agree_sides, _ = cross_check(q, question_type(q), best, [[underground]])
    assert [s.span.doc_id for s in agree_sides] == ["a"]
    died = _stated("c", "All 147 miners died in the explosion.", "147 miners")
    assert [s.span.doc_id for s in cross_check(q, question_type(q), best, [[died]])[0]] == ["a", "c"]


def test_names_are_looked_for_in_other_articles_only_as_the_answers_person():
    from rag.answering.pipeline import Answerer
    from rag.answering.values import parse_person
    from rag.documents import Document

    doc = Document("b", "Fire", "b.txt", "The prosecutor in Stary Wądół said the warehouse fire is under "
                   "investigation. Prosecutor Ewa Soltysiak leads it.")
    q = "Who speaks for the prosecutor in the warehouse fire?"
    assert Answerer.stated_values(q, question_type(q), doc) == []  # no answer, no name looked for
    found = Answerer.stated_values(q, question_type(q), doc, person=parse_person("Ewa Sołtysiak"))
    assert [m.text for _, m in found] == ["Prosecutor Ewa Soltysiak"]
    assert all(sp.text[m.start:m.end] == m.text for sp, m in found)
    # one shared name is not the person ("Ewa" alone, another Soltysiak); "Juergen" is "Jürgen"
    assert Answerer.stated_values(q, question_type(q), doc, person=parse_person("Ewa Nowak")) == []
    bank = Document("c", "Merger", "c.txt", "Nordhafen chief executive Juergen Massmann will lead the merged group.")
    q = "Who will run the combined bank?"
    found = Answerer.stated_values(q, question_type(q), bank, person=parse_person("Dr. Jürgen Maßmann"))
    assert [m.text for _, m in found] == ["Juergen Massmann"]


def test_a_person_an_article_only_names_never_outvotes_its_own_reading():
    q = "Who leads the inquiry?"
    best = _article("a", "Judge Miriam Solberg will lead the inquiry.", "Miriam Solberg")
    named = _stated("b", "Miriam Solberg was appointed in 2019.", "Miriam Solberg")
    alone = cross_check(q, question_type(q), best, [[named]])
    assert [s.span.doc_id for s in alone[0]] == ["a", "b"]  # the article would not answer: it agrees
    own = _article("b", "The inquiry will be led by Judge Tomas Berg.", "Tomas Berg")
    agree_sides, differ = cross_check(q, question_type(q), best, [[own, named]])
    assert [s.span.doc_id for s in agree_sides] == ["a"] and [s.span.doc_id for s in differ] == ["b"]


def test_a_what_question_answered_with_a_figure_is_compared_by_value_and_never_disagrees():
    from rag.answering.corroborate import compared_as

    q = "What fine was imposed on the former director?"
    assert question_type(q).kind == "other"
    assert compared_as(question_type(q), "€1.2 million").kind == "number"
    assert compared_as(question_type(q), "Boeing 737").kind == "other"  # a bare number names a thing
    assert compared_as(question_type("How many died?"), "12").kind == "number"
    best = _article("a", "He was fined €1.2 million and barred from office.", "€1.2 million")
    same = _article("b", "The court also imposed a fine of 1.2 million euros.", "1.2 million euros")
    other = _article("c", "The union had asked for a fine of €1.5 million.", "€1.5 million")
    agree_sides, differ = cross_check(q, compared_as(question_type(q), best.mention.text), best,
                                      [[same], [other]], asked_as=question_type(q))
    assert [s.span.doc_id for s in agree_sides] == ["a", "b"] and differ == []
    # the same figures under a "how much" question would be a disagreement
    how_much = "How much was the former director fined?"
    assert [s.span.doc_id for s in cross_check(how_much, question_type(how_much), best, [[other]])[1]] == ["c"]


def test_a_sum_or_quantity_with_its_unit_counts_wherever_the_article_gives_it():
    from rag.answering.pipeline import Answerer
    from rag.documents import Document

    doc = Document("b", "Launch", "b.txt", "The launch was halted. The 420-kg satellite is designed to watch "
                   "farmland. Engineers worked for nine years.")
    q = "How heavy is Carcará-1?"
    stated = Answerer.stated_values(q, question_type(q), doc)
    assert [m.text for _, m in stated] == ["420"]  # no word of the question, but a weight; not "nine years"


def test_what_happened_to_a_figure_is_read_within_its_own_phrase():
    from rag.answering.corroborate import predicate

    def after(sentence, figure):
        i = sentence.index(figure)
        return predicate(sentence, i, i + len(figure))

    assert after("40 firefighters were sent to the depot.", "40 firefighters") == "sent"
    assert after("Twelve people were killed and 31 injured.", "Twelve people") == "kill"
    assert after("The court heard 61 witnesses before it ended.", "61 witnesses") is None
    assert after("They will close 210 of their combined 1,050 branches.", "210") is None
    assert predicate("How many miners died?", 0, 0) == "die"  # a question has no figure to pass
    # so the other count of witnesses is a side of the disagreement
    q = "How many witnesses testified at the trial?"
    best = _article("a", "The trial took four months and heard fifty-eight witnesses, among them engineers.",
                    "fifty-eight witnesses")
    other = _article("b", "The court heard 61 witnesses before it ended its hearings in May.", "61 witnesses")
    assert [s.span.doc_id for s in cross_check(q, question_type(q), best, [[other]])[1]] == ["b"]
