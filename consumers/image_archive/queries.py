"""QIDO-RS over the index: matching keys to SQL, and the DICOM JSON attributes of each match.

Matching follows PS3.18 8.3.4 / PS3.4 C.2.2.2: single value and UID list matching, `*`/`?` wildcards
on names and descriptions, date ranges (`20261101-20261130`, `-20261130`, `20261101-`). Answers hold the
standard's default attributes of each level plus those asked for with `includefield` (or `all`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from consumers.image_archive.models import ImageInstance, ImageSeries, ImageStudy
from hub.core.errors import PermanentError

Level = Literal["study", "series", "instance"]
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


class QueryError(PermanentError, ValueError):
    """A query key or value QIDO cannot use; the message says which and why."""


# Tags as 8 hex digits, by keyword.
def tag(keyword: str) -> str:
    number = tag_for_keyword(keyword)
    assert number is not None, keyword
    return f"{number:08X}"


STUDY_ATTRS = ("SpecificCharacterSet", "StudyDate", "StudyTime", "AccessionNumber", "InstanceAvailability",
               "ModalitiesInStudy", "ReferringPhysicianName", "TimezoneOffsetFromUTC", "RetrieveURL",
               "PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
               "StudyInstanceUID", "StudyID", "StudyDescription", "NumberOfStudyRelatedSeries",
               "NumberOfStudyRelatedInstances")
SERIES_ATTRS = ("Modality", "TimezoneOffsetFromUTC", "SeriesDescription", "RetrieveURL", "SeriesInstanceUID",
                "SeriesNumber", "NumberOfSeriesRelatedInstances", "PerformedProcedureStepStartDate",
                "PerformedProcedureStepStartTime", "RequestAttributesSequence")
INSTANCE_ATTRS = ("SOPClassUID", "SOPInstanceUID", "InstanceAvailability", "TimezoneOffsetFromUTC", "RetrieveURL",
                  "InstanceNumber", "Rows", "Columns", "BitsAllocated", "NumberOfFrames",
                  # what a viewer needs to lay out and measure a series, from the index
                  "PhotometricInterpretation", "PixelSpacing", "WindowCenter", "WindowWidth")
# Matching keys, by level they belong to.
KEYS: Mapping[str, Level] = {
    "PatientID": "study", "IssuerOfPatientID": "study", "PatientName": "study", "StudyInstanceUID": "study",
    "AccessionNumber": "study", "StudyDate": "study", "StudyDescription": "study", "ModalitiesInStudy": "study",
    "SeriesInstanceUID": "series", "Modality": "series", "SeriesNumber": "series",
    "SOPInstanceUID": "instance", "SOPClassUID": "instance", "InstanceNumber": "instance",
}
CONTROL = ("limit", "offset", "includefield", "fuzzymatching")


@dataclass
class Query:
    level: Level
    match: dict[str, str] = field(default_factory=dict)  # keyword -> value
    include: set[str] = field(default_factory=set)  # extra keywords ("all" for every attribute)
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    ignored: list[str] = field(default_factory=list)  # keys QIDO does not support: a Warning says so


def keyword_of(name: str) -> str | None:
    """A keyword from a keyword or an 8-hex-digit tag; None for neither."""
    if re.fullmatch(r"[0-9A-Fa-f]{8}", name):
        return keyword_for_tag(int(name, 16)) or None
    return name if tag_for_keyword(name) is not None else None


def parse(level: Level, params: Sequence[tuple[str, str]]) -> Query:
    query = Query(level)
    for name, value in params:
        if name == "limit":
            query.limit = _count(name, value, 1, MAX_LIMIT)
        elif name == "offset":
            query.offset = _count(name, value, 0, 10**9)
        elif name == "includefield":
            for item in (v.strip() for v in value.split(",") if v.strip()):
                if item == "all":
                    query.include.add("all")
                    continue
                keyword = keyword_of(item)
                if keyword is None:
                    raise QueryError(f"includefield {item!r} is not a DICOM keyword or tag (e.g. 00280030 or "
                                     "PixelSpacing)")
                query.include.add(keyword)
        elif name == "fuzzymatching":
            continue  # no fuzzy matching is offered: matching stays exact, as the standard allows
        else:
            keyword = keyword_of(name)
            if keyword is None or keyword not in KEYS:
                query.ignored.append(name)
            elif value != "":  # an empty key asks for the attribute to be returned, which it is
                query.match[keyword] = value
    if "StudyDate" in query.match:
        _date_range(query.match["StudyDate"])  # checked before any SQL
    return query


def _count(name: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise QueryError(f"{name} must be a whole number, not {value!r}") from None
    if not low <= number <= high:
        raise QueryError(f"{name} must be {low} to {high}, not {number}")
    return number


def _date_range(value: str) -> tuple[str | None, str | None]:
    found = re.fullmatch(r"(\d{8})?(-)?(\d{8})?", value.replace(".", "").strip())
    if found is None or not (found[1] or found[3]) or (found[3] and not found[2]) or (found[1] and found[3] and
                                                                                     found[1] > found[3]):
        raise QueryError(f"StudyDate {value!r} is not a date or a range (YYYYMMDD, YYYYMMDD-YYYYMMDD, -YYYYMMDD, "
                         "YYYYMMDD-)")
    if not found[2]:
        return found[1], found[1]
    return found[1], found[3]


def _wildcard(column: Any, value: str) -> Any:
    if "*" not in value and "?" not in value:
        return func.lower(column) == value.lower()
    pattern = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%").replace("?", "_")
    return func.lower(column).like(pattern.lower(), escape="\\")


def _uids(value: str) -> list[str]:
    return [v.strip() for v in value.replace("\\", ",").split(",") if v.strip()]


@dataclass(frozen=True)
class Scope:
    """Fixed path parameters and how PatientID resolves: the member's own PatientID, or any of the
    hub's Patient ids (source or community) the shared record gave."""

    study_uid: str | None = None
    series_uid: str | None = None
    patient_keys: frozenset[str] = frozenset()  # member patients of the person a hub Patient id names


def _filtered(query: Query, scope: Scope) -> Select[Any]:
    m = query.match
    stmt: Select[Any]
    if query.level == "study":
        stmt = select(ImageStudy)
    elif query.level == "series":
        stmt = select(ImageSeries, ImageStudy).join(  # type: ignore[assignment]
            ImageStudy, ImageStudy.study_uid == ImageSeries.study_uid)
    else:
        stmt = (select(ImageInstance, ImageSeries, ImageStudy)  # type: ignore[assignment]
                .join(ImageSeries, ImageSeries.series_uid == ImageInstance.series_uid)
                .join(ImageStudy, ImageStudy.study_uid == ImageInstance.study_uid))
    if scope.study_uid:
        stmt = stmt.where(ImageStudy.study_uid == scope.study_uid)
    if scope.series_uid:
        stmt = stmt.where(ImageSeries.series_uid == scope.series_uid)
    if "PatientID" in m:
        stmt = stmt.where(or_(ImageStudy.dicom_patient_id == m["PatientID"], ImageStudy.patient_id == m["PatientID"],
                              ImageStudy.patient_key.in_(sorted(scope.patient_keys))))
    if "IssuerOfPatientID" in m:
        stmt = stmt.where(ImageStudy.facility_id == m["IssuerOfPatientID"])
    if "PatientName" in m:
        stmt = stmt.where(_wildcard(ImageStudy.patient_name, m["PatientName"]))
    if "StudyInstanceUID" in m:
        stmt = stmt.where(ImageStudy.study_uid.in_(_uids(m["StudyInstanceUID"])))
    if "AccessionNumber" in m:
        stmt = stmt.where(ImageStudy.accession_number == m["AccessionNumber"])
    if "StudyDescription" in m:
        stmt = stmt.where(_wildcard(ImageStudy.description, m["StudyDescription"]))
    if "StudyDate" in m:
        low, high = _date_range(m["StudyDate"])
        if low:
            stmt = stmt.where(ImageStudy.study_date >= low)
        if high:
            stmt = stmt.where(ImageStudy.study_date <= high)
    if "ModalitiesInStudy" in m:
        having = select(ImageSeries.study_uid).where(ImageSeries.modality.in_(_uids(m["ModalitiesInStudy"])))
        stmt = stmt.where(ImageStudy.study_uid.in_(having))
    if "SeriesInstanceUID" in m:
        stmt = stmt.where(ImageSeries.series_uid.in_(_uids(m["SeriesInstanceUID"])))
    if "Modality" in m:
        stmt = stmt.where(ImageSeries.modality.in_(_uids(m["Modality"])))
    if "SeriesNumber" in m:
        stmt = stmt.where(ImageSeries.series_number == _count("SeriesNumber", m["SeriesNumber"], 0, 2**31))
    if "SOPInstanceUID" in m:
        stmt = stmt.where(ImageInstance.sop_uid.in_(_uids(m["SOPInstanceUID"])))
    if "SOPClassUID" in m:
        stmt = stmt.where(ImageInstance.sop_class_uid.in_(_uids(m["SOPClassUID"])))
    if "InstanceNumber" in m:
        stmt = stmt.where(ImageInstance.instance_number == _count("InstanceNumber", m["InstanceNumber"], 0, 2**31))
    return stmt


@dataclass(frozen=True)
class Match:
    study: ImageStudy
    series: ImageSeries | None = None
    instance: ImageInstance | None = None


def search(session: Session, query: Query, scope: Scope) -> list[Match]:
    order: tuple[Level, ...] = ("study", "series", "instance")
    deeper = [k for k in query.match if order.index(KEYS[k]) > order.index(query.level)]
    if deeper:
        raise QueryError(f"{', '.join(deeper)} cannot be matched in a {query.level} search; search "
                         f"{'/series or /instances' if query.level == 'study' else '/instances'} instead")
    stmt = _filtered(query, scope)
    if query.level == "study":
        stmt = stmt.order_by(ImageStudy.study_date.desc(), ImageStudy.study_time.desc(), ImageStudy.study_uid)
    elif query.level == "series":
        stmt = stmt.order_by(ImageStudy.study_uid, ImageSeries.series_number, ImageSeries.series_uid)
    else:
        stmt = stmt.order_by(ImageStudy.study_uid, ImageSeries.series_number, ImageSeries.series_uid,
                             ImageInstance.instance_number, ImageInstance.sop_uid)
    rows = session.execute(stmt.offset(query.offset).limit(query.limit)).all()
    if query.level == "study":
        return [Match(row[0]) for row in rows]
    if query.level == "series":
        return [Match(row[1], row[0]) for row in rows]
    return [Match(row[2], row[1], row[0]) for row in rows]


# DICOM JSON ---------------------------------------------------------------------------------------

def element(keyword: str, value: Any) -> tuple[str, dict[str, Any]]:
    number = tag_for_keyword(keyword)
    assert number is not None, keyword
    vr = dictionary_VR(number)
    if vr == "US or SS":
        vr = "US"
    if value is None or value == [] or value == "":
        return f"{number:08X}", {"vr": vr}
    values = value if isinstance(value, list) else [value]
    if vr == "PN":
        values = [v if isinstance(v, dict) else {"Alphabetic": v} for v in values]
    return f"{number:08X}", {"vr": vr, "Value": values}


@dataclass
class Facts:
    """What the answers of one page of matches need from beyond their own rows (counts, modalities, one
    instance's header per study and series), fetched in a few grouped queries instead of per match."""

    modalities: dict[str, list[str]] = field(default_factory=dict)  # by study
    series_count: dict[str, int] = field(default_factory=dict)  # by study
    study_instances: dict[str, int] = field(default_factory=dict)  # by study
    series_instances: dict[str, int] = field(default_factory=dict)  # by series
    study_header: dict[str, dict[str, Any]] = field(default_factory=dict)  # one instance's header, by study
    series_header: dict[str, dict[str, Any]] = field(default_factory=dict)


def facts(session: Session, matches: Sequence[Match]) -> Facts:
    found = Facts()
    studies = sorted({m.study.study_uid for m in matches})
    series = sorted({m.series.series_uid for m in matches if m.series is not None})
    for start in range(0, len(studies), 500):
        chunk = studies[start:start + 500]
        for study_uid, modality in session.execute(select(ImageSeries.study_uid, ImageSeries.modality)
                                                   .where(ImageSeries.study_uid.in_(chunk)).distinct()):
            found.modalities.setdefault(study_uid, []).append(modality)
        found.series_count.update((key, int(count)) for key, count in session.execute(
            select(ImageSeries.study_uid, func.count()).where(ImageSeries.study_uid.in_(chunk))
            .group_by(ImageSeries.study_uid)))
        found.study_instances.update((key, int(count)) for key, count in session.execute(
            select(ImageInstance.study_uid, func.count()).where(ImageInstance.study_uid.in_(chunk))
            .group_by(ImageInstance.study_uid)))
        samples = select(func.min(ImageInstance.sop_uid)).where(ImageInstance.study_uid.in_(chunk)) \
            .group_by(ImageInstance.study_uid)
        for study_uid, header in session.execute(select(ImageInstance.study_uid, ImageInstance.dicom_json)
                                                 .where(ImageInstance.sop_uid.in_(samples))):
            found.study_header[study_uid] = json.loads(header)
    for start in range(0, len(series), 500):
        chunk = series[start:start + 500]
        found.series_instances.update((key, int(count)) for key, count in session.execute(
            select(ImageInstance.series_uid, func.count()).where(ImageInstance.series_uid.in_(chunk))
            .group_by(ImageInstance.series_uid)))
        samples = select(func.min(ImageInstance.sop_uid)).where(ImageInstance.series_uid.in_(chunk)) \
            .group_by(ImageInstance.series_uid)
        for series_uid, header in session.execute(select(ImageInstance.series_uid, ImageInstance.dicom_json)
                                                  .where(ImageInstance.sop_uid.in_(samples))):
            found.series_header[series_uid] = json.loads(header)
    for values in found.modalities.values():
        values.sort()
    return found


def _pick(stored: Mapping[str, Any], keywords: Iterable[str], include: set[str]) -> dict[str, Any]:
    """The attributes of the file's header a level answers with: its defaults, plus includefield."""
    wanted = {tag(k) for k in keywords if tag_for_keyword(k) is not None}
    wanted |= {tag(k) for k in include if k != "all"}
    if "all" in include:
        return dict(stored)
    return {k: v for k, v in stored.items() if k in wanted}


def study_json(known: Facts, study: ImageStudy, include: set[str], base_url: str) -> dict[str, Any]:
    answer = _pick(known.study_header.get(study.study_uid, {}), STUDY_ATTRS, include)
    if "all" in include:  # the patient and study modules, not one instance's technical attributes
        answer = {k: v for k, v in answer.items() if k[:4] in ("0008", "0010", "0020", "0032")}
    modalities = known.modalities.get(study.study_uid, [])
    series_count = known.series_count.get(study.study_uid, 0)
    instance_count = known.study_instances.get(study.study_uid, 0)
    computed = [
        ("SpecificCharacterSet", "ISO_IR 192"),
        ("StudyInstanceUID", study.study_uid),
        ("PatientID", study.dicom_patient_id),
        ("IssuerOfPatientID", study.facility_id),  # PatientIDs are the members' own: the member says whose
        ("ModalitiesInStudy", modalities),
        ("NumberOfStudyRelatedSeries", series_count),
        ("NumberOfStudyRelatedInstances", instance_count),
        ("InstanceAvailability", "ONLINE"),
        ("RetrieveURL", f"{base_url}/studies/{study.study_uid}"),
    ]
    for keyword, value in computed:
        key, item = element(keyword, value)
        answer[key] = item
    for keyword in ("StudyDate", "StudyTime", "AccessionNumber", "PatientName", "ReferringPhysicianName",
                    "PatientBirthDate", "PatientSex", "StudyID", "StudyDescription"):
        key, item = element(keyword, None)
        answer.setdefault(key, item)  # required attributes are present, empty when the file had none
    return dict(sorted(answer.items()))


def series_json(known: Facts, series: ImageSeries, include: set[str], base_url: str) -> dict[str, Any]:
    answer = _pick(known.series_header.get(series.series_uid, {}), SERIES_ATTRS, include)
    count = known.series_instances.get(series.series_uid, 0)
    computed = [
        ("SpecificCharacterSet", "ISO_IR 192"),
        ("StudyInstanceUID", series.study_uid),
        ("SeriesInstanceUID", series.series_uid),
        ("Modality", series.modality),
        ("NumberOfSeriesRelatedInstances", count),
        ("RetrieveURL", f"{base_url}/studies/{series.study_uid}/series/{series.series_uid}"),
    ]
    for keyword, value in computed:
        key, item = element(keyword, value)
        answer[key] = item
    for keyword in ("SeriesNumber", "SeriesDescription"):
        key, item = element(keyword, None)
        answer.setdefault(key, item)
    return dict(sorted(answer.items()))


def instance_json(instance: ImageInstance, include: set[str], base_url: str) -> dict[str, Any]:
    answer = _pick(json.loads(instance.dicom_json), INSTANCE_ATTRS, include)
    spacing = [instance.row_spacing_mm, instance.column_spacing_mm] if instance.row_spacing_mm else None
    computed: list[tuple[str, Any]] = [
        ("SpecificCharacterSet", "ISO_IR 192"),
        ("StudyInstanceUID", instance.study_uid),
        ("SeriesInstanceUID", instance.series_uid),
        ("SOPInstanceUID", instance.sop_uid),
        ("SOPClassUID", instance.sop_class_uid),
        ("InstanceAvailability", "ONLINE"),
        ("NumberOfFrames", instance.frames or None),
        ("RetrieveURL", f"{base_url}/studies/{instance.study_uid}/series/{instance.series_uid}"
                        f"/instances/{instance.sop_uid}"),
    ]
    # From the index: an enhanced object keeps these in its functional groups, which a viewer would
    # otherwise have to dig out of the metadata itself.
    if spacing is not None:
        computed.append(("PixelSpacing", spacing))
    if instance.window_center is not None and instance.window_width is not None:
        computed += [("WindowCenter", instance.window_center), ("WindowWidth", instance.window_width)]
    for keyword, value in computed:
        key, item = element(keyword, value)
        answer[key] = item
    return dict(sorted(answer.items()))


def instances_of(session: Session, study_uid: str, series_uid: str | None = None,
                 sop_uid: str | None = None) -> list[ImageInstance]:
    stmt = select(ImageInstance).where(ImageInstance.study_uid == study_uid)
    if series_uid is not None:
        stmt = stmt.where(ImageInstance.series_uid == series_uid)
    if sop_uid is not None:
        stmt = stmt.where(ImageInstance.sop_uid == sop_uid)
    return list(session.scalars(stmt.order_by(ImageInstance.series_uid, ImageInstance.instance_number,
                                              ImageInstance.sop_uid)))
