"""The values a resource is found by: one row of fhir_search_index per value of each `index` parameter.

Strings are kept normalised (NFKC, case-folded, accents dropped) for FHIR's starts-with and :contains
matching, and once more as written for :exact. Names in characters are also indexed by their full pinyin
and pinyin initials, so `name=wangxiuying` and `name=wxy` find 王秀英.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from consumers.record_store.matching.names import syllables
from consumers.record_store.search.parameters import SearchParam, indexed
from hub.core.fhir_search import value_range

VALUE_MAX = 200  # the column's width: longer values are cut (a prefix still finds them)
SYSTEM_MAX = 200
_SPACES = re.compile(r"\s+")
_PHONE_JUNK = re.compile(r"[\s\-().]")


class Entry(NamedTuple):
    """A tuple, not a dataclass: a resource yields dozens, each hashed to drop repeats, and a tuple's
    hash and construction run in C."""

    param: str
    system: str | None = None
    value: str | None = None  # normalised string, token code, or the referenced id
    exact: str | None = None  # the string as written, for :exact
    low: datetime | None = None
    high: datetime | None = None  # exclusive end of the value's precision


# Names and places repeat (a community record repeats its members' values), so their normal and pinyin
# forms are remembered. Plain str -> str dicts, emptied when full: the garbage collector never walks
# them (an lru_cache keeps a tracked node per entry, which slowed every full collection of the process).
_CACHE_MAX = 65_536
_normal: dict[str, str] = {}
_pinyin: dict[str, str] = {}  # "full initials", or "" for text that is not a name in characters


def normalise(text: str) -> str:
    """FHIR string matching: case and accent insensitive, spaces collapsed."""
    found = _normal.get(text)
    if found is None:
        decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
        plain = "".join(c for c in decomposed if not unicodedata.combining(c))
        found = _SPACES.sub(" ", unicodedata.normalize("NFC", plain).casefold()).strip()
        _remember(_normal, text, found)
    return found


def _remember(cache: dict[str, str], key: str, value: str) -> None:
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[key] = value


def phone_digits(value: str) -> str:
    """A phone number as its digits, without China's +86 / 0086 prefix: 138-1234-5678 = +86 13812345678."""
    digits = _PHONE_JUNK.sub("", value)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix) and len(digits) > len(prefix) + 6:
            return digits[len(prefix):]
    if len(digits) == 13 and digits.startswith("861"):  # a mobile number after 86, its + lost in a URL
        return digits[2:]
    return digits


def pinyin_forms(text: str) -> list[str]:
    """Full pinyin and initials of a name in characters ('王秀英' -> ['wangxiuying', 'wxy']); [] otherwise."""
    found = _pinyin.get(text)
    if found is None:
        found = " ".join(_pinyin_of(text))
        _remember(_pinyin, text, found)
    return found.split(" ") if found else []


def _pinyin_of(text: str) -> list[str]:
    found, in_characters = syllables(text)
    if not in_characters or not found:
        return []
    readings = [options[0] for options in found if options and options[0].isascii()]
    if len(readings) != len(found):
        return []
    return ["".join(readings), "".join(r[0] for r in readings)]


# A step of a path: the element's name, and an optional [key=value] condition on the items.
Step = tuple[str, str, str]


def entries(resource: dict[str, Any]) -> list[Entry]:
    """Every index row of the resource, without repeats."""
    found: dict[Entry, None] = {}
    for param, paths in _compiled(str(resource.get("resourceType"))):
        for steps in paths:
            for node in _follow([resource], steps):
                for entry in _values(param, node):
                    found[_clipped(entry)] = None
    return list(found)


@cache
def _compiled(resource_type: str) -> tuple[tuple[SearchParam, tuple[tuple[Step, ...], ...]], ...]:
    """The type's indexed parameters with their paths parsed once (the table is fixed at import)."""
    def parsed(path: str) -> tuple[Step, ...]:
        steps = []
        for step in path.split("."):
            name, _, condition = step.partition("[")
            key, _, wanted = condition.rstrip("]").partition("=")
            steps.append((name, key, wanted))
        return tuple(steps)

    return tuple((param, tuple(parsed(alternative) for path in param.paths for alternative in path.split("|")))
                 for param in indexed(resource_type))


def _clipped(entry: Entry) -> Entry:
    if (entry.value is None or len(entry.value) <= VALUE_MAX) and (entry.exact is None or len(entry.exact) <= VALUE_MAX) \
            and (entry.system is None or len(entry.system) <= SYSTEM_MAX):
        return entry
    return Entry(entry.param, entry.system[:SYSTEM_MAX] if entry.system else None,
                 entry.value[:VALUE_MAX] if entry.value else None, entry.exact[:VALUE_MAX] if entry.exact else None,
                 entry.low, entry.high)


def _follow(nodes: list[Any], steps: tuple[Step, ...]) -> list[Any]:
    for name, key, wanted in steps:
        following: list[Any] = []
        for node in nodes:
            value = node.get(name) if isinstance(node, dict) else None
            for item in value if isinstance(value, list) else [value]:
                if item is None:
                    continue
                if key and not (isinstance(item, dict) and item.get(key) == wanted):
                    continue
                following.append(item)
        nodes = following
    return nodes


def _values(param: SearchParam, node: Any) -> list[Entry]:
    match param.kind:
        case "string":
            return _strings(param.name, node)
        case "token":
            return _tokens(param.name, node)
        case "date":
            return _dates(param.name, node)
        case "reference":
            return _references(param.name, node)
        case "uri":
            return [Entry(param.name, value=node)] if isinstance(node, str) and node else []
    return []


def _string(param: str, text: Any, pinyin: bool = False) -> list[Entry]:
    if not isinstance(text, str) or not text.strip():
        return []
    out = [Entry(param, value=normalise(text), exact=text)]
    if pinyin:
        out += [Entry(param, system="pinyin", value=form) for form in pinyin_forms(text)]
    return out


def _strings(param: str, node: Any) -> list[Entry]:
    if isinstance(node, str):
        return _string(param, node, pinyin=param in ("family", "given"))
    if not isinstance(node, dict):
        return []
    is_address = param.startswith("address") or any(k in node for k in ("line", "city", "district", "state"))
    if not is_address and ("family" in node or "given" in node or "text" in node):
        # A HumanName: each part, the whole as written, and family+given run together as Chinese is written.
        family = node.get("family") if isinstance(node.get("family"), str) else ""
        given = [g for g in node.get("given") or [] if isinstance(g, str)]
        out: list[Entry] = []
        for part in (node.get("text"), family, *given, *(node.get("prefix") or []), *(node.get("suffix") or [])):
            out += _string(param, part, pinyin=True)
        if family and given:
            out += _string(param, family + "".join(given), pinyin=True)
        return out
    # An Address: each part, and the whole from the province down, as a Chinese address is written.
    parts = [node.get(k) for k in ("state", "city", "district")] + list(node.get("line") or []) + [node.get("text")]
    out = []
    for part in (*parts, node.get("postalCode"), node.get("country")):
        out += _string(param, part)
    written = [p for p in parts[:-1] if isinstance(p, str) and p]
    if written and not any(p.isascii() for p in written):  # 河南省信阳市光山县…, also from the city or district down
        for start in range(len(written) - 1):
            out += _string(param, "".join(written[start:]))
    return out


def _tokens(param: str, node: Any) -> list[Entry]:
    if isinstance(node, bool):
        return [Entry(param, value="true" if node else "false")]
    if isinstance(node, str):
        return [Entry(param, value=node)] if node else []
    if not isinstance(node, dict):
        return []
    if "coding" in node or "text" in node and "value" not in node:  # CodeableConcept
        return [e for coding in node.get("coding") or [] for e in _tokens(param, coding)]
    if "code" in node:  # Coding
        return [Entry(param, system=str(node.get("system") or "") or None, value=str(node["code"]))]
    if "value" in node and isinstance(node["value"], str):  # Identifier or ContactPoint
        if node.get("system") in ("phone", "sms", "fax"):
            return [Entry(param, system=None, value=phone_digits(node["value"]))]
        system = node.get("system") if isinstance(node.get("system"), str) else None
        contact = system in ("email", "url", "other", "pager")
        return [Entry(param, system=None if contact else system, value=node["value"])]
    return []


def _dates(param: str, node: Any) -> list[Entry]:
    if isinstance(node, str):
        found = value_range(node)
        return [Entry(param, low=found[0], high=found[1])] if found else []
    if isinstance(node, dict) and ("start" in node or "end" in node):  # Period
        start = value_range(node["start"]) if isinstance(node.get("start"), str) else None
        end = value_range(node["end"]) if isinstance(node.get("end"), str) else None
        # Members rarely send the end of a finished visit: a period with one end is taken as that moment,
        # so `date=ge2026-11-01` does not return every visit of past years.
        start, end = start or end, end or start
        if start is None or end is None:
            return []
        return [Entry(param, low=start[0], high=end[1])]
    return []


def _references(param: str, node: Any) -> list[Entry]:
    """A reference as (type, id), whether relative, absolute or versioned."""
    reference = node.get("reference") if isinstance(node, dict) else None
    if not isinstance(reference, str):
        return []
    parts = reference.split("/_history/")[0].rstrip("/").split("/")
    if len(parts) < 2 or not parts[-2] or not parts[-1]:
        return []
    return [Entry(param, system=parts[-2], value=parts[-1])]
