"""Device selection. Nothing is picked at import time: callers pass ``device`` in."""

from __future__ import annotations

import contextlib

import torch

from dreamlab.runtime.threads import env_threads, set_torch_threads, thread_ceiling, usable_cores

__all__ = ["available_devices", "configure_threads", "resolve_device"]


def available_devices() -> list[str]:
    """The devices this machine can run on, best first (always ends with ``"cpu"``)."""
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return [*found, "cpu"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> cuda, then mps, then cpu; anything else is checked and returned as a device."""
    if isinstance(device, torch.device):
        return device
    name = str(device).strip().lower()
    if name == "auto":
        return torch.device(available_devices()[0])
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or mps") from None
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or mps")
    if dev.type != "cpu" and dev.type not in available_devices():
        raise ValueError(
            f"device {name!r} is not available here; available: {', '.join(available_devices())}"
        )
    return dev


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads for a shared server; returns the number used.

    ``DREAMLAB_TORCH_THREADS`` wins, else ``threads``, else the cores this process may really use
    (its affinity, capped by a cgroup CPU quota: :func:`dreamlab.runtime.threads.usable_cores`). That is
    the ceiling: while a job runs, :class:`dreamlab.runtime.threads.ThreadGovernor` may use fewer when a
    neighbour takes cores. Inter-op parallelism is kept at 1 so a second light request (a feature
    map) cannot double the threads.
    """
    threads = env_threads() or threads or usable_cores()
    used = set_torch_threads(threads)
    thread_ceiling(set_ceiling=used)
    # set_num_interop_threads raises once parallel work has started: then keep what is set
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
    return used
