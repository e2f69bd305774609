"""Run a console script under cProfile: ``python profile_child.py OUT.prof SCRIPT`` (used by ``--profile``).

``python -m cProfile`` loses the profile of a uvicorn service: uvicorn re-raises the SIGTERM it handled once it
has shut down, which kills the process before cProfile writes. Here SIGTERM becomes ``SystemExit`` instead, so
the profile is written. Threads started by Python (the warehouse's ClickHouse worker, ingest's validation
threads) get a profiler each, merged into the same file; times are wall-clock per thread, so a thread blocked in
a C call (chDB running a query) shows that call's wall time. chDB's own C++ threads are not seen.
"""

from __future__ import annotations

import contextlib
import cProfile
import pstats
import runpy
import signal
import sys
import threading
from typing import Any

_THREAD_PROFILERS: list[cProfile.Profile] = []


def _profile_this_thread(*_: Any) -> None:
    """Installed with ``threading.setprofile``: runs first thing in every new thread, and hands over to cProfile."""
    profiler = cProfile.Profile()
    _THREAD_PROFILERS.append(profiler)
    profiler.enable()


def main() -> None:
    out, script = sys.argv[1], sys.argv[2]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    threading.setprofile(_profile_this_thread)
    sys.argv = [script]
    profiler = cProfile.Profile()
    try:
        profiler.runcall(runpy.run_path, script, run_name="__main__")
    except SystemExit:
        pass
    finally:
        threading.setprofile(None)
        stats = pstats.Stats(profiler)
        for other in _THREAD_PROFILERS:
            with contextlib.suppress(TypeError):  # a thread that ran no Python code has no stats
                stats.add(pstats.Stats(other))
        stats.dump_stats(out)


if __name__ == "__main__":
    main()
