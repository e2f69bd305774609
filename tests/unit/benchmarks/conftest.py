"""The benchmarks run as scripts (``python benchmarks/bench_*.py``) and import their siblings by name."""

import sys
from pathlib import Path

BENCHMARKS = str(Path(__file__).resolve().parents[3] / "benchmarks")
if BENCHMARKS not in sys.path:
    sys.path.insert(0, BENCHMARKS)
