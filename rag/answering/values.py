"""What a short answer states, as a value that can be compared across articles.

Each article's answer (a verbatim phrase: "three workers", "$9.5 million", "Judge Trần Thị Mai",
"dated from 1998") is parsed into a typed value; two articles agree when their values are
equal, and conflict when they measure the same thing with different values.

Libraries instead of hand tables, each for what it does best:
- numbers written in words: text2num (via rag.lexicon), "seventeen", "twenty-five";
- money: price-parser (Zyte, maintained) finds the amount and the currency in
  "more than US$900 million", "VND 3 billion", "€9.5m"; scale words are ours
  (price-parser does not read "million"); Babel's CLDR data names the currencies
  price-parser does not know ("3.2 billion zlotys", "310 million reais", "R$");
- lengths, durations, weights, areas: pint (the standard units library) converts
  "12 km" and "7.5 miles", "three hours" and "180 minutes" to one base unit;
- dates: dateparser (Scrapinghub, maintained) reads "3 March 2026", "March 3" and, against the
  article's own date, "on Tuesday"; its `period` tells how much of the date the text gave;
- people: nameparser strips titles ("Judge", "Dr.", "Deputy Minister") and Unidecode folds
  "Nguyễn Văn Hải" to "Nguyen Van Hai" (it also maps đ/Đ, which Unicode decomposition does not).
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional, Union

from ..lexicon import MONTH_PATTERN, NUMBER_WORDS, SCALES, TITLES, number_from_words
from .tuning import TUNING

_DIGITS = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\d])")
_SCALE_RE = re.compile(r"\b(thousand|million|billion|trillion|bn|k|m)\b", re.I)
_PERCENT_RE = re.compile(r"%|\bper\s?cent\b|\bpercent\b", re.I)
_RANGE_YEARS = re.compile(r"\b(1[5-9]\d{2}|20\d{2})\s?[-–—/]\s?(\d{2,4})\b")
_YEAR = re.compile(r"\b(1[5-9]\d{2}|20\d{2})\b")
_MONTH_NAME = re.compile(MONTH_PATTERN, re.I)
# currency marks price-parser reports, folded to one code ("$" in these articles is US dollars
# unless another dollar is named)
_CURRENCY = {"$": "USD", "us$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD", "€": "EUR",
             "eur": "EUR", "euro": "EUR", "euros": "EUR", "£": "GBP", "gbp": "GBP", "pound": "GBP",
             "pounds": "GBP", "¥": "JPY", "₫": "VND", "vnd": "VND", "vnđ": "VND", "dong": "VND",
             "a$": "AUD", "c$": "CAD", "s$": "SGD"}
_UNIT_DIMENSIONS = ("[length]", "[time]", "[mass]", "[area]", "[volume]", "[speed]")


@dataclass(frozen=True)
class Amount:
    """A figure: a count, a share, a sum of money or a physical quantity in base units."""
    value: float
    unit: str = ""  # "" for a count, "%", a currency code, or a pint dimension ("[length]")

    def agrees(self, other: "Amount") -> bool:
        big = max(abs(self.value), abs(other.value))
        if abs(self.value - other.value) > TUNING.value_tolerance * big:
            return False
        if self.unit == other.unit:
            return True
        # a bare figure and the same sum with its currency ("540 million" and "R$540 million"):
        # one article's answer left the currency out; never a disagreement (comparable() is
        # False), and only for sums too large to be an equal count by chance
        return "" in (self.unit, other.unit) and (self.money or other.money) and big >= TUNING.bare_money_min

    @property
    def money(self) -> bool:
        return self.unit not in ("", "%") and not self.unit.startswith("[")

    def comparable(self, other: "Amount") -> bool:
        return self.unit == other.unit


@dataclass(frozen=True)
class When:
    """A date as far as the text gives it (None where it says nothing), or a period of years."""
    year: Optional[int] = None
    month: Optional[int] = None
    day: Optional[int] = None
    until: Optional[int] = None  # end year of "2025-2030"

    def agrees(self, other: "When") -> bool:
        pairs = [(a, b) for a, b in zip((self.year, self.month, self.day, self.until),
                                        (other.year, other.month, other.day, other.until))
                 if a is not None and b is not None]
        return bool(pairs) and all(a == b for a, b in pairs) and (self.until is None) == (other.until is None)

    def comparable(self, other: "When") -> bool:
        return (self.until is None) == (other.until is None) and any(
            a is not None and b is not None for a, b in zip((self.year, self.month, self.day),
                                                             (other.year, other.month, other.day)))


@dataclass(frozen=True)
class Person:
    """A name without titles, folded to ASCII words; the titles apart."""
    names: tuple[str, ...]
    titles: tuple[str, ...] = ()

    def agrees(self, other: "Person") -> bool:
        a, b = set(self.names), set(other.names)
        return self.names[-1] == other.names[-1] or a <= b or b <= a

    def comparable(self, other: "Person") -> bool:
        return True


@dataclass(frozen=True)
class Words:
    """Any other answer: its content words (for "what" questions)."""
    words: frozenset[str]

    def agrees(self, other: "Words") -> bool:
        a, b = self.words, other.words
        return bool(a and b) and (a <= b or b <= a or len(a & b) / len(a | b) >= TUNING.words_overlap)

    def comparable(self, other: "Words") -> bool:
        return False  # different wordings are not a disagreement that can be shown as values


Value = Union[Amount, When, Person, Words]


def agree(a: Optional[Value], b: Optional[Value]) -> bool:
    return a is not None and b is not None and type(a) is type(b) and a.agrees(b)  # type: ignore[arg-type]


def comparable(a: Optional[Value], b: Optional[Value]) -> bool:
    """Both state the same kind of value in the same unit: a difference is a real conflict."""
    return a is not None and b is not None and type(a) is type(b) and a.comparable(b)  # type: ignore[arg-type]


def warm() -> None:
    """Load now what the parsers load on first use: Babel's currency names (~1 s on 2 cores),
    pint's unit registry (~0.8 s), dateparser's English data, the name parser. Assistant.open
    calls it, so the first answers after "Ready" cost what later ones do (without it the first
    figure question took 1.6 s, against 0.2 s once warm)."""
    parse_amount("3.2 billion zlotys")
    parse_amount("forty-seven kilometres")
    parse_when("3 March 2026", "2026-03-05")
    parse_person("Judge Trần Thị Mai")


# -- parsing --------------------------------------------------------------------------------
def parse(text: str, kind: str, article_date: Optional[str] = None) -> Optional[Value]:
    """The value `text` states for a question of `kind` (number, date, time, person, place,
    other); None when it states none ("hundreds", "a footbridge" for a figure question)."""
    if kind == "number":
        return parse_amount(text)
    if kind == "date":
        return parse_when(text, article_date)
    if kind == "person":
        return parse_person(text)
    return parse_words(text)


def _number(text: str) -> Optional[float]:
    m = _DIGITS.search(text)
    if m:
        return float(m.group(1).replace(",", ""))
    return number_from_words(text)


@lru_cache(maxsize=4096)  # pure, and the same phrases come back question after question (values are frozen)
def parse_amount(text: str) -> Optional[Amount]:
    num = _number(text)
    if num is None:
        # "a week", "an hour": one of a unit (only for units: "a footbridge" states no figure)
        if re.match(r"^\W*(?:about\s+|around\s+|nearly\s+|just\s+over\s+)?an?\s+[a-z]", text, re.I):
            return _physical(text, 1.0)
        return None
    scale = _SCALE_RE.search(text)
    if scale:
        num *= SCALES[scale.group(1).lower()]
    if _PERCENT_RE.search(text):
        return Amount(num, "%")
    currency = _currency(text)
    if currency:
        return Amount(num, currency)
    unit = _physical(text, num)
    if unit:
        return unit
    return Amount(num)


def _currency(text: str) -> Optional[str]:
    """The ISO code of the currency of the figure in `text`: a currency noun right after it
    ("3.2 billion zlotys", "310 million reais ($57 million)", "12 million US dollars"), else
    the symbol or code price-parser finds ("US$", "R$", "PLN", "€")."""
    from price_parser import Price

    figure = _DIGITS.search(text) or _WORD_FIGURE.search(text)
    if figure is not None:
        after = _WORDS_AFTER.match(text, figure.end())
        words = [w for w in after.group().lower().split() if w not in SCALES][:2] if after else []
        nouns = _currency_names()[1]
        for word in words:  # "US dollars", "Polish zlotys": the noun may follow one word
            code = _CURRENCY.get(word) or nouns.get(word)
            if code:
                return code
    cur = Price.fromstring(text).currency
    if cur:
        mark = cur.strip().lower()
        return _CURRENCY.get(mark) or _currency_names()[0].get(mark) or cur.strip().upper()
    return None


_WORD_FIGURE = re.compile(r"\b(?:" + "|".join(NUMBER_WORDS) + r")\b", re.I)
_WORDS_AFTER = re.compile(r"(?:[ \t]+[^\W\d_]+)+")  # the words right after a figure, up to punctuation


@lru_cache(maxsize=1)
def currencies_in_use() -> dict[str, frozenset[str]]:
    """{ISO 4217 code: the territories where it is legal tender today}, from Babel's CLDR data."""
    from babel.core import get_global

    users: dict[str, set[str]] = {}
    for territory, rows in get_global("territory_currencies").items():
        for code, _start, end, tender in rows:
            if end is None and tender:
                users.setdefault(code, set()).add(territory)
    return {code: frozenset(t) for code, t in users.items()}


# Currency nouns that are also everyday English words: "12 real estate deals", "won 3 seats"
# never name the Brazilian real or the Korean won (their plurals "reais" and the codes do);
# "38 gold ducats" is no sum of Zimbabwe Gold (ZWG, CLDR's English name "Zimbabwean Gold": found on
# a news development set, where it kept "38 gold ducats" from agreeing with "thirty-eight gold ducats")
_NOT_CURRENCY = frozenset({"real", "mark", "marks", "won", "rand", "des", "som", "gold"})


def _parser_cache(name: str) -> Optional["Path"]:
    """A file under ~/.cache/rag-news/parsers (RAG_PARSER_CACHE names another folder) for data
    built from the parser libraries at first use, keyed by this module's own text and the
    libraries' versions, so a change to either builds it anew. None when no key can be made."""
    import hashlib
    import os
    from importlib.metadata import PackageNotFoundError, version
    from pathlib import Path

    h = hashlib.sha256(Path(__file__).read_bytes())
    for dist in ("babel", "unidecode", "pint"):
        try:
            h.update(f"{dist}={version(dist)};".encode())
        except PackageNotFoundError:
            return None
    folder = Path(os.environ.get("RAG_PARSER_CACHE") or Path.home() / ".cache" / "rag-news" / "parsers")
    return folder / f"{name}-{h.hexdigest()[:16]}"


@lru_cache(maxsize=1)
def _currency_names() -> tuple[dict[str, str], dict[str, str]]:
    """_build_currency_names(), from the disk cache when an earlier process built it: reading
    Babel's locale data takes ~1 s on 2 cores, which every `rag ask` paid for a figure question;
    the cached tables load in a few ms. A cache that cannot be read or written is rebuilt or
    skipped, never an error."""
    import json
    import os

    path = _parser_cache("currency-names")
    if path is not None:
        path = path.with_suffix(".json")
        try:
            symbols, nouns = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(symbols, dict) and isinstance(nouns, dict):
                return symbols, nouns
        except (OSError, ValueError):
            pass
    tables = _build_currency_names()
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(tables, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, path)  # atomic: a concurrent reader sees the old file or the whole new one
        except OSError:
            pass
    return tables


def _build_currency_names() -> tuple[dict[str, str], dict[str, str]]:
    """(symbol -> ISO code, currency noun -> ISO code) for every currency in use, from the
    Unicode CLDR data that Babel ships (python-babel: maintained, the data ICU and the
    browsers use), instead of a hand table that knew dollars, euros, pounds and dong: the
    English symbols ("R$", "CA$", "₹") and local ones ("zł", "Kč"), and the nouns of each
    currency's names in English ("zloty", "zlotys") and in the official languages of the
    countries that use it ("reais", "koruny"), folded to ASCII too ("zloty" for "złoty").
    A noun several currencies share ("pesos", "rupees", "francs") names no one of them and
    gives their codes together, so "12 pesos" agrees with "12 pesos" and with no "MX$12";
    dollars, euros and pounds stay USD, EUR and GBP (_CURRENCY). Built once, ~0.5 s."""
    from babel import Locale
    from babel.core import get_global
    from babel.languages import get_official_languages
    from babel.numbers import get_currency_name, get_currency_symbol
    from unidecode import unidecode

    users = currencies_in_use()
    scripts = get_global("likely_subtags")
    locales: dict[str, Optional[Locale]] = {}

    def locale(lang: str) -> Optional[Locale]:
        if lang not in locales:
            # names in other scripts never appear in English text: not loaded
            latin = lang == "en" or "_Latn" in scripts.get(lang, "")
            try:
                locales[lang] = Locale.parse(lang) if latin else None
            except Exception:  # noqa: BLE001 - a language CLDR has no locale for
                locales[lang] = None
        return locales[lang]

    symbols: dict[str, set[str]] = {}
    nouns: dict[str, set[str]] = {}
    for code, territories in users.items():
        langs = {"en"} | {lang for t in territories for lang in get_official_languages(t)}
        for lang in sorted(langs):
            loc = locale(lang)
            if loc is None or code not in loc.currencies:
                continue
            symbol = get_currency_symbol(code, loc).lower()
            if symbol != code.lower():
                symbols.setdefault(symbol, set()).add(code)
            for count in (1, 2, 5):  # one, other, and the "many" forms ("korun")
                words = re.findall(r"[^\W\d_]+", get_currency_name(code, count, loc).lower())
                for w in words[-1:] if lang == "en" else words:  # "Polish zloty": the noun
                    for form in {w, unidecode(w)}:
                        if len(form) >= 3 and form not in _NOT_CURRENCY:
                            nouns.setdefault(form, set()).add(code)
    return ({s: "|".join(sorted(c)) for s, c in symbols.items()},
            {w: "|".join(sorted(c)) for w, c in nouns.items()})


@lru_cache(maxsize=1)
def _units():
    """pint's registry with its own on-disk cache of the parsed unit definitions (pint's
    `cache_folder`): ~0.45 s to parse them, ~0.06 s from the cache."""
    import os
    import shutil

    import pint

    path = _parser_cache("pint")
    if path is None:
        return pint.UnitRegistry()
    if path.is_dir():
        try:
            return pint.UnitRegistry(cache_folder=path)
        except Exception:  # noqa: BLE001 - a damaged cache: parse the definitions instead
            return pint.UnitRegistry()
    # pint writes its cache files in place; built in a private folder and renamed into place
    # whole, so a concurrent process never reads a half-written one
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        units = pint.UnitRegistry(cache_folder=tmp)
        os.rename(tmp, path)
        return units
    except OSError:  # read-only home, or another process renamed its folder first
        shutil.rmtree(tmp, ignore_errors=True)
        return pint.UnitRegistry()


def _physical(text: str, num: float) -> Optional[Amount]:
    """"12 km", "140-metre", "forty-seven kilometres", "three hours": the quantity in base
    units, or None when no word of `text` is a unit pint knows ("people", "doses")."""
    from ..textnorm import STOPWORDS

    for word in re.findall(r"[A-Za-z]+", text):
        word = word.lower()
        if word in SCALES or word in STOPWORDS or len(word) < 2 and word not in ("m", "h", "s", "g"):
            continue
        if word.rstrip("s") in ("decade", "centurie", "century"):  # pint reads "decade" as a log ratio
            num, word = num * (10 if word.startswith("decade") else 100), "years"
        unit = _unit_of(word)
        if unit is not None:
            factor, dim = unit
            return Amount(num * factor, dim)
    return None


@lru_cache(maxsize=16384)
def _unit_of(word: str) -> Optional[tuple[float, str]]:
    """(size of one `word` in base units, its dimension), or None when pint knows no unit of
    a kept dimension by that name. Cached per word: pint's parser takes about a millisecond a
    word, most words are not units, and an article's figures repeat the same nouns."""
    ureg = _units()
    try:
        unit = ureg.parse_units(_british(word))
    except Exception:  # not a unit
        return None
    dims = str(unit.dimensionality)
    dim = next((d for d in _UNIT_DIMENSIONS if d == dims), None)
    if dim is None and dims == "[length] / [time]":
        dim = "[speed]"
    if dim is None and dims == "[length] ** 2":
        dim = "[area]"
    if dim is None:
        return None
    return float(ureg.Quantity(1.0, unit).to_base_units().magnitude), dim


def _british(word: str) -> str:
    return re.sub(r"tres?$", "ters", word) if word.endswith(("metre", "metres")) else word


@lru_cache(maxsize=64)
def _date_parser(base: Optional[_dt.datetime] = None):
    """One parser per article date: building a DateDataParser loads its locale data (~50 ms),
    far more than parsing a phrase with it."""
    from dateparser.date import DateDataParser

    settings = {"PREFER_DATES_FROM": "past"}
    if base is not None:
        settings["RELATIVE_BASE"] = base
    return DateDataParser(languages=["en"], settings=settings)


@lru_cache(maxsize=4096)
def parse_when(text: str, article_date: Optional[str] = None) -> Optional[When]:
    """A date or year range (When is frozen, so a cached value is safe to share)."""
    rng = _RANGE_YEARS.search(text)
    if rng:
        end = rng.group(2)
        end_year = int(end) if len(end) == 4 else int(rng.group(1)[:2] + end)
        if end_year > int(rng.group(1)):
            return When(int(rng.group(1)), until=end_year)
    cleaned = re.sub(r"^\s*(?:on|in|since|from|by|dated|dating|the)\s+", "", text.strip(), flags=re.I)
    cleaned = re.sub(r"\b(?:early|late|mid|around|about|some\s+time\s+in)\b[\s-]*", "", cleaned, flags=re.I)
    base = None
    if article_date:
        try:
            base = _dt.datetime.fromisoformat(article_date[:10])
        except ValueError:
            base = None
    parser = _date_parser(base)
    try:
        data = parser.get_date_data(cleaned)
    except Exception:
        data = None
    if data is not None and data.date_obj is not None:
        d, period = data.date_obj, data.period
        explicit = bool(_MONTH_NAME.search(cleaned) or re.search(r"\d", cleaned))
        if not explicit:
            # "on Tuesday", "last year": a date only against the article's own date
            if base is None:
                return None
            return When(d.year) if period == "year" else When(d.year, d.month, d.day)
        if period == "year":
            return When(d.year)
        # a year only where the text gives one: dateparser fills it from today or the base
        year = d.year if _YEAR.search(cleaned) else None
        if period == "month":
            return When(year, d.month)
        return When(year, d.month, d.day)
    year = _YEAR.search(text)
    return When(int(year.group(1))) if year else None


@lru_cache(maxsize=4096)
def parse_person(text: str) -> Optional[Person]:
    from nameparser import HumanName
    from unidecode import unidecode

    name = HumanName(text.strip())
    title = unidecode(name.title).lower()
    core = " ".join(p for p in (name.first, name.middle, name.last) if p) or text
    # nameparser knows capitalised titles; lower-case posts before a name ("retired judge
    # Miriam Solberg") are dropped with the lexicon's list of titles
    words = tuple(w for w in re.findall(r"[a-z0-9]+", unidecode(core).lower()) if w not in TITLES)
    if not words:
        return None
    # titles: what nameparser found, and the lexicon's posts anywhere in the phrase ("late President")
    titles = set(re.findall(r"[a-z]+", title)) | (set(re.findall(r"[a-z]+", unidecode(text).lower())) & TITLES)
    return Person(words, tuple(sorted(titles)))


def parse_words(text: str) -> Optional[Words]:
    from ..textnorm import terms

    ws = frozenset(terms(text))
    return Words(ws) if ws else None
