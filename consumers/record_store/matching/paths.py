"""A small FHIRPath subset for naming what a rule compares: `name[0].family`, `address.line`,
`identifier.where(system='http://example.org/insurance').value`, `telecom.where(system='phone').value`,
`name.given.first()`.

Steps are element names, optionally indexed (`[0]`); `.where(key='value')` (and `and` of several)
keeps the items whose element equals the literal; `.first()` keeps the first item. Lists are
flattened as FHIRPath does, so `name.given` is every given name of every name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hub.core.errors import PermanentError


class PathError(PermanentError, ValueError):
    """A path outside the supported subset; the message names the path and the part."""


_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_STEP = re.compile(rf"({_NAME})(?:\[(\d+)\])?")
_TEST = re.compile(rf"^({_NAME}(?:\.{_NAME})*)\s*=\s*'((?:[^'\\]|\\.)*)'$")


@dataclass(frozen=True)
class _Step:
    kind: str  # element | where | first
    name: str = ""
    index: int | None = None
    tests: tuple[tuple[tuple[str, ...], str], ...] = ()


@dataclass(frozen=True)
class Path:
    text: str
    steps: tuple[_Step, ...]

    def values(self, resource: dict[str, Any]) -> list[Any]:
        """Every value the path reaches in the resource (primitives or nested elements), in order."""
        items: list[Any] = [resource]
        for step in self.steps:
            if step.kind == "first":
                items = items[:1]
            elif step.kind == "where":
                items = [i for i in items if isinstance(i, dict) and all(_equals(i, p, v) for p, v in step.tests)]
            else:
                found: list[Any] = []
                for item in items:
                    value = item.get(step.name) if isinstance(item, dict) else None
                    children = value if isinstance(value, list) else ([] if value is None else [value])
                    if step.index is not None:
                        children = children[step.index : step.index + 1]
                    found.extend(children)
                items = found
        return [i for i in items if i not in (None, "", [], {})]


def _equals(item: dict[str, Any], path: tuple[str, ...], literal: str) -> bool:
    value: Any = item
    for name in path:
        value = value.get(name) if isinstance(value, dict) else None
    if isinstance(value, bool | int | float):
        return str(value).lower() == literal.lower()  # where(active='true')
    return value == literal


def parse(text: str) -> Path:
    """Parses a path; a PathError names the part that is not understood."""
    rest = text.strip()
    if rest.startswith("Patient."):
        rest = rest[len("Patient.") :]
    steps: list[_Step] = []
    while rest:
        if rest.startswith("where("):
            depth, end = 0, -1
            for i, c in enumerate(rest):  # the closing parenthesis (literals may hold parentheses)
                depth += c == "("
                depth -= c == ")"
                if depth == 0 and c == ")":
                    end = i
                    break
            if end < 0:
                raise PathError(f"path {text!r}: unclosed where(")
            tests = []
            for test in re.split(r"\s+and\s+", rest[len("where(") : end]):
                found = _TEST.match(test.strip())
                if found is None:
                    raise PathError(f"path {text!r}: where() takes element='literal' (joined by and), not {test!r}")
                tests.append((tuple(found.group(1).split(".")), found.group(2).replace("\\'", "'")))
            steps.append(_Step("where", tests=tuple(tests)))
            rest = rest[end + 1 :]
        elif rest.startswith("first()"):
            steps.append(_Step("first"))
            rest = rest[len("first()") :]
        else:
            match = _STEP.match(rest)
            if match is None:
                raise PathError(f"path {text!r}: cannot read {rest!r} (supported: element, element[n], "
                                "where(element='literal'), first())")
            steps.append(_Step("element", match.group(1), int(match.group(2)) if match.group(2) else None))
            rest = rest[match.end() :]
        if rest.startswith("."):
            rest = rest[1:]
            if not rest:
                raise PathError(f"path {text!r}: ends with a dot")
        elif rest:
            raise PathError(f"path {text!r}: expected a dot before {rest!r}")
    if not steps:
        raise PathError("an empty path names nothing")
    return Path(text, tuple(steps))
