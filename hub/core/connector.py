"""What every connector shares: its config file, what `poll` returns, and the sink it writes to.

A pull connector (database poller) implements `poll(checkpoints)`; a push connector (MLLP, REST,
DICOM inbox) overrides `serve(stop, sink)` and calls `sink.accept` for each input. Validation,
encoding, the outbox, checkpoints, dead letters and metrics live in `hub.core.pipeline`, not here.
"""

from __future__ import annotations

import threading
from abc import ABC
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.core.errors import PermanentError
from hub.core.events import Event

if TYPE_CHECKING:
    from hub.core.config import HubSettings
    from hub.core.pipeline import Sink


class _AnyFacility(frozenset[str]):
    """Every facility: for connectors whose caller (an authenticated API request) names the member."""

    def __contains__(self, item: object) -> bool:
        return isinstance(item, str) and bool(item)


ANY_FACILITY: set[str] = _AnyFacility()  # type: ignore[assignment]


class ConnectorConfigError(PermanentError, ValueError):
    """A connector's configuration file is missing, unreadable or wrong."""


class ConnectorConfig(BaseModel):
    """The YAML file an IT team writes for one connector at one member."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="Unique name; names the outbox file.")
    kind: str = Field(description="Connector kind, e.g. his_db, mllp, fhir_rest, dicom.")
    facility_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$", description="The member facility this feeds from.")
    poll_interval_s: float = Field(1.0, gt=0, description="Pull connectors: pause when there is nothing new.")
    batch_size: int = Field(500, gt=0, description="Pull connectors: most rows read per poll.")
    options: dict[str, Any] = Field(default_factory=dict, description="Kind-specific options (see the README).")

    @classmethod
    def load(cls, path: Path) -> ConnectorConfig:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConnectorConfigError(f"cannot read connector config {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or "syntax error"
            raise ConnectorConfigError(f"connector config {path} is not valid YAML{where}: {problem}") from None
        try:
            config = cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConnectorConfigError(f"connector config {path}: {where}: {first['msg']}") from exc
        from connectors.registry import KINDS

        if config.kind not in KINDS:
            raise ConnectorConfigError(
                f"connector config {path}: unknown connector kind {config.kind!r}; known kinds: {', '.join(sorted(KINDS))}"
            )
        # Relative paths in options are relative to the config file, not to where hub was started.
        config.options.setdefault("_config_dir", str(Path(path).resolve().parent))
        return config


@dataclass(frozen=True)
class Rejected:
    """An input the connector could not turn into a valid event. It goes to the dead letters."""

    reason: str
    stage: str  # "parse", "map", "validate", "encode"
    payload: str  # the input as received (row as JSON, raw message, ...)
    position: str  # where in the source it was
    patient_key: str | None = None
    fingerprint: str | None = None  # stable id of this input, so a re-read is not dead-lettered twice


@dataclass(frozen=True)
class PollResult:
    events: list[Event] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    checkpoints: dict[str, str] = field(default_factory=dict)  # saved with the events, after the last one
    notes: list[str] = field(default_factory=list)  # problems worth reporting that are not rejections

    @property
    def empty(self) -> bool:
        return not (self.events or self.rejected)


class Connector(ABC):
    """Base of every connector kind. Subclasses set `kind` and `Options` and implement `poll`
    (pull) or `serve` (push)."""

    kind: ClassVar[str]
    Options: ClassVar[type[BaseModel]]

    def __init__(self, config: ConnectorConfig, settings: HubSettings) -> None:
        self.config = config
        self.settings = settings
        options = {k: v for k, v in config.options.items() if not k.startswith("_")}
        try:
            self.options = self.Options.model_validate(options)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConnectorConfigError(f"connector {config.name}: options.{where}: {first['msg']}") from exc

    @property
    def config_dir(self) -> Path:
        return Path(self.config.options.get("_config_dir", "."))

    def facilities(self) -> set[str]:
        """Facilities this connector may publish for. A shared listener (MLLP at the county data
        centre) serves several members and overrides this from its sender table."""
        return {self.config.facility_id}

    def poll(self, checkpoints: Mapping[str, str]) -> PollResult:
        """Pull connectors: read what is new after `checkpoints`, at most `config.batch_size` items."""
        raise NotImplementedError(f"{type(self).__name__} is a push connector; it has no poll()")

    def serve(self, stop: threading.Event, sink: Sink) -> None:
        """Runs until `stop` is set. The default polls; push connectors override it."""
        while not stop.is_set():
            result = self.poll(sink.checkpoints())
            sink.accept(result)
            if result.empty:
                stop.wait(self.config.poll_interval_s)

    def check(self, sample: Path | None) -> PollResult:
        """Dry run for `hub connector check`: what would be published from `sample` (or the source)."""
        return self.poll({})

    def reprocess(self, payload: str, position: str) -> PollResult:
        """Maps one dead-lettered input again (after its mapping was fixed), for `hub dlq replay`."""
        raise NotImplementedError(f"connector kind {self.kind} cannot re-map dead letters")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Releases connections and sockets."""
