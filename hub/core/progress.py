"""Progress of long command-line work (replays, re-matching, bulk loads) on stderr, with rich.progress:
count, rate and time left.

Shown only where a person watches: stderr is a terminal and the command was not given --quiet or --json
(HUB_PROGRESS=always or never overrides the terminal test). Scripts and pipes see nothing of it, and
stdout stays exactly what it was. The work itself only calls `advance(n)`, so it runs the same with or
without a bar (`NO_PROGRESS` for callers that show none).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType
from typing import IO, Literal

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

Mode = Literal["auto", "always", "never"]
Advance = Callable[[int], None]


def NO_PROGRESS(n: int) -> None:  # noqa: N802 - a constant-like default for "nobody watches"
    return None


def wanted(mode: Mode, quiet: bool = False, as_json: bool = False, stream: IO[str] | None = None) -> bool:
    """Whether to draw progress: never for --quiet or --json; otherwise as HUB_PROGRESS says, and in
    "auto" only when stderr is a terminal."""
    if quiet or as_json or mode == "never":
        return False
    if mode == "always":
        return True
    stream = stream if stream is not None else sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


class _Rate(ProgressColumn):
    """Items per second, as the work goes (rich's own speed column counts bytes)."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        # rich's recent-window speed needs two samples; work done in one step still has an average
        speed = task.finished_speed or task.speed
        if speed is None and task.completed and task.elapsed:
            speed = task.completed / task.elapsed
        return Text("?" if speed is None else f"{speed:,.0f} {self.unit}/s", style="progress.data.speed")


class ProgressBar:
    """One bar for one piece of work: `with ProgressBar("republishing", total, shown) as bar: bar.advance(n)`.
    When not shown it does nothing at all. The total may be unknown (None) or set later (`total`)."""

    def __init__(self, description: str, total: int | None, shown: bool, unit: str = "events",
                 stream: IO[str] | None = None) -> None:
        self.shown = shown
        self.done = 0
        self._progress: Progress | None = None
        if shown:
            console = Console(file=stream if stream is not None else sys.stderr, force_terminal=True)
            # Narrow enough for an 80-column terminal; the time taken replaces the time left at the end.
            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(bar_width=16), MofNCompleteColumn(), _Rate(unit),
                TimeRemainingColumn(elapsed_when_finished=True), TextColumn("{task.fields[when]}"),
                console=console, transient=False, refresh_per_second=4,
            )
            self._task = self._progress.add_task(description, total=total, when="left")

    def __enter__(self) -> ProgressBar:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.update(self._task, when="taken")
            self._progress.refresh()
            self._progress.stop()

    def total(self, total: int | None) -> None:
        if self._progress is not None:
            self._progress.update(self._task, total=total)

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._progress is not None and n:
            self._progress.advance(self._task, n)
