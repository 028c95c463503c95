"""What every connector shares: its config file, what `poll` returns, and the sink it writes to.

A pull connector (database poller) implements `poll(checkpoints)`; a push connector (MLLP, REST,
DICOM inbox) overrides `serve(stop, sink)` and calls `sink.accept` for each input. Validation,
encoding, the outbox, checkpoints, dead letters and metrics live in `hub.core.pipeline`, not here.
"""

from __future__ import annotations

import threading
from abc import ABC
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hub.core.config import HubSettings
from hub.core.destinations import Destination, FhirDestination, MllpDestination, check_unique
from hub.core.errors import PermanentError
from hub.core.events import PollResult
from hub.core.pipeline import Sink
from hub.core.retry import Backoff


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
    poll_interval_s: float = Field(1.0, gt=0, description="Pull connectors: pause when there is nothing new "
                                   "(shorter right after new rows: see Connector.serve).")
    batch_size: int = Field(500, gt=0, description="Pull connectors: most rows read per poll.")
    options: dict[str, Any] = Field(default_factory=dict, description="Kind-specific options (see the README).")
    parent_facility: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description="The member this one is supplied from (village clinic -> its township health centre -> the "
        "county hospital); HUB_FACILITY_PARENTS may say the same for members without a connector.",
    )
    deliver_to: list[Destination] = Field(
        default_factory=list, description="Where the hub delivers this member's results (MLLP and/or FHIR)."
    )

    @field_validator("deliver_to")
    @classmethod
    def _unique_destinations(
        cls, value: list[MllpDestination | FhirDestination]
    ) -> list[MllpDestination | FhirDestination]:
        return check_unique(value)

    @classmethod
    def load(cls, path: Path, kinds: Collection[str] | None = None) -> ConnectorConfig:
        """The config in a YAML file; with `kinds`, its kind must be one of them."""
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
            where = _where(first["loc"])
            raise ConnectorConfigError(f"connector config {path}: {where}: {first['msg']}") from exc
        if kinds is not None and config.kind not in kinds:
            raise ConnectorConfigError(
                f"connector config {path}: unknown connector kind {config.kind!r}; known kinds: {', '.join(sorted(kinds))}"
            )
        # Relative paths in options are relative to the config file, not to where hub was started.
        config.options.setdefault("_config_dir", str(Path(path).resolve().parent))
        return config


def _where(loc: tuple[int | str, ...]) -> str:
    """`deliver_to.0.mllp.port` -> `deliver_to.0.port`: the entry's tag is pydantic's, not the file's."""
    tagged = len(loc) > 2 and loc[0] == "deliver_to" and loc[2] in ("mllp", "fhir")
    return ".".join(str(p) for i, p in enumerate(loc) if not (tagged and i == 2))


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
        """Runs until `stop` is set. The default polls; push connectors override it.

        A member's system writes in bursts (a clinic's morning, a lab run): right after a poll found
        something, the next looks sooner (an eighth of `poll_interval_s`, doubling while nothing comes),
        so a busy member's rows wait a fraction of the interval; a quiet one is asked once per interval."""
        pause = Backoff(initial_s=self.config.poll_interval_s / 8, max_s=self.config.poll_interval_s, jitter=0.1)
        while not stop.is_set():
            result = self.poll(sink.checkpoints())
            sink.accept(result)
            if result.empty:
                stop.wait(pause.next())
            else:
                pause.reset()

    # History, for `hub connector backfill` (hub/core/backfill.py); pull connectors of a database.
    supports_history: ClassVar[bool] = False

    def history_bounds(self) -> dict[str, str]:
        """Where each stream's history ends now (a checkpoint per stream; none for an empty one)."""
        raise NotImplementedError(f"connector kind {self.kind} has no history to backfill")

    def history_size(self, checkpoints: Mapping[str, str], bounds: Mapping[str, str], since: str | None) -> int:
        """How many items are left between `checkpoints` and `bounds`."""
        raise NotImplementedError(f"connector kind {self.kind} has no history to backfill")

    def read_history(self, checkpoints: Mapping[str, str], bounds: Mapping[str, str], since: str | None,
                     limit: int) -> PollResult:
        """Like `poll`, for items up to `bounds` and changed at or after `since`."""
        chunk, positions = self.history_chunk(checkpoints, bounds, since, limit)
        mapped = self.map_history(chunk)
        mapped.checkpoints.update(positions)
        return mapped

    def history_chunk(self, checkpoints: Mapping[str, str], bounds: Mapping[str, str], since: str | None,
                      limit: int) -> tuple[list[Any], dict[str, str]]:
        """The next raw items of history (empty: done) and the checkpoints after them. Raw items are
        plain data, so a backfill can map them in worker processes (`map_history`)."""
        raise NotImplementedError(f"connector kind {self.kind} has no history to backfill")

    def map_history(self, chunk: list[Any]) -> PollResult:
        """Raw items of `history_chunk` to events (no checkpoints: they are stored with the events)."""
        raise NotImplementedError(f"connector kind {self.kind} has no history to backfill")

    def check(self, sample: Path | None) -> PollResult:
        """Dry run for `hub connector check`: what would be published from `sample` (or the source)."""
        return self.poll({})

    def reprocess(self, payload: str, position: str) -> PollResult:
        """Maps one dead-lettered input again (after its mapping was fixed), for `hub dlq replay`."""
        raise NotImplementedError(f"connector kind {self.kind} cannot re-map dead letters")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Releases connections and sockets."""
