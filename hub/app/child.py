"""Entry point of a child process of `hub run` with HUB_PROCESSES=processes:
`python -m hub.app.child --parent PID consumer run NAME` (or `connector run FILE...`).

The child first ties itself to the parent's life (Linux SIGKILLs it when the parent dies, even by
SIGKILL), then runs the ordinary `hub` command, so a child is exactly what an operator would start.
"""

from __future__ import annotations

import ctypes
import os
import runpy
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """SIGKILL this process when `parent` dies; exit at once if it already has (the race before prctl).
    SIGKILL, not SIGTERM: with no parent left to end a child that hangs in its stop, it would stay an orphan;
    every part is built to be killed (outbox in one transaction, offsets after the database commit)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass  # not Linux: the parent's supervisor still stops its children on a clean exit
    if os.getppid() != parent:
        sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[0] != "--parent" or not args[1].isdigit():
        sys.exit("usage: python -m hub.app.child --parent PID (consumer run NAME | connector run FILE...)")
    die_with_parent(int(args[1]))  # first: the hub's modules take seconds to load on a busy machine
    sys.argv = ["hub", *args[2:]]
    runpy.run_module("hub.app.cli", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
