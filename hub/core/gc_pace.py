"""How often Python's cycle collector runs in a hub process.

Python collects its youngest generation every 700 new container objects. A consumer batch makes
hundreds of thousands (decoded events, ORM rows, search-index rows), so the collector ran hundreds of
times per batch and scanned the same live objects each time: a sixth of the record store's CPU in a
profile of `hub bench --stages record_store`. Every 50,000 objects keeps cycles collected (the older
generations keep Python's ratios) at a small share of that cost; the memory this holds back is a few
megabytes at most.
"""

from __future__ import annotations

import gc


def set_pace(young_threshold: int) -> None:
    """`young_threshold` new container objects between collections of the youngest generation; 0 keeps
    Python's own pace."""
    if young_threshold <= 0:
        return
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)
