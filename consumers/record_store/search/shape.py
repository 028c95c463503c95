"""`_summary` and `_elements`: the parts of each resource a search returns. A shortened resource is tagged
SUBSETTED, as the specification asks, so nobody takes it for the whole record."""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Any

from hub.core.fhir_search import SearchError

SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED",
             "display": "subsetted"}
SUMMARIES = ("true", "false", "text", "data", "count")
_ALWAYS = ("resourceType", "id", "meta")


@lru_cache(maxsize=64)
def summary_elements(resource_type: str) -> frozenset[str]:
    """The elements the R4 specification marks as part of the summary (isSummary), from fhir.resources' models."""
    module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
    model = getattr(module, resource_type)
    names: set[str] = set()
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if extra.get("summary_element_property"):
            names.add(info.alias or name)
    return frozenset(names)


def check(summary: str | None, elements: str | None) -> None:
    if summary is not None and summary not in SUMMARIES:
        raise SearchError("_summary", f"_summary must be one of {', '.join(SUMMARIES)}, not {summary!r}")
    if elements is not None and summary not in (None, "false"):
        raise SearchError("_elements", "_elements and _summary cannot be combined")


def shaped(resource: dict[str, Any], summary: str | None, elements: str | None) -> dict[str, Any]:
    """The resource as `_summary` / `_elements` ask (both already checked)."""
    if elements:
        keep = {e.strip().split(".")[0] for e in elements.split(",") if e.strip()}
        return _subset(resource, keep)
    match summary:
        case "true":
            return _subset(resource, summary_elements(resource["resourceType"]))
        case "text":
            return _subset(resource, {"text"})
        case "data":
            return _subset(resource, set(resource) - {"text"}) if "text" in resource else resource
    return resource


def _subset(resource: dict[str, Any], keep: set[str] | frozenset[str]) -> dict[str, Any]:
    out = {k: v for k, v in resource.items() if k in keep or k in _ALWAYS}
    meta = dict(out.get("meta") or {})
    meta["tag"] = [*(meta.get("tag") or []), SUBSETTED]
    out["meta"] = meta
    return out
