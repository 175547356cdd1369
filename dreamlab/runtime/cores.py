"""Cores this process may use, read from the machine: the cgroup CPU quota (v2 ``cpu.max``, v1
``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``) and the CPU's name. Each reader takes its paths as
parameters so tests can fake them; :func:`dreamlab.runtime.threads.usable_cores` combines the quota
with the CPU affinity."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CGROUP_ROOT",
    "SELF_CGROUP",
    "cgroup_cpu_limit",
    "cpu_name",
    "parse_cpu_max",
    "read_text",
]

CGROUP_ROOT = "/sys/fs/cgroup"
SELF_CGROUP = "/proc/self/cgroup"


def parse_cpu_max(text: str) -> float | None:
    """Cores allowed by a cgroup v2 ``cpu.max`` line (``"max 100000"`` -> None, ``"200000 100000"``
    -> 2.0); None when unlimited or unreadable."""
    parts = text.split()
    if len(parts) < 1 or parts[0] == "max":
        return None
    try:
        quota = int(parts[0])
        period = int(parts[1]) if len(parts) > 1 else 100_000
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _v2_dirs(root: Path, self_cgroup: Path) -> list[Path]:
    """This process's cgroup v2 directory and its parents up to ``root`` (each may set a quota)."""
    text = read_text(self_cgroup) or ""
    rel = next((line[3:] for line in text.splitlines() if line.startswith("0::")), "/")
    here = root / rel.strip("/") if rel.strip("/") else root
    dirs = [here, *here.parents]
    return [d for d in dirs if d == root or root in d.parents]


def _v1_limit(root: Path) -> float | None:
    for folder in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        quota, period = (
            read_text(root / folder / "cpu.cfs_quota_us"),
            read_text(root / folder / "cpu.cfs_period_us"),
        )
        if quota is None or period is None:
            continue
        try:
            q, p = int(quota), int(period)
        except ValueError:
            continue
        return q / p if q > 0 and p > 0 else None  # -1: unlimited
    return None


def cgroup_cpu_limit(
    root: str | Path = CGROUP_ROOT, self_cgroup: str | Path = SELF_CGROUP
) -> float | None:
    """The cgroup CPU quota in cores (the tightest on the way up, v2 then v1), or None if none."""
    root, self_cgroup = Path(root), Path(self_cgroup)
    limits = [
        parse_cpu_max(text)
        for d in _v2_dirs(root, self_cgroup)
        if (text := read_text(d / "cpu.max"))
    ]
    found = [x for x in limits if x is not None]
    if found:
        return min(found)
    return _v1_limit(root)


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``, else the platform's), e.g. for a picture's metadata."""
    import platform

    for line in (read_text(Path("/proc/cpuinfo")) or "").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"
