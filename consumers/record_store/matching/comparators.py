"""Comparators of the field rules: how a value is prepared, and the conditions a level can test.

A comparator turns what a path reaches (strings, dates, numbers, addresses, identifiers) into
prepared strings, stored with the record. A level's `when` is a condition on two prepared values:
`same`, `jaro_winkler >= 0.9`, `levenshtein <= 1`, `metaphone`, `swapped_day_month`, ... (see
CONDITIONS); `else` holds for any two values.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from typing import Any

import jellyfish

from consumers.record_store.matching import names
from consumers.record_store.matching.features import _address as chinese_address
from consumers.record_store.matching.features import _birth as fhir_date
from consumers.record_store.matching.scoring import one_keystroke
from hub.core.errors import PermanentError

Condition = Callable[[str, str], bool]

COMPARATORS = ("exact", "text", "pinyin", "date", "number", "address", "identifier")

_NOT_WORD = re.compile(r"[^\w]+")
_DIGITS = re.compile(r"\D")
# Street words as post offices abbreviate them; both spellings compare as the long form.
_STREET_WORDS = {
    "st": "street", "str": "street", "rd": "road", "ave": "avenue", "av": "avenue", "dr": "drive", "ln": "lane",
    "blvd": "boulevard", "ct": "court", "pl": "place", "sq": "square", "hwy": "highway", "pkwy": "parkway",
    "cir": "circle", "ter": "terrace", "apt": "apartment", "ste": "suite", "fl": "floor", "n": "north",
    "s": "south", "e": "east", "w": "west", "mt": "mount", "ft": "fort", "trl": "trail", "way": "way",
}
# Common English given names and their nicknames (the usual short forms in registers).
_NICKNAMES = {
    "robert": ("bob", "rob", "bobby", "robbie"), "william": ("bill", "will", "billy", "willie", "liam"),
    "richard": ("rick", "dick", "rich", "ricky"), "james": ("jim", "jimmy", "jamie"), "john": ("jack", "johnny"),
    "margaret": ("maggie", "peggy", "meg", "marge"), "elizabeth": ("liz", "beth", "betty", "lizzie", "eliza"),
    "katherine": ("kate", "kathy", "katie", "kath"), "catherine": ("cathy", "cate", "kate"),
    "michael": ("mike", "mikey", "mick"), "thomas": ("tom", "tommy"), "joseph": ("joe", "joey"),
    "charles": ("charlie", "chuck", "chas"), "christopher": ("chris", "kit"), "daniel": ("dan", "danny"),
    "matthew": ("matt",), "anthony": ("tony",), "edward": ("ed", "eddie", "ted", "ned"), "patricia": ("pat", "patty", "trish"),
    "jennifer": ("jen", "jenny"), "susan": ("sue", "susie"), "deborah": ("deb", "debbie"), "rebecca": ("becky", "becca"),
    "alexander": ("alex", "sandy"), "alexandra": ("alex", "sandra"), "benjamin": ("ben", "benny"),
    "samuel": ("sam", "sammy"), "samantha": ("sam",), "jonathan": ("jon",), "nicholas": ("nick", "nicky"),
    "stephen": ("steve",), "steven": ("steve",), "timothy": ("tim", "timmy"), "andrew": ("andy", "drew"),
    "kimberly": ("kim",), "jessica": ("jess", "jessie"), "victoria": ("vicky", "tori"), "david": ("dave", "davy"),
    "donald": ("don", "donny"), "kenneth": ("ken", "kenny"), "ronald": ("ron", "ronnie"), "gregory": ("greg",),
    "jeffrey": ("jeff",), "joshua": ("josh",), "zachary": ("zach", "zack"), "christine": ("chris", "tina"),
    "patrick": ("pat",), "peter": ("pete",), "raymond": ("ray",), "gerald": ("jerry",), "lawrence": ("larry",),
    "frederick": ("fred", "freddie"), "abigail": ("abby",), "amanda": ("mandy",), "dorothy": ("dot", "dottie"),
    "theodore": ("ted", "teddy", "theo"), "jacqueline": ("jackie",), "barbara": ("barb", "babs"),
}
_CANONICAL_NAME = {nick: full for full, nicks in _NICKNAMES.items() for nick in nicks} | {f: f for f in _NICKNAMES}


class ConditionError(PermanentError, ValueError):
    """A level's condition that the comparator does not know; the message lists what it knows."""


def normalise_text(value: str) -> str:
    """Case, accents, punctuation and runs of spaces do not count: 'O’Brien-Smith ' -> 'o brien smith'."""
    decomposed = unicodedata.normalize("NFKD", value)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NOT_WORD.sub(" ", plain.casefold()).split())


# Preparing values --------------------------------------------------------------------------------


def prepare(comparator: str, values: list[Any]) -> tuple[str, ...]:
    """What the comparator keeps of each value a path reached (empty ones dropped, order kept)."""
    found: list[str] = []
    for value in values:
        prepared = _PREPARE[comparator](value)
        if prepared and prepared not in found:
            found.append(prepared)
    return tuple(found)


def _text_of(value: Any) -> str:
    if isinstance(value, dict):  # a HumanName, Identifier, ContactPoint or Coding reached whole
        for key in ("value", "text", "code"):
            if isinstance(value.get(key), str):
                return str(value[key])
        parts = [value.get("family") or "", *(value.get("given") or [])]
        return " ".join(str(p) for p in parts if p)
    return str(value) if isinstance(value, str | int | float) else ""


def _prepare_date(value: Any) -> str:
    text = _text_of(value)
    return fhir_date(text) or (text if len(text) == 8 and text.isdigit() else "")


def _prepare_number(value: Any) -> str:
    try:
        number = float(_text_of(value)) if not isinstance(value, int | float) else float(value)
    except ValueError:
        return ""
    return repr(number)


def _prepare_identifier(value: Any) -> str:
    return "".join(_NOT_WORD.sub("", _text_of(value)).split()).upper()


def _prepare_address(value: Any) -> str:
    """number, street, postcode, city, township, village (tab-separated; '' where unknown)."""
    if isinstance(value, str):
        value = {"text": value}
    if not isinstance(value, dict):
        return ""
    township, village = chinese_address([value])
    lines = [str(x) for x in value.get("line") or [] if x]
    text = " ".join(lines) or str(value.get("text") or "")
    words = [_STREET_WORDS.get(w, w) for w in normalise_text(text).split()]
    number = ""
    if words and any(ch.isdigit() for ch in words[0]):
        number, words = words[0], words[1:]
    street = " ".join(words)
    postcode = normalise_text(str(value.get("postalCode") or "")).replace(" ", "")
    city = normalise_text(str(value.get("city") or ""))
    if not any((number, street, postcode, city, township, village)):
        return ""
    return "\t".join((number, street, postcode, city, township, village))


_PREPARE: dict[str, Callable[[Any], str]] = {
    "exact": lambda v: _text_of(v).strip(),
    "text": lambda v: normalise_text(_text_of(v)),
    "pinyin": lambda v: unicodedata.normalize("NFKC", _text_of(v)).strip(),
    "date": _prepare_date,
    "number": _prepare_number,
    "address": _prepare_address,
    "identifier": _prepare_identifier,
}


# Conditions --------------------------------------------------------------------------------------


@lru_cache(maxsize=50_000)
def _syllables(text: str) -> tuple[names.Syllables, bool]:
    return names.syllables(text)


def _pinyin(outcome: str) -> Condition:
    def holds(a: str, b: str) -> bool:
        (sa, han_a), (sb, han_b) = _syllables(a), _syllables(b)
        if outcome == "same_characters":
            return han_a and han_b and a == b
        found = names.agreement(sa, sb)
        return found == outcome or (outcome == "fuzzy" and found == "pinyin")
    return holds


def _address_part(*indexes: int) -> Condition:
    def holds(a: str, b: str) -> bool:
        pa, pb = a.split("\t"), b.split("\t")
        return all(pa[i] and pa[i] == pb[i] for i in indexes)
    return holds


def _token_overlap(threshold: float) -> Condition:
    def holds(a: str, b: str) -> bool:
        ta, tb = set(a.replace("\t", " ").split()), set(b.replace("\t", " ").split())
        return bool(ta and tb) and len(ta & tb) / len(ta | tb) >= threshold
    return holds


def _within(limit: float, relative: bool) -> Condition:
    def holds(a: str, b: str) -> bool:
        x, y = float(a), float(b)
        return abs(x - y) <= (limit / 100 * max(abs(x), abs(y)) if relative else limit)
    return holds


def _phonetic(code: Callable[[str], str]) -> Condition:
    cached = lru_cache(maxsize=50_000)(code)

    def holds(a: str, b: str) -> bool:
        return bool(a and b) and cached(a) == cached(b)
    return holds


def _nickname(a: str, b: str) -> bool:
    first_a, first_b = a.split(" ")[0], b.split(" ")[0]
    return first_a == first_b or _CANONICAL_NAME.get(first_a, first_a) == _CANONICAL_NAME.get(first_b, first_b)


def _initial(a: str, b: str) -> bool:
    short, long = sorted((a, b), key=len)
    return len(short) == 1 and long.startswith(short)


def _days_apart(limit: int) -> Condition:
    def holds(a: str, b: str) -> bool:
        try:
            x = date(int(a[:4]), int(a[4:6]), int(a[6:8]))
            y = date(int(b[:4]), int(b[4:6]), int(b[6:8]))
        except ValueError:
            return False
        return abs((x - y).days) <= limit
    return holds


_ANY: dict[str, Condition] = {"same": lambda a, b: a == b, "else": lambda a, b: True}
_STRING: dict[str, Condition] = {
    "metaphone": _phonetic(jellyfish.metaphone),
    "nysiis": _phonetic(jellyfish.nysiis),
    "soundex": _phonetic(jellyfish.soundex),
    "match_rating": _phonetic(jellyfish.match_rating_codex),
    "nickname": _nickname,
    "initial": _initial,
    "one_digit": one_keystroke,
}
_DATE: dict[str, Condition] = {
    "swapped_day_month": lambda a, b: a[:4] == b[:4] and a[4:6] == b[6:8] and a[6:8] == b[4:6],
    "one_digit": one_keystroke,
    "same_year_month": lambda a, b: a[:6] == b[:6],
    "same_year": lambda a, b: a[:4] == b[:4],
}
_ADDRESS: dict[str, Condition] = {
    "same_street": _address_part(0, 1),
    "same_street_name": _address_part(1),
    "same_postcode": _address_part(2),
    "same_city": _address_part(3),
    "same_village": _address_part(5),
    "same_township": _address_part(4),
}
_PINYIN: dict[str, Condition] = {o: _pinyin(o) for o in ("same_characters", "pinyin", "fuzzy", "reordered", "partial")}
CONDITIONS: dict[str, dict[str, Condition]] = {
    "exact": {},
    "text": _STRING,
    "pinyin": _PINYIN,
    "date": _DATE,
    "number": {},
    "address": _ADDRESS,
    "identifier": {"one_digit": one_keystroke},
}
# Conditions with a number: `jaro_winkler >= 0.9`, `levenshtein <= 2`, `within 5`, `within 10%`,
# `within_days 30`, `token_overlap >= 0.6`.
_MEASURED = re.compile(r"^(jaro_winkler|levenshtein|damerau|token_overlap|within|within_days)\s*(>=|<=)?\s*([\d.]+)(%?)$")
_MEASURES_FOR = {
    "jaro_winkler": ("text", "exact", "identifier"), "levenshtein": ("text", "exact", "identifier"),
    "damerau": ("text", "exact", "identifier"), "token_overlap": ("text", "address"), "within": ("number",),
    "within_days": ("date",),
}


def condition(comparator: str, when: str) -> Condition:
    """The test a level's `when` names; ConditionError lists what this comparator knows."""
    when = " ".join(when.split())
    if when in _ANY:
        return _ANY[when]
    if when in CONDITIONS[comparator]:
        return CONDITIONS[comparator][when]
    measured = _MEASURED.match(when)
    if measured and comparator in _MEASURES_FOR[measured.group(1)]:
        measure, operator, number, percent = measured.groups()
        value = float(number)
        if measure == "jaro_winkler" and operator == ">=":
            return lambda a, b: jellyfish.jaro_winkler_similarity(a, b) >= value
        if measure == "levenshtein" and operator == "<=":
            return lambda a, b: jellyfish.levenshtein_distance(a, b) <= value
        if measure == "damerau" and operator == "<=":
            return lambda a, b: jellyfish.damerau_levenshtein_distance(a, b) <= value
        if measure == "token_overlap" and operator == ">=":
            return _token_overlap(value)
        if measure == "within" and operator is None:
            return _within(value, bool(percent))
        if measure == "within_days" and operator is None and not percent:
            return _days_apart(int(value))
    known = sorted({*_ANY, *CONDITIONS[comparator]})
    measures = [f"{m} ..." for m, kinds in _MEASURES_FOR.items() if comparator in kinds]
    raise ConditionError(f"comparator {comparator} cannot test {when!r}; it knows: {', '.join(known + measures)}")
