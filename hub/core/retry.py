"""Bounded exponential backoff with jitter, and the two kinds of failure the hub names."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


class RetriableError(Exception):
    """Network, broker or database busy or down: try again later, keep the input."""


class PermanentError(Exception):
    """Bad input: retrying will not help; it goes to the dead letters with this reason."""

    def __init__(self, reason: str, stage: str = "apply") -> None:
        super().__init__(reason)
        self.reason = reason
        self.stage = stage


@dataclass
class Backoff:
    initial_s: float = 0.2
    max_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2
    _current: float = field(default=0.0, init=False)

    def next(self) -> float:
        self._current = self.initial_s if self._current == 0 else min(self.max_s, self._current * self.factor)
        return self._current * (1 + random.uniform(-self.jitter, self.jitter))

    def reset(self) -> None:
        self._current = 0.0
