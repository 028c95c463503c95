"""Bounded exponential backoff with jitter, for every loop that waits before trying again."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays that start at `initial_s`, grow by `factor` up to `max_s`, each moved by up to
    ±`jitter` (a fraction) so that many waiters do not retry in step."""

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
