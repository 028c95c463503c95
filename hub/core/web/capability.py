"""The CapabilityStatement, generated from the routes that serve FHIR: each FHIR route declares what it
serves (`declares(...)` in its `openapi_extra`), and `GET /fhir/metadata` gathers the declarations of the
routes the app actually has. Nothing is written beside the code it describes, so the statement cannot
claim a route that is not there or miss one that is."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi.routing import APIRoute

from hub.core.web.fall_through import every_route

KEY = "x-fhir"
TYPE_LEVEL = ("read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create",
              "search-type")
SYSTEM_LEVEL = ("transaction", "batch", "search-system", "history-system")


def declares(interaction: str, types: Iterable[str] = (), *, operation: str | None = None,
             definition: str | None = None, search: Mapping[str, Sequence[Mapping[str, str]]] | None = None,
             includes: Mapping[str, Sequence[str]] | None = None, revincludes: Mapping[str, Sequence[str]] | None = None,
             documentation: str | None = None) -> dict[str, Any]:
    """A route's `openapi_extra`: the FHIR interaction it serves, for which resource types (none: the whole
    system); an operation's name and canonical definition; a search's parameters per type."""
    if interaction not in (*TYPE_LEVEL, *SYSTEM_LEVEL, "operation"):
        raise ValueError(f"{interaction!r} is not a FHIR RESTful interaction")
    declaration: dict[str, Any] = {"interaction": interaction, "types": list(types)}
    if operation:
        declaration["operation"] = {"name": operation, "definition": definition or ""}
    if search:
        declaration["search"] = {t: [dict(p) for p in params] for t, params in search.items()}
    if includes:
        declaration["includes"] = {t: list(v) for t, v in includes.items()}
    if revincludes:
        declaration["revincludes"] = {t: list(v) for t, v in revincludes.items()}
    if documentation:
        declaration["documentation"] = documentation
    return {KEY: [declaration]}


def search_params(resource_type: str, **params: tuple[str, str]) -> dict[str, list[dict[str, str]]]:
    """`search=` for a route's own few parameters: name=(type, documentation)."""
    return {resource_type: [{"name": name.replace("_", "-"), "type": kind, "documentation": doc}
                            for name, (kind, doc) in params.items()]}


def both(*extras: dict[str, Any]) -> dict[str, Any]:
    """One route serving several interactions (POST /fhir: batch and transaction)."""
    return {KEY: [d for extra in extras for d in extra[KEY]]}


def declarations(routes: list[Any]) -> list[dict[str, Any]]:
    return [declared for route in every_route(routes)
            if isinstance(route, APIRoute) and route.openapi_extra and KEY in route.openapi_extra
            for declared in route.openapi_extra[KEY]]


def statement(routes: list[Any], base: str, software: str, version: str, date: str) -> dict[str, Any]:
    """The CapabilityStatement of what `routes` serve."""
    resources: dict[str, dict[str, Any]] = {}
    system_interactions: list[str] = []
    system_operations: dict[str, dict[str, str]] = {}

    def resource(kind: str) -> dict[str, Any]:
        return resources.setdefault(kind, {"type": kind, "interaction": [], "searchParam": [], "operation": []})

    for declared in declarations(routes):
        interaction, types = declared["interaction"], declared["types"]
        if interaction == "operation":
            op = {"name": declared["operation"]["name"], "definition": declared["operation"]["definition"]}
            if declared.get("documentation"):
                op["documentation"] = declared["documentation"]
            if not types:
                system_operations.setdefault(op["name"], op)
            for kind in types:
                if op["name"] not in {o["name"] for o in resource(kind)["operation"]}:
                    resource(kind)["operation"].append(op)
            continue
        if not types:
            if interaction not in system_interactions:
                system_interactions.append(interaction)
            continue
        for kind in types:
            entry = resource(kind)
            if interaction not in {i["code"] for i in entry["interaction"]}:
                entry["interaction"].append({"code": interaction})
            known = {p["name"] for p in entry["searchParam"]}
            for param in (declared.get("search") or {}).get(kind, []):
                if param["name"] not in known:
                    entry["searchParam"].append(param)
                    known.add(param["name"])
            for field, source in (("searchInclude", "includes"), ("searchRevInclude", "revincludes")):
                values = (declared.get(source) or {}).get(kind)
                if values:
                    entry[field] = sorted(set(entry.get(field, [])) | set(values))
    listed = []
    for kind in sorted(resources):
        entry = {k: v for k, v in resources[kind].items() if v}
        codes = {i["code"] for i in entry.get("interaction", [])}
        if "vread" in codes:
            entry["versioning"] = "versioned"
            entry["readHistory"] = True
        if "read" in codes:
            entry["conditionalRead"] = "full-support"
        listed.append(entry)
    rest: dict[str, Any] = {
        "mode": "server",
        "security": {"cors": False, "description": "A bearer token (programs: `hub token create`) or a page "
                     "session; every read is scoped by role and facility, audited and masked for the role.",
                     "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                              "code": "OAuth", "display": "OAuth"}], "text": "Bearer token"}]},
        "resource": listed,
    }
    if system_interactions:
        rest["interaction"] = [{"code": code} for code in system_interactions]
    if system_operations:
        rest["operation"] = list(system_operations.values())
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "County medical community hub",
        "kind": "instance",
        "software": {"name": software, "version": version},
        "implementation": {"description": "The county medical community hub's FHIR R4 server", "url": f"{base}/fhir"},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [rest],
    }
