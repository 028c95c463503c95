"""One error hierarchy: every error class of the core and the parts is a HubError, and either
retriable or permanent, never both, and something raises it."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

from hub.core.db import RetriableDatabaseError
from hub.core.errors import HubError, PermanentError, RetriableError
from hub.core.web.errors import FhirError

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("hub", "connectors", "consumers")
# Not hub errors, on purpose:
OUTSIDE = {
    # The answer an HTTP route gives, raised only for the exception handler to turn into an
    # OperationOutcome. Its status code already says retriable (503 with Retry-After) or not (4xx),
    # and no code catches it to decide whether to try again, so it is neither branch.
    FhirError,
}
# Signals a module raises and catches itself, never seen outside it: neither branch applies.
OUTSIDE.add(importlib.import_module("hub.core.fhir_shapes").Uncacheable)


def _modules() -> list[ModuleType]:
    modules = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            if ".migrations" not in info.name:  # Alembic scripts run when imported
                modules.append(importlib.import_module(info.name))
    return modules


def _error_classes() -> dict[str, type[BaseException]]:
    found = {}
    for module in _modules():
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseException) and value.__module__ == module.__name__:
                found[f"{module.__name__}.{value.__qualname__}"] = value
    return found


def test_every_error_is_a_hub_error_on_exactly_one_branch() -> None:
    errors = _error_classes()
    assert len(errors) > 25 and set(errors.values()) >= OUTSIDE
    wrong = []
    for name, cls in sorted(errors.items()):
        if cls in OUTSIDE or cls is HubError:
            continue
        branches = [b.__name__ for b in (RetriableError, PermanentError) if issubclass(cls, b)]
        if not issubclass(cls, HubError) or len(branches) != 1:
            wrong.append(f"{name}: {[b.__name__ for b in cls.__mro__[1:-2]]}")
    assert not wrong, "errors outside the hierarchy (derive from RetriableError or PermanentError):\n" + "\n".join(wrong)


def test_the_database_is_retriable_and_bad_input_permanent() -> None:
    assert issubclass(RetriableDatabaseError, RetriableError)
    error = PermanentError("no id", "validate")
    assert (str(error), error.reason, error.stage) == ("no id", "no id", "validate")
    assert PermanentError("no id").stage == "apply"


def _raised_names() -> set[str]:
    """Names of what the production code raises: `raise X(...)`, `raise module.X(...)`, `raise X`."""
    names: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Raise) and node.exc is not None:
                    target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                    if isinstance(target, ast.Name):
                        names.add(target.id)
                    elif isinstance(target, ast.Attribute):
                        names.add(target.attr)
    return names


def test_every_error_class_is_raised_somewhere() -> None:
    raised = _raised_names()
    errors = _error_classes().values()
    unused = sorted(
        f"{cls.__module__}.{cls.__qualname__}" for cls in errors
        if cls not in (HubError, RetriableError, PermanentError)  # the root and the branches
        and not any(sub.__name__ in raised for sub in errors if issubclass(sub, cls))
    )
    assert not unused, f"error classes nothing raises (remove them): {unused}"
