"""Processes as /proc sees them: a process's tree and the CPU time it has used. Light (no
TensorFlow): the load test's client reads the server's CPU with it, the benchmarks their workers'."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (field 3, the state, is the first)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def descendants(pid: int) -> list[int]:
    """The process and every live process below it (Chromium under kaleido, a pool's workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(_stat_fields(int(entry))[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pids: Iterable[int], leave_out: Iterable[int] = ()) -> float:
    """User + system CPU of these processes, their live descendants and their reaped children,
    less the trees under `leave_out` (the load test's client must not count the server it
    started)."""
    skipped = {pid for root in leave_out for pid in descendants(root)}
    total = 0.0
    for root in pids:
        for pid in set(descendants(root)) - skipped:
            try:
                fields = _stat_fields(pid)
            except OSError:
                continue
            total += sum(int(value) for value in fields[11:15]) / TICKS  # utime stime cutime cstime
    return total


def alive(pid: int) -> bool:
    """Whether a process still runs (not ended, nor a zombie waiting for its parent)."""
    try:
        return _stat_fields(pid)[0] != "Z"
    except (OSError, IndexError):
        return False
