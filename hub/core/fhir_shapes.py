"""A cache for FHIR validation: resources of one shape need only their values checked.

A connector's mapping renders every row through the same template, so thousands of resources share
one *shape*: the same keys, nesting, list lengths and kinds of leaf value. What the R4B models check
beyond the leaf values (types of complex elements, cardinality, unknown elements, required elements,
one value[x] of a choice, no null in a list of complex types) depends on the shape alone. So once a
resource of a shape passed the full models, another of that shape is valid when each leaf value
passes its own primitive type (date, code, id, ...), checked with the same pydantic types the models
use. A contained resource is typed as the type it names (as the models do; the name is part of the
shape). Shapes that reach anything the walk cannot type exactly (primitive extensions, models with
validators of their own) are never cached and always get the full models.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from pydantic import TypeAdapter

Leaf = Callable[[Any], Any]
Shape = tuple[Any, ...]
MAX_SHAPES = 20_000  # a mapping has a handful per table; a flood of distinct shapes only stops caching
_BASE_MODEL_VALIDATORS = frozenset(FHIRAbstractModel.__pydantic_decorators__.model_validators)


class Uncacheable(Exception):
    """The walk met something it cannot type exactly; the shape goes to the full models every time."""


def shape_of(resource: dict[str, Any], leaves: list[Any]) -> Shape:
    """The shape of a JSON value; its leaf values are appended to `leaves` in walk order."""
    parts: list[Any] = []
    append, leaf = parts.append, leaves.append
    for key, value in resource.items():
        kind = type(value)
        if kind is dict:
            append((key, shape_of(value, leaves)))
        elif kind is list:
            append((key, tuple([
                shape_of(item, leaves) if type(item) is dict else _leaf(item, leaves) for item in value
            ])))
        elif key == "resourceType":
            append((key, value))
        else:
            leaf(value)
            append((key, kind))
    return tuple(parts)


def _leaf(value: Any, leaves: list[Any]) -> type:
    if type(value) is list:  # a list in a list is never FHIR; the walk below refuses it
        return list
    leaves.append(value)
    return type(value)


def leaf_checks(model: type[FHIRAbstractModel], resource: dict[str, Any]) -> list[Leaf | None]:
    """One check per leaf of `resource` (a valid instance of `model`), in `shape_of`'s order."""
    checks: list[Leaf | None] = []
    _walk(model, resource, checks)
    return checks


def _walk(model: type[FHIRAbstractModel], data: dict[str, Any], checks: list[Leaf | None]) -> None:
    decorators = model.__pydantic_decorators__
    if decorators.field_validators or set(decorators.model_validators) - _BASE_MODEL_VALIDATORS:
        raise Uncacheable(model.__name__)
    fields = _fields(model)
    for key, value in data.items():
        if key == "resourceType":
            continue
        if key not in fields:
            raise Uncacheable(key)
        element, is_list = _element(fields[key])
        items = value if isinstance(value, list) else [value]
        if isinstance(value, list) != is_list:
            raise Uncacheable(key)
        for item in items:
            if isinstance(item, dict):
                klass = _model_class(element, item.get("resourceType"))
                if klass is None:
                    raise Uncacheable(key)
                _walk(klass, item, checks)
            elif isinstance(item, list) or _model_class(element) is not None:
                raise Uncacheable(key)
            else:
                checks.append(None if item is None else _adapter(element))


_FIELDS: dict[type, dict[str, Any]] = {}
_ADAPTERS: dict[Any, Leaf] = {}


def _fields(model: type[FHIRAbstractModel]) -> dict[str, Any]:
    if model not in _FIELDS:
        _FIELDS[model] = {(f.alias or name): f.annotation for name, f in model.model_fields.items()}
    return _FIELDS[model]


def _element(annotation: Any) -> tuple[Any, bool]:
    """`Optional[List[X]]` -> (X, True); `X | None` -> (X, False)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            raise Uncacheable(str(annotation))
        return _element(args[0])
    if origin is list:
        (inner,) = typing.get_args(annotation)
        element, nested = _element(inner)
        if nested:
            raise Uncacheable(str(annotation))
        return element, True
    return annotation, False


def r4_model(resource_type: str) -> Any:
    """The R4B model class of a resource type, or None for a type R4 does not have."""
    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError, AttributeError, ImportError):
        return None


def _model_class(element: Any, resource_type: Any = None) -> type[FHIRAbstractModel] | None:
    getter = getattr(element, "get_model_klass", None)
    if getter is None:
        return None
    klass = getter()
    if isinstance(klass, type) and klass.__name__ in ("Resource", "DomainResource") and isinstance(resource_type, str):
        # Any resource (`contained`): the models validate it as the type it names, and the shape holds
        # that name, so the walk types it the same way.
        named = r4_model(resource_type)
        if named is None:
            raise Uncacheable(resource_type)
        klass = named
    if not isinstance(klass, type) or not issubclass(klass, FHIRAbstractModel) or klass.__name__ in (
        "Resource", "DomainResource", "FHIRPrimitiveExtension",
    ):
        raise Uncacheable(str(element))  # a resource of no named type, or a primitive's extension
    return klass


def _adapter(element: Any) -> Leaf:
    if element not in _ADAPTERS:
        _ADAPTERS[element] = TypeAdapter(element).validate_python
    return _ADAPTERS[element]
