"""Memory of a process and its descendants, read from /proc (Linux only).

VmHWM is the peak resident set of *this* process. `ru_maxrss` of a child is
not used: a forked child starts with its parent's high-water mark.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class Memory:
    pid: int
    name: str
    hwm_kb: int  # VmHWM: peak resident set size
    rss_kb: int  # VmRSS: resident set size now
    pss_kb: int  # proportional share of resident pages (shared pages split between sharers)

    def as_dict(self) -> dict[str, int | str]:
        return asdict(self)


def _fields(path: Path) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in path.read_text().splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB":
            values[key] = int(parts[0])
    return values


def memory(pid: int | None = None) -> Memory:
    pid = pid or os.getpid()
    status = _fields(PROC / str(pid) / "status")
    try:
        pss = _fields(PROC / str(pid) / "smaps_rollup").get("Pss", 0)
    except OSError:
        pss = 0
    cmdline = (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    return Memory(pid, cmdline[-80:], status.get("VmHWM", 0), status.get("VmRSS", 0), pss)


def descendants(pid: int | None = None) -> list[int]:
    """Every live process below `pid` (forkserver workers are grandchildren)."""
    root = pid or os.getpid()
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return sorted(found)


def family(pid: int | None = None) -> dict[str, object]:
    """This process and its descendants, in kB."""
    main = memory(pid)
    others = []
    for child in descendants(main.pid):
        try:
            others.append(memory(child))
        except OSError:
            continue  # exited meanwhile
    return {"main": main.as_dict(), "children": [m.as_dict() for m in others]}
