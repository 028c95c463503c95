"""The declarative mapping language: a vendor's HIS rows to FHIR R4 resources. Pure; no I/O but
loading the YAML.

A mapping file (see mappings/vendor_a.yaml) has `code_tables` and `tables`. Each table entry names
the source table, its primary key, its change-time column (`change`) and that column's format,
the hub event type, the patient id column, and a FHIR JSON `resource` template. An optional
`children` entry joins detail rows (lab items) rendered with their own template into `related`.

In a template, every string leaf is evaluated:
  "$COL"                     the column's value (None when empty)
  "$COL|t1|t2:arg"           the value through transforms, left to right
  "text {facility} ${COL}"   interpolation; None when any referenced column is empty
  anything else              a constant
Transforms: strip, upper, lower, int, number, id (a record number inside an id), date:FMT (to FHIR date),
datetime:FMT (to FHIR dateTime, in the file's timezone), code:TABLE (required: an unmapped local
code rejects the row), code?:TABLE (optional: an unmapped code is kept as a local coding and
reported), known:TABLE (the table's entry, or nothing for a code not in it), term:SECTION (a
community code to its FHIR coding, see below), display:COL (the column's text as the display of a
kept local coding that has none), quantity (text such as "0.5g" or "2片" to a FHIR Quantity),
then:TEXT (TEXT when the value is present), family / given (split a Chinese name), default:VALUE.

Dict keys whose value is None or empty are dropped, as are None items of lists, so optional
columns need no special syntax. A key ending in "!" is required by its object: when its value is
empty the whole object is dropped (an identifier with no value, a telecom with no number).
A bare "$COL" gives text; transforms give other types.

Community terms. Drugs, lab tests, lab panels and diagnoses are not spelled out in a mapping file:
their facts live once in the community terminology (hub/core/terminology.yaml, sections drugs,
lab_tests, lab_panels, diagnoses). A vendor's code table maps only its local codes to community
codes, and `term:SECTION` turns the community code into the term's coding (system, code, display):
  code_tables: {drug: {WA-0001: D0001}}
  medicationCodeableConcept: {coding: ["$drug_code|code:drug|term:drugs"]}
A table entry may still be a whole coding (a hospital-made drug with no community term); `term`
passes a coding through unchanged, as it does the local coding `code?:` keeps for an unmapped code.
A local drug code nobody mapped is not an error that loses the prescription: `code?:drug` keeps it as
the member's own coding (system urn:hub:code:local-drug:<facility>, display from `display:COL`), the
event is flagged `unmapped-local-drug-code`, and the central pharmacy's mapping queue takes it up.
Loading checks that every community code a `code:TABLE|term:SECTION` pair can give is in SECTION,
so a typo in a mapping file stops the connector at start, not row by row.

Resource ids and references are made valid FHIR ids after rendering (hub.core.identifiers.fhir_id, the
same rule as every other door): `{facility}-pat-${pat_id}` gives the same id here as over MLLP.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from connectors.his_db.times import parse_time
from hub.core.errors import PermanentError
from hub.core.identifiers import RESIDENT_ID, fhir_id, resident_id_valid
from hub.core.terminology import (
    LOCAL_DRUG,
    SECTIONS,
    UNMAPPED_DRUG_FLAG,
    Terminology,
    TerminologyFileError,
    community_terminology,
    local_drug_system,
)

BUILTIN_DIR = Path(__file__).resolve().parent / "mappings"
_INTERPOLATION = re.compile(r"\$\{([A-Za-z0-9_.]+)(\|[^}]*)?\}|\{facility\}")
_REFERENCE = re.compile(r"^([A-Z][A-Za-z]+)/(.+)$")
_QUANTITY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([^\d\s/%.]+)\s*$")  # "0.5g", "2 片", "10ml"; not "0.5g/100ml"
# FHIR Quantity codes for the units prescribers write (UCUM); a count unit (片, 粒, 袋) stays text.
_UCUM = {"mg": "mg", "g": "g", "μg": "ug", "ug": "ug", "ml": "mL", "mL": "mL", "IU": "[iU]", "U": "[iU]",
         "kg": "kg"}
_CHAINS = re.compile(r"\$\{[A-Za-z0-9_.]+((?:\|[^|}]*)*)\}")  # the transforms of each ${COL|...}
# Resources whose ids are made from a member's local numbers (Organization/{facility} is not).
MEMBER_RESOURCES = {"Patient", "Encounter", "MedicationRequest", "DiagnosticReport", "Observation",
                    "ServiceRequest", "ImagingStudy", "Task"}
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "司徒", "令狐")


class MappingError(PermanentError, ValueError):
    """A row that cannot be mapped; `column` names the source column when one is to blame."""

    def __init__(self, message: str, column: str | None = None) -> None:
        super().__init__(message)
        self.column = column


class MappingFileError(PermanentError, ValueError):
    """The mapping file itself is wrong."""


@dataclass(frozen=True)
class ChildSpec:
    table: str
    key: str
    join: str  # column of the child naming the parent's key
    resource: dict[str, Any]


@dataclass(frozen=True)
class TableSpec:
    name: str
    table: str
    key: str
    change: str
    change_format: str
    event: str
    patient: str
    resource: dict[str, Any]
    children: ChildSpec | None = None


@dataclass(frozen=True)
class VendorMapping:
    vendor: str
    timezone: str
    code_tables: dict[str, dict[str, Any]]
    tables: tuple[TableSpec, ...]
    source: str  # file path, for error messages
    terminology: Terminology
    sections: Mapping[str, str] = field(default_factory=dict)  # code table -> terminology section (term_tables)


@dataclass
class Mapped:
    resource: dict[str, Any]
    related: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


# Parsed mapping files by (path, modification time): the demo's 26 connectors share two mappings, and
# PyYAML's pure-Python parse of one took 0.4 s of a starting hub. Each caller gets its own copy.
_PARSED: dict[tuple[str, int], Any] = {}


def _parsed(path: Path) -> Any:
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    if key not in _PARSED:
        _PARSED[key] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return copy.deepcopy(_PARSED[key])


def load_mapping(name_or_path: str, base_dir: Path | None = None,
                 terminology: Terminology | None = None) -> VendorMapping:
    """A built-in mapping by name (vendor_a, vendor_b) or a YAML file path, checked against the
    community terminology (the shipped one unless given)."""
    path = Path(name_or_path)
    if not path.suffix:
        path = BUILTIN_DIR / f"{name_or_path}.yaml"
    elif not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    try:
        data = _parsed(path)
    except OSError as exc:
        known = ", ".join(sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml")))
        raise MappingFileError(f"cannot read mapping {name_or_path!r} ({exc.strerror}); built-in: {known}") from None
    except yaml.YAMLError as exc:
        raise MappingFileError(f"mapping file {path} is not valid YAML: {exc}") from None
    try:
        terms = terminology or community_terminology()
    except TerminologyFileError as exc:  # no mapping can be read without its terminology
        raise MappingFileError(str(exc)) from None
    try:
        tables = tuple(
            TableSpec(
                name=t["name"], table=t["table"], key=t["key"], change=t["change"],
                change_format=t.get("change_format", "%Y-%m-%d %H:%M:%S.%f"), event=t["event"],
                patient=t["patient"], resource=t["resource"],
                children=ChildSpec(**t["children"]) if t.get("children") else None,
            )
            for t in data["tables"]
        )
        mapping = VendorMapping(data["vendor"], data.get("timezone", "Asia/Shanghai"), data.get("code_tables", {}),
                                tables, str(path), terms)
    except (KeyError, TypeError) as exc:
        raise MappingFileError(f"mapping file {path}: missing or malformed entry {exc}") from None
    _check_terms(mapping)
    return replace(mapping, sections=term_tables(mapping))


def term_tables(mapping: VendorMapping) -> dict[str, str]:
    """Code tables whose entries are community codes, with the terminology section each one's
    `code:TABLE|term:SECTION` pair names."""
    pairs: dict[str, str] = {}
    for chain in _chains(mapping):
        for before, after in zip(chain, chain[1:], strict=False):
            table, section = before.partition(":")[2], after.partition(":")[2]
            if before.partition(":")[0] in ("code", "code?") and after.startswith("term:"):
                if pairs.get(table, section) != section:
                    raise MappingFileError(f"mapping file {mapping.source}: code table {table!r} is read as "
                                           f"both {pairs[table]} and {section}")
                pairs[table] = section
    return pairs


def _check_terms(mapping: VendorMapping) -> None:
    for transform in (t for chain in _chains(mapping) for t in chain):
        name, _, section = transform.partition(":")
        if name == "term" and section not in SECTIONS:
            raise MappingFileError(f"mapping file {mapping.source}: term:{section} names no section of the "
                                   f"community terminology ({', '.join(SECTIONS)})")
    for table, section in term_tables(mapping).items():
        entries = mapping.code_tables.get(table)
        if not isinstance(entries, dict):
            raise MappingFileError(f"mapping file {mapping.source}: no code table {table!r}")
        terms = mapping.terminology.section(section)
        for local, community in entries.items():
            if not isinstance(community, dict) and str(community) not in terms:
                raise MappingFileError(
                    f"mapping file {mapping.source}: code table {table!r} maps {local!r} to {community!r}, which is "
                    f"not in {section} of the community terminology {mapping.terminology.source}")


def _chains(mapping: VendorMapping) -> list[list[str]]:
    """The transform lists of every template of the mapping."""
    templates = [t for spec in mapping.tables
                 for t in (spec.resource, spec.children.resource if spec.children else None)]
    return [chain for template in templates for chain in _transform_chains(template)]


def _transform_chains(node: Any) -> list[list[str]]:
    """The transform lists of every "$COL|..." and "${COL|...}" in a template."""
    if isinstance(node, dict):
        return [c for v in node.values() for c in _transform_chains(v)]
    if isinstance(node, list):
        return [c for v in node for c in _transform_chains(v)]
    if not isinstance(node, str):
        return []
    if node.startswith("$") and not node.startswith("${"):
        return [node[1:].split("|")[1:]]
    return [m.group(1)[1:].split("|") for m in _CHAINS.finditer(node) if m.group(1)]


@dataclass(frozen=True)
class _Context:
    row: Mapping[str, Any]
    facility: str
    mapping: VendorMapping
    notes: list[str]


def render(template: Any, row: Mapping[str, Any], facility: str, mapping: VendorMapping,
           notes: list[str] | None = None) -> Any:
    return _compiled(template)(_Context(row, facility, mapping, notes if notes is not None else []))


# A template is turned into nested functions once (keyed by the template object, which lives as long
# as its mapping): walking the YAML tree and parsing "$COL|t1|t2" for every row was most of a row's cost.
Rendering = Callable[[_Context], Any]
_COMPILED: dict[int, tuple[Any, Rendering]] = {}
_EMPTY: tuple[Any, ...] = (None, "", [], {})


def _compiled(template: Any) -> Rendering:
    entry = _COMPILED.get(id(template))
    if entry is None or entry[0] is not template:
        entry = (template, _compile(template))
        _COMPILED[id(template)] = entry
    return entry[1]


def _compile(node: Any) -> Rendering:
    if isinstance(node, dict):
        fields = [(key[:-1] if key.endswith("!") else key, key.endswith("!"), _compile_field(key, value))
                  for key, value in node.items()]

        def render_dict(ctx: _Context) -> Any:
            out: dict[str, Any] = {}
            for key, required, part in fields:
                rendered = part(ctx)
                if rendered in _EMPTY:
                    if required:
                        return None
                    continue
                out[key] = rendered
            return out or None

        return render_dict
    if isinstance(node, list):
        parts = [_compile(v) for v in node]

        def render_list(ctx: _Context) -> Any:
            return [v for v in (part(ctx) for part in parts) if v not in _EMPTY] or None

        return render_list
    if isinstance(node, str):
        if node.startswith("$") and not node.startswith("${"):
            column, transforms = _column_and_transforms(node)

            def render_column(ctx: _Context) -> Any:
                value = _transform(_column(ctx, column), transforms, column, ctx)
                return str(value) if not transforms and value is not None and not isinstance(value, str) else value

            return render_column
        if "{" in node and _INTERPOLATION.search(node):
            return _compile_string(node)
    return lambda ctx: node


def _compile_field(key: str, value: Any) -> Rendering:
    part = _compile(value)
    if key.rstrip("!") != "reference":
        return part
    # A reference to a member resource names it by the id `fhir_id` makes of the rendered text, as
    # the resource's own id is (see `_fhir_id`): made here, once, as the row is rendered.
    return lambda ctx: _member_reference(part(ctx))


def _member_reference(value: Any) -> Any:
    if isinstance(value, list):
        return [_member_reference(v) for v in value]
    if isinstance(value, str) and (match := _REFERENCE.match(value)) and match.group(1) in MEMBER_RESOURCES:
        return f"{match.group(1)}/{fhir_id(match.group(2))}"
    return value


def _compile_string(text: str) -> Rendering:
    """An interpolated text, "text {facility} ${COL|t1}", split once into its literal pieces,
    None ({facility}) and (column, transforms) pieces; renders None for a row where one of its columns
    gives none."""
    pieces: list[str | tuple[str, Transforms] | None] = []
    start = 0
    for match in _INTERPOLATION.finditer(text):
        pieces.append(text[start:match.start()])
        if match.group(0) == "{facility}":
            pieces.append(None)
        else:
            pieces.append((match.group(1), _transforms_of(match.group(2)[1:].split("|")) if match.group(2) else []))
        start = match.end()
    pieces.append(text[start:])
    pieces = [piece for piece in pieces if piece != ""]

    def render_string(ctx: _Context) -> Any:
        out: list[str] = []
        missing = False
        for piece in pieces:
            if isinstance(piece, str):
                out.append(piece)
            elif piece is None:
                out.append(ctx.facility)
            else:
                column, transforms = piece
                # Every column is read, even after one gave nothing: a column the row lacks is an error.
                value = _transform(_column(ctx, column), transforms, column, ctx)
                if value is None:
                    missing = True
                else:
                    out.append(str(value))
        return None if missing else "".join(out)

    return render_string


Transforms = list[tuple[str, str]]  # (name, argument) of each "|name:argument", parsed once per template


@lru_cache(maxsize=4096)
def _column_and_transforms(text: str) -> tuple[str, Transforms]:
    """"$COL|t1|t2:a" -> ("COL", [("t1", ""), ("t2", "a")]), parsed once per template string (callers
    never change the list)."""
    column, *transforms = text[1:].split("|")
    return column, _transforms_of(transforms)


def _transforms_of(transforms: list[str]) -> Transforms:
    return [(name, arg) for name, _, arg in (t.partition(":") for t in transforms)]


def _column(ctx: _Context, column: str) -> Any:
    if column not in ctx.row:
        raise MappingError(f"the mapping names column {column!r}, which the row does not have", column)
    value = ctx.row[column]
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def _transform(value: Any, transforms: Transforms, column: str, ctx: _Context) -> Any:
    for name, arg in transforms:
        if name == "default":
            value = arg if value is None else value
            continue
        if value is None:
            return None
        try:
            value = _apply(name, arg, value, column, ctx)
        except MappingError:
            raise
        except (ValueError, TypeError) as exc:
            raise MappingError(f"column {column} value {value!r}: {name} failed ({exc})", column) from None
    return value


def _apply(name: str, arg: str, value: Any, column: str, ctx: _Context) -> Any:
    match name:
        case "strip":
            return str(value).strip() or None
        case "upper":
            return str(value).upper()
        case "lower":
            return str(value).lower()
        case "int":
            return int(str(value).strip())
        case "number":
            number = float(str(value).strip())
            return int(number) if number.is_integer() and "." not in str(value) else number
        case "id":
            # Kept as it is: the whole id is made a FHIR id after rendering (see `_fhir_id`), so
            # that `ABC_1` and `abc-1` stay two patients.
            text = str(value).strip()
            if not text:
                raise MappingError(f"column {column} value {value!r} gives an empty FHIR id", column)
            return text
        case "date":
            return parse_time(str(value).strip(), arg).date().isoformat()
        case "datetime":
            moment = parse_time(str(value).strip(), arg).replace(tzinfo=ZoneInfo(ctx.mapping.timezone))
            return moment.isoformat()
        case "code" | "code?":
            table = ctx.mapping.code_tables.get(arg)
            if table is None:
                raise MappingError(f"mapping {ctx.mapping.source} has no code table {arg!r}", column)
            key = str(value).strip()
            if key in table:
                return table[key]
            if name == "code":
                raise MappingError(
                    f"local code {key!r} in column {column} is not in code table {arg!r} of {ctx.mapping.source}",
                    column,
                )
            ctx.notes.append(f"unmapped local code {key!r} (column {column}, code table {arg}); kept as local coding")
            if ctx.mapping.sections.get(arg) == "drugs":  # the pharmacy's mapping queue reads this system
                return {"system": local_drug_system(ctx.facility), "code": key}
            return {"system": f"urn:hub:facility:{ctx.facility}:{arg}", "code": key}
        case "known":
            table = ctx.mapping.code_tables.get(arg)
            if table is None:
                raise MappingError(f"mapping {ctx.mapping.source} has no code table {arg!r}", column)
            return table.get(str(value).strip())
        case "display":
            if isinstance(value, dict) and "display" not in value:
                name = _column(ctx, arg)
                return {**value, "display": str(name).strip()} if name is not None else value
            return value
        case "quantity":
            match = _QUANTITY.match(str(value))
            if match is None:  # "0.5g/100ml", "适量": the text keeps it; no quantity is better than a wrong one
                ctx.notes.append(f"column {column} value {value!r} is not one number and a unit; no quantity")
                return None
            number, unit = float(match.group(1)), match.group(2)
            quantity: dict[str, Any] = {"value": int(number) if number.is_integer() else number, "unit": unit}
            if unit in _UCUM:
                quantity |= {"system": "http://unitsofmeasure.org", "code": _UCUM[unit]}
            return quantity
        case "then":
            return arg
        case "term":
            if isinstance(value, dict):  # already a coding: a table's own, or a kept local one
                return value
            if arg not in SECTIONS:
                raise MappingError(f"mapping {ctx.mapping.source}: term:{arg} names no terminology section", column)
            term = ctx.mapping.terminology.section(arg).get(str(value).strip())
            if term is None:
                raise MappingError(f"community code {value!r} in column {column} is not in {arg} of the community "
                                   f"terminology", column)
            return term.coding()
        case "family":
            text = str(value).strip()
            return text[:2] if text[:2] in COMPOUND_SURNAMES else text[:1]
        case "given":
            text = str(value).strip()
            rest = text[2:] if text[:2] in COMPOUND_SURNAMES else text[1:]
            return rest or None
    raise MappingError(f"unknown transform {name!r} in {ctx.mapping.source}", column)


def map_row(spec: TableSpec, row: Mapping[str, Any], children: Sequence[Mapping[str, Any]], facility: str,
            mapping: VendorMapping) -> Mapped:
    """One row (and its child rows) to a FHIR resource; raises MappingError for a row that cannot be mapped."""
    notes: list[str] = []
    resource = render(spec.resource, row, facility, mapping, notes)
    if not isinstance(resource, dict) or "resourceType" not in resource or not resource.get("id"):
        raise MappingError(f"table {spec.table}: the row gives no resource id (is {spec.key} empty?)", spec.key)
    resource = _fhir_id(resource)
    related: list[dict[str, Any]] = []
    if spec.children is not None:
        for child in children:
            merged = {**{f"parent.{k}": v for k, v in row.items()}, **child}
            rendered = render(spec.children.resource, merged, facility, mapping, notes)
            if rendered:
                related.append(_fhir_id(rendered))
        if related and resource.get("resourceType") == "DiagnosticReport":
            resource["result"] = [{"reference": f"Observation/{r['id']}"} for r in related]
    flags: list[str] = []
    if _local_drug_only(resource):
        flags.append(UNMAPPED_DRUG_FLAG)
    for identifier in resource.get("identifier", []) if resource.get("resourceType") == "Patient" else []:
        if identifier.get("system") == RESIDENT_ID and not resident_id_valid(identifier.get("value")):
            flags.append("resident-id-check-digit")
            notes.append(f"resident ID {identifier.get('value')!r} fails its check digit; kept and flagged")
    return Mapped(resource, related, notes, flags)


def _local_drug_only(resource: Mapping[str, Any]) -> bool:
    """A medicine coded only with a member's own drug code (no community, national or ATC coding)."""
    codings = (resource.get("medicationCodeableConcept") or {}).get("coding") or []
    return bool(codings) and all(str(c.get("system", "")).startswith(LOCAL_DRUG) for c in codings)


def _fhir_id(resource: dict[str, Any]) -> dict[str, Any]:
    """The rendered resource with its id made a FHIR id by `fhir_id`, once, as rendered from the row
    (an id already made must not be made again); its references were made as they were rendered."""
    if resource.get("id"):
        resource["id"] = fhir_id(str(resource["id"]))
    return resource
