"""Names in Chinese characters or in pinyin, reduced to syllables that can be compared.

Clerks type the same name in different characters that sound alike (同音字: 王伟/王玮), village
systems without a Chinese input method type pinyin ("Zhang Wei", "ZHANGWEI", "Wei Zhang"), and
some characters have several readings (单 dan/shan, 曾 zeng/ceng). A name becomes a tuple of
syllables, each with its possible toneless readings; two names agree on a syllable when
their readings meet.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from pypinyin import Style, pinyin
from pypinyin.pinyin_dict import pinyin_dict

# One entry per syllable: its possible readings, the most common first.
Syllables = tuple[tuple[str, ...], ...]

# Surnames read differently from the character's everyday reading (单 as a surname is Shàn).
SURNAME_READINGS = {
    "单": "shan", "曾": "zeng", "解": "xie", "仇": "qiu", "区": "ou", "查": "zha", "朴": "piao", "盖": "ge",
    "乐": "yue", "覃": "qin", "缪": "miao", "褚": "chu", "种": "chong", "翟": "zhai", "员": "yun", "秘": "bi",
    "燕": "yan", "纪": "ji", "折": "she", "黑": "he", "尉": "yu", "句": "gou", "隗": "wei", "能": "nai",
}
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_SPLIT = re.compile(r"[\s\-·.,'’]+")
# Southern accents and quick typing blur these pairs; the fuzzy key treats each pair as one.
_FUZZY_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("l", "n"), ("f", "h"), ("r", "l"))
_FUZZY_FINALS = (("ang", "an"), ("eng", "en"), ("ing", "in"), ("iang", "ian"), ("uang", "uan"))


@lru_cache(maxsize=20_000)
def readings(char: str) -> tuple[str, ...]:
    """Every toneless reading of one character (ü written v), most common first; the character
    itself if it has none."""
    found = pinyin(char, heteronym=True, style=Style.NORMAL, errors="default", v_to_u=False)
    values = tuple(dict.fromkeys(r.replace("ü", "v").lower() for r in found[0])) if found else ()
    return values or (char,)


@lru_cache(maxsize=1)
def _syllable_set() -> frozenset[str]:
    syllables: set[str] = set()
    for value in pinyin_dict.values():
        for reading in value.split(","):
            # Drop tone marks but keep the diaeresis: lǜ -> lü -> lv.
            plain = "".join(c for c in unicodedata.normalize("NFD", reading) if c == "\u0308" or not unicodedata.combining(c))
            syllables.add(unicodedata.normalize("NFC", plain).replace("ü", "v").lower())
    return frozenset(syllables)


def split_pinyin(word: str) -> list[str] | None:
    """'zhangwei' -> ['zhang', 'wei'] (longest syllable first, backtracking); None if not pinyin."""
    result = _split(word.lower().replace("ü", "v").replace("u:", "v"))
    return list(result) if result is not None else None


@lru_cache(maxsize=20_000)  # Latin-script names repeat like any others
def _split(word: str) -> tuple[str, ...] | None:
    if not word:
        return ()
    known = _syllable_set()
    for end in range(min(len(word), 6), 0, -1):
        if word[:end] in known and (rest := _split(word[end:])) is not None:
            return (word[:end], *rest)
    return None


def syllables(name: str) -> tuple[Syllables, bool]:
    """The name's syllables and whether it was written in characters.

    Latin names keep their order; `compare` also tries given-name-first order.
    """
    name = unicodedata.normalize("NFKC", name or "").strip()
    if not name:
        return (), False
    if _HAN.search(name):
        chars = [c for c in name if _HAN.match(c)]
        result = [readings(c) for c in chars]
        if chars[0] in SURNAME_READINGS:
            first = SURNAME_READINGS[chars[0]]
            result[0] = (first, *(r for r in result[0] if r != first))
        return tuple(result), True
    parts: list[str] = []
    for token in _LATIN_SPLIT.split(name.lower().replace("ü", "v").replace("u:", "v")):
        if not token:
            continue
        split = split_pinyin(token)
        parts.extend(split if split else [token.lower()])
    return tuple((p,) for p in parts), False


@lru_cache(maxsize=4096)
def fuzzy(syllable: str) -> str:
    for sharp, flat in _FUZZY_INITIALS:
        if syllable.startswith(sharp):
            syllable = flat + syllable[len(sharp) :]
            break
    for long, short in _FUZZY_FINALS:
        if syllable.endswith(long):
            syllable = syllable[: -len(long)] + short
            break
    return syllable


def default_key(name: Syllables) -> str:
    """The most common reading of each syllable: the key blocking uses."""
    return "".join(s[0] for s in name)


def fuzzy_key(name: Syllables) -> str:
    return "".join(fuzzy(s[0]) for s in name)


def agreement(a: Syllables, b: Syllables) -> str:
    """How two names agree: 'pinyin' (every syllable shares a reading), 'fuzzy' (only with
    fuzzy readings), 'reordered' (given name first on one side), 'partial', or 'none'."""
    if not a or not b:
        return "missing"
    if a == b:
        return "pinyin"
    same_length = len(a) == len(b)
    surname = False
    if same_length:
        # Most candidates are other people: a surname that differs even fuzzily settles it fast.
        surname = _meet(a[0], b[0], exact=False)
        if surname:
            if all(_meet(x, y, exact=True) for x, y in zip(a, b, strict=True)):
                return "pinyin"
            if all(_meet(x, y, exact=False) for x, y in zip(a[1:], b[1:], strict=True)):
                return "fuzzy"
    if len(a) > 1 and len(b) > 1 and (_same(a, b[1:] + b[:1]) or _same(a[1:] + a[:1], b)):
        return "reordered"
    shared_given = same_length and any(_meet(x, y, exact=False) for x, y in zip(a[1:], b[1:], strict=True))
    if shared_given and surname and len(a) > 2:
        return "partial"  # surname and one of two given syllables: often siblings
    return "none"


@lru_cache(maxsize=50_000)
def _fuzzy_set(readings: tuple[str, ...]) -> frozenset[str]:
    return frozenset(fuzzy(r) for r in readings)


def _meet(x: tuple[str, ...], y: tuple[str, ...], exact: bool) -> bool:
    if x[0] == y[0] or any(r in y for r in x):
        return True
    return not exact and not _fuzzy_set(x).isdisjoint(_fuzzy_set(y))


def _same(a: Syllables, b: Syllables) -> bool:
    """Every syllable meets, fuzzily."""
    return len(a) == len(b) and all(_meet(x, y, exact=False) for x, y in zip(a, b, strict=True))
