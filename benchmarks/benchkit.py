"""What the benchmarks share: percentiles, CPU accounting per process group, the machine, markdown sections.

Imported by ``bench_ingest.py`` and ``bench_gateway.py`` (run as scripts, so this directory is on ``sys.path``).
Everything here is pure or reads ``/proc``; nothing starts a process.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import math
import os
import platform
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CLIENT",
    "MACHINE",
    "ROOT",
    "CpuWindow",
    "Snapshot",
    "cpu_seconds_by_group",
    "cpu_seconds_of",
    "cpu_snapshot",
    "env_of",
    "env_setting",
    "first_line_value",
    "fmt",
    "git_revision",
    "history_rows",
    "machine_busy_seconds",
    "machine_facts",
    "md_table",
    "met",
    "package_version",
    "percentile",
    "pids_by_group",
    "replace_section",
    "rest_of_machine",
]

ROOT = Path(__file__).resolve().parents[1]
_SETTING = re.compile(r"[A-Z][A-Z0-9_]*=.*")
MACHINE = "machine"  # the key of the whole machine's busy seconds in a CPU snapshot
CLIENT = "benchmark client"  # the key of this process's own CPU seconds


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# ------------------------------------------------------------------------------------------- CPU


def pids_by_group(pgids: dict[str, int]) -> dict[str, list[int]]:
    """The live processes of each process group (``/proc/<pid>/stat`` field 5), by the group's name."""
    wanted = {pgid: name for name, pgid in pgids.items()}
    groups: dict[str, list[int]] = {name: [] for name in pgids}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            name = wanted.get(int(stat.read_text().rpartition(")")[2].split()[2]))
            if name is not None:
                groups[name].append(int(stat.parent.name))
    return groups


def cpu_seconds_of(groups: dict[str, list[int]]) -> dict[str, float]:
    """utime+stime summed over each group's processes (gone ones count 0), plus this process and the machine."""
    totals = dict.fromkeys(groups, 0.0)
    ticks = os.sysconf("SC_CLK_TCK")
    for name, pids in groups.items():
        for pid in pids:
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                totals[name] += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime: fields 14, 15
    own = os.times()
    totals[CLIENT] = own.user + own.system
    totals[MACHINE] = machine_busy_seconds()
    return totals


def cpu_seconds_by_group(pgids: dict[str, int]) -> dict[str, float]:
    """utime+stime of every live process, summed per process group (``/proc/<pid>/stat``), plus this one."""
    return cpu_seconds_of(pids_by_group(pgids))


def cpu_seconds_by_thread(pids: list[int]) -> dict[str, float]:
    """utime+stime of the threads of ``pids``, summed by thread name (``/proc/<pid>/task/<tid>/stat``).

    Names are the kernel's: a Python thread keeps its process's name, while ClickHouse names its own
    (``MergeMutate`` for merges; chDB also renames a thread that runs its queries, to ``Unknown`` in this version).
    """
    totals: dict[str, float] = {}
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        for stat in Path(f"/proc/{pid}/task").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                text = stat.read_text()
                name = text[text.index("(") + 1 : text.rindex(")")]
                fields = text.rpartition(")")[2].split()
                totals[name] = totals.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return totals


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle since boot (first line of ``/proc/stat``), all users."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle, iowait = fields[3], fields[4]
    return (sum(fields) - idle - iowait) / os.sysconf("SC_CLK_TCK")


Snapshot = tuple[float, dict[str, float]]


def cpu_snapshot(pgids: dict[str, int]) -> Snapshot:
    return time.monotonic(), cpu_seconds_by_group(pgids)


@dataclass
class CpuWindow:
    """CPU seconds each process group spent between two snapshots, and the wall time between them."""

    wall_s: float
    seconds: dict[str, float]

    @classmethod
    def between(cls, before: Snapshot, after: Snapshot) -> CpuWindow:
        return cls(after[0] - before[0], {k: after[1][k] - before[1].get(k, 0.0) for k in after[1]})

    def __add__(self, other: CpuWindow) -> CpuWindow:
        keys = self.seconds.keys() | other.seconds.keys()
        return CpuWindow(
            self.wall_s + other.wall_s, {k: self.seconds.get(k, 0.0) + other.seconds.get(k, 0.0) for k in keys}
        )


def rest_of_machine(window: CpuWindow) -> float:
    """CPU seconds of everything on the machine but the benchmark's process groups and itself in ``window``."""
    ours = sum(v for k, v in window.seconds.items() if k != MACHINE)
    return max(0.0, window.seconds.get(MACHINE, ours) - ours)


# ------------------------------------------------------------------------------------------- the machine


def ensure_pinned_venv(venv: Path, requirements: Path, *, compile_bytecode: bool = False) -> Path:
    """A peer's own virtualenv (LiteLLM, Evidently), synced to its pinned requirements once per change of the pins.

    Returns its ``python``. The pins live beside the benchmark and never in uv.lock: the peers' dependencies
    conflict with the workspace's. Needs uv (``uv run`` sets ``UV``; else the one on PATH).
    """
    uv = os.environ.get("UV") or shutil.which("uv")
    if not uv:
        raise RuntimeError("uv not found: run the benchmark with `uv run` (or its make target)")
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    marker, python = venv / ".requirements.sha256", venv / "bin" / "python"
    if not (python.is_file() and marker.is_file() and marker.read_text().strip() == digest):
        print(f"installing {requirements.name} into {venv}", flush=True)
        if not python.is_file():
            subprocess.run([uv, "venv", "--quiet", "--python", "3.11", str(venv)], check=True)
        compile_flag = ["--compile-bytecode"] if compile_bytecode else []
        subprocess.run(
            [uv, "pip", "sync", "--quiet", *compile_flag, "--python", str(python), str(requirements)], check=True
        )
        marker.write_text(digest + "\n")
    return python


def first_line_value(path: str, key: str) -> str:
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    return "?"


def package_version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def git_revision() -> str:
    def git(*argv: str) -> str:
        return subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "?"
    return f"{head} + uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else head


def machine_facts() -> dict[str, str]:
    """Date, CPU, cores, memory, load average, OS and Python (callers add versions and the revision)."""
    mem_kb = first_line_value("/proc/meminfo", "MemTotal").split()[0]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": first_line_value("/proc/cpuinfo", "model name"),
        "cores": f"{os.cpu_count()} (usable here: {len(os.sched_getaffinity(0))})",
        "memory": f"{int(mem_kb) / 1024**2:.1f} GiB" if mem_kb.isdigit() else "?",
        "load average at start": load,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


# ------------------------------------------------------------------------------------------- reporting


def fmt(value: float | None, unit: str = "", digits: int = 0) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:,.{digits}f}{unit}"


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def md_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]


def replace_section(text: str, section: str, begin: str, end: str) -> str:
    """``text`` with the part from ``begin`` through ``end`` replaced by ``section`` (which carries both markers).

    Without both markers the section is appended. Everything before and after the markers is kept as is.
    """
    if begin in text and end in text.split(begin, 1)[1]:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        return head + section + ("\n" + tail if tail else "")
    return text.rstrip("\n") + "\n\n" + section


def history_rows(path: Path, begin: str, end: str) -> list[str]:
    """The data rows of the run-history table between ``begin`` and ``end`` in ``path`` (none if absent)."""
    if not path.is_file() or begin not in (text := path.read_text()):
        return []
    block = text.split(begin, 1)[1].split(end, 1)[0]
    return [line for line in block.splitlines() if line.startswith("| ") and not line.startswith(("| date", "| ---"))]


def env_setting(text: str) -> str:
    """An argparse type for ``--env KEY=VALUE`` (a service setting, ``LLMOPS_PII_ENABLED=false``)."""
    if not _SETTING.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (an upper-case environment variable)")
    return text


def env_of(settings: Sequence[str]) -> dict[str, str]:
    """The environment ``--env`` items give: ``{"KEY": "VALUE"}``."""
    return dict(item.split("=", 1) for item in settings)
