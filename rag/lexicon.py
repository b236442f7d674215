"""Language data in one place: number words, months, titles, organisation words.

Values of numbers written in words come from text2num (`text_to_num`), a maintained
parser for English and seven other languages ("twenty-five", "three hundred and
forty", "a dozen" after normalisation), rather than a hand table that drifts: three
copies of such a table had drifted apart here ("sixty" was found as a figure but had
no value). The word list below is only used to *find* candidate number phrases in text.
"""
from __future__ import annotations

import re
from typing import Optional

# Words that start or make up a number phrase (finding only; values come from text2num).
NUMBER_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy "
                "eighty ninety hundred").split()
VAGUE_NUMBER_WORDS = ("a dozen", "dozens", "hundreds", "thousands", "millions", "scores")
NUMBER_WORD_PATTERN = "|".join(NUMBER_WORDS + list(VAGUE_NUMBER_WORDS))

SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9, "trillion": 1e12}

MONTHS = ("january february march april may june july august september october november "
          "december").split()
MONTH_ABBREVIATIONS = ("jan feb mar apr may jun jul aug sep sept oct nov dec").split()
MONTH_PATTERN = ("(?:January|February|March|April|May|June|July|August|September|October|"
                 "November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\\.?")

# Titles and posts that precede a name ("Mayor Elena Varga"): not part of who a person is.
TITLES = frozenset("""mr mrs ms dr prof sir madam mayor deputy vice regional governor president prime
minister pm chair chairman chairwoman director general secretary party state chief judge retired
fire police spokesperson spokesman spokeswoman head leader late""".split())
# Words that make a capitalised phrase an organisation or outlet, not a person.
ORGANISATION_WORDS = frozenset("""council ministry department party committee congress agency company
service authority association union university bank office government commission court assembly vn vov
vns news times wire gazette echo tv radio press institute foundation group corporation""".split())

_WORD_RUN = re.compile(r"\b(?:(?:" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
                       + r")\b(?:[\s-]+(?:and\s+)?)?)+", re.I)


# a scale word after a vague quantifier states no figure: text2num reads "several hundred" as 100
_VAGUE_SCALED = re.compile(r"\b(?:several|few|many)\s+(?:hundred|thousand|million|billion)", re.I)  # "a few" too


def number_from_words(text: str) -> Optional[float]:
    """The value of the first number written in words in `text` ("Sixty people" -> 60.0);
    None for vague amounts ("hundreds", "dozens") and text without one."""
    from text_to_num import text2num

    low = text.lower()
    if any(re.search(rf"\b{v}\b", low) for v in VAGUE_NUMBER_WORDS):
        return None
    if _VAGUE_SCALED.search(low):  # "several hundred", "a few thousand": no figure to compare
        return None
    m = _WORD_RUN.search(low)
    if not m:
        return None
    words = re.sub(r"[\s-]+", " ", m.group()).replace(" and ", " ").strip()
    try:
        return float(text2num(words, "en"))
    except ValueError:
        first = words.split()[0]
        try:
            return float(text2num(first, "en"))
        except ValueError:
            return None


def month_number(text: str) -> Optional[int]:
    """1-12 for the first month name or abbreviation in folded `text`, else None."""
    for i, (full, short) in enumerate(zip(MONTHS, ["jan", "feb", "mar", "apr", "may", "jun", "jul",
                                                    "aug", "sep", "oct", "nov", "dec"]), start=1):
        if re.search(rf"\b(?:{full}|{short}t?)\b\.?", text):
            return i
    return None
