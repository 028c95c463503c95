"""Reading review rules from YAML text: one or more documents (a shipped folder is its files joined with
`---`), each a mapping with `version` (the first only), `settings` and `rules`. Every rule has id, kind,
text {zh, en}, severity, action and source; the kind's own fields are read by its check module.

A mistake stops the load with one sentence naming the place (file:line and rule id) and the problem, so a
pharmacist who edited a rule can find and fix it.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from consumers.pharmacy.review.errors import ReviewRulesError
from consumers.pharmacy.review.model import ACTIONS, SEVERITIES

COMMON_FIELDS = {"id", "kind", "text", "severity", "action", "source"}
RULE_ID = re.compile(r"^[a-z][a-z0-9]*(?:[._-][A-Za-z0-9]+)*$")
ATC_CODE = re.compile(r"^[A-Z](?:\d\d(?:[A-Z](?:[A-Z](?:\d\d)?)?)?)?$")  # any ATC level, e.g. J, J01, J01C, J01CA04
ATC_LEVEL_LENGTH = {1: 1, 2: 3, 3: 4, 4: 5, 5: 7}


class _Located(dict):
    """A YAML mapping that remembers the (1-based, whole-text) line it starts on."""

    line = 0


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _Located:
    loader.flatten_mapping(node)
    mapping = _Located()
    mapping.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise yaml.constructor.ConstructorError(None, None, f"key {key!r} is given twice", key_node.start_mark)
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass(frozen=True)
class Settings:
    """Rule data that is not a rule: where childhood and old age start, how old a lab value may be."""

    adult_age: float = 18
    elderly_age: float = 65
    lab_max_age_days: float = 90


SETTING_FIELDS = {"adult_age", "elderly_age", "lab_max_age_days"}


@dataclass(frozen=True)
class Rule:
    """The fields every rule has, and where it was written."""

    id: str
    kind: str
    text_zh: str
    text_en: str
    severity: str
    action: str
    source: str
    where: str  # 'file:line'
    data: Mapping[str, Any] = field(default_factory=dict)  # the rule as written, for the page


class Entry:
    """One rule mapping being read: typed getters that fail with the rule's place in the message."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        self.data, self.where = data, where
        self.id = str(data.get("id") or "?")

    def fail(self, problem: str) -> ReviewRulesError:
        return ReviewRulesError(f"review rules {self.where}: rule {self.id}: {problem}")

    def has(self, name: str) -> bool:
        return self.data.get(name) is not None

    def text(self, name: str, required: bool = True) -> str | None:
        value = self.data.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{name} must be a non-empty text")
        return value.strip()

    def number(self, name: str, value: Any = None, minimum: float = 0, where: str | None = None) -> float | None:
        value = self.data.get(name) if value is None else value
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
                or value < minimum:
            raise self.fail(f"{where or name} must be a number >= {minimum:g}, not {value!r}")
        return float(value)

    def choice(self, name: str, choices: tuple[str, ...], default: str | None = None) -> str:
        value = self.data.get(name, default)
        if value not in choices:
            raise self.fail(f"{name} must be one of {', '.join(choices)}, not {value!r}")
        return str(value)

    def words(self, name: str, required: bool = True) -> tuple[str, ...]:
        """A text or a list of texts (routes, forms)."""
        value = self.data.get(name)
        if value is None and not required:
            return ()
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(i, str) and i.strip() for i in items):
            raise self.fail(f"{name} must be a text or a non-empty list of texts")
        return tuple(i.strip() for i in items)

    def atc(self, name: str, required: bool = True) -> tuple[str, ...]:
        """ATC codes or class prefixes (J01CA04, J01C, M01A)."""
        codes = self.words(name, required)
        for code in codes:
            if not ATC_CODE.match(code):
                raise self.fail(f"{name}: {code!r} is not an ATC code or class prefix (e.g. J01CA04 or J01C)")
        return codes

    def mapping(self, name: str, keys: set[str], required: bool = False) -> Mapping[str, Any] | None:
        value = self.data.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, Mapping):
            raise self.fail(f"{name} must be a mapping with some of: {', '.join(sorted(keys))}")
        extra = sorted(set(value) - keys)
        if extra:
            raise self.fail(f"{name}: unknown field {extra[0]!r}; fields: {', '.join(sorted(keys))}")
        return value


@dataclass(frozen=True)
class KindReader:
    """How one kind of rule is read: its own fields and the parser that turns an Entry into its rule."""

    fields: set[str]
    parse: Callable[[Entry, Rule], Any]


@dataclass(frozen=True)
class ParsedRules:
    label: str  # the `version:` written at the top
    settings: Settings
    rules: tuple[Any, ...]  # kind rules, each with a `.rule` (Rule)
    text: str
    version: str  # label + content hash


def content_version(label: str, text: str) -> str:
    return f"{label}+{hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]}"


def parse_text(text: str, locate: Callable[[int], str], kinds: Mapping[str, KindReader]) -> ParsedRules:
    """Rules from YAML text; `locate(line)` names a line of the text ('file:line') for messages."""
    try:
        documents = [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        place = locate(mark.line + 1) if mark is not None else locate(1)
        raise ReviewRulesError(f"review rules {place}: not valid YAML ({exc.problem or exc.context})") from None
    except yaml.YAMLError as exc:
        raise ReviewRulesError(f"review rules {locate(1)}: not valid YAML ({exc})") from None
    if not documents:
        raise ReviewRulesError(f"review rules {locate(1)}: empty; expected version, settings and rules")
    label: str | None = None
    settings: dict[str, float] = {}
    rules: list[Any] = []
    seen: dict[str, str] = {}
    for document in documents:
        line = getattr(document, "line", 1)
        if not isinstance(document, Mapping):
            raise ReviewRulesError(f"review rules {locate(line)}: a document must be a mapping with version, "
                                   "settings and rules")
        extra = sorted(set(document) - {"version", "settings", "rules"})
        if extra:
            raise ReviewRulesError(f"review rules {locate(line)}: unknown section {extra[0]!r}; sections: "
                                   "version, settings, rules")
        if "version" in document:
            if label is not None:
                raise ReviewRulesError(f"review rules {locate(line)}: version is given twice; give it once, "
                                       "at the top")
            if not isinstance(document["version"], str | int | float) or not str(document["version"]).strip():
                raise ReviewRulesError(f"review rules {locate(line)}: version must be a text such as '2026.1'")
            label = str(document["version"]).strip()
        settings.update(_settings(document.get("settings"), locate(line)))
        entries = document.get("rules") or []
        if not isinstance(entries, list):
            raise ReviewRulesError(f"review rules {locate(line)}: rules must be a list")
        for raw in entries:
            rule = _rule(raw, locate(getattr(raw, "line", line)), kinds)
            if rule.rule.id in seen:
                raise ReviewRulesError(f"review rules {rule.rule.where}: rule {rule.rule.id}: id is used twice "
                                       f"(also at {seen[rule.rule.id]})")
            seen[rule.rule.id] = rule.rule.where
            rules.append(rule)
    if label is None:
        raise ReviewRulesError(f"review rules {locate(1)}: no version; start the rules with e.g. version: '2026.1'")
    if not rules:
        raise ReviewRulesError(f"review rules {locate(1)}: no rules")
    return ParsedRules(label, Settings(**settings), tuple(rules), text, content_version(label, text))


def _settings(raw: Any, where: str) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ReviewRulesError(f"review rules {where}: settings must be a mapping")
    extra = sorted(set(raw) - SETTING_FIELDS)
    if extra:
        raise ReviewRulesError(f"review rules {where}: settings: unknown field {extra[0]!r}; fields: "
                               f"{', '.join(sorted(SETTING_FIELDS))}")
    for name, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ReviewRulesError(f"review rules {where}: settings.{name} must be a positive number, not {value!r}")
    return {str(k): float(v) for k, v in raw.items()}


def _rule(raw: Any, where: str, kinds: Mapping[str, KindReader]) -> Any:
    if not isinstance(raw, Mapping):
        raise ReviewRulesError(f"review rules {where}: each rule must be a mapping with id, kind, text, "
                               "severity, action and source")
    entry = Entry(raw, where)
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not RULE_ID.match(rule_id):
        raise entry.fail("id must be a dotted name of letters, digits, '-' or '_' such as "
                         "'interaction.warfarin-aspirin'")
    kind = str(raw.get("kind"))
    if kind not in kinds:
        raise entry.fail(f"unknown kind {raw.get('kind')!r}; kinds: {', '.join(sorted(kinds))}")
    reader = kinds[kind]
    extra = sorted(set(raw) - COMMON_FIELDS - reader.fields)
    if extra:
        raise entry.fail(f"unknown field {extra[0]!r} for kind {kind}; fields: "
                         f"{', '.join(sorted(COMMON_FIELDS | reader.fields))}")
    text = raw.get("text")
    if not isinstance(text, Mapping) or not all(isinstance(text.get(k), str) and text[k].strip()
                                                for k in ("zh", "en")):
        raise entry.fail("text must give zh and en (what the prescriber and pharmacist read)")
    source = raw.get("source")
    if not isinstance(source, str) or not source.strip():
        raise entry.fail("source is missing; name the label, formulary or guideline the rule comes from")
    common = Rule(rule_id, kind, text["zh"].strip(), text["en"].strip(), entry.choice("severity", SEVERITIES),
                  entry.choice("action", ACTIONS), source.strip(), where, dict(raw))
    return reader.parse(entry, common)
