"""Blocking keys: a record is only scored against records sharing at least one key.

Each key tolerates a different error, so one wrong field does not hide a match:
  n  fuzzy pinyin name + birth year       (day/month swapped or mistyped, phone changed)
  m  fuzzy pinyin name + day and month    (year mistyped)
  v  fuzzy pinyin name + village          (birth date missing or wrong)
  b  sex + birth date, day and month unordered  (name in other characters, or in pinyin);
     a record without sex goes into both sexes' blocks
  p  phone number                         (name and birth date both unreliable)
"""

from __future__ import annotations

from functools import lru_cache

from consumers.record_store.matching import names
from consumers.record_store.matching.features import Features


@lru_cache(maxsize=8192)  # a record's keys are needed to prefetch, to match and to store
def blocking_keys(f: Features) -> tuple[str, ...]:
    keys: list[str] = []
    name = names.fuzzy_key(f.name) if f.name else ""
    day_month = "".join(sorted((f.birth[4:6], f.birth[6:8]))) if f.birth else ""
    if name and f.birth:
        keys.append(f"n:{name}:{f.birth[:4]}")
        keys.append(f"m:{name}:{day_month}")
    if name and f.village:
        keys.append(f"v:{name}:{f.village}")
    if f.birth:
        for sex in (f.sex[:1],) if f.sex else ("m", "f"):
            keys.append(f"b:{sex}{f.birth[:4]}{day_month}")
    keys.extend(f"p:{phone}" for phone in f.phones)
    return tuple(k[:120] for k in keys)
