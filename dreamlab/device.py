"""Device selection. Nothing is picked at import time: callers pass ``device`` in."""

from __future__ import annotations

import contextlib
import os

import torch

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

    ``DREAMLAB_TORCH_THREADS`` wins, else ``threads``, else every core the process may use. The job
    gate lets one heavy job run at a time on a CPU, so that job may use all cores; inter-op
    parallelism is kept at 1 so a second light request (a feature map) cannot double the threads.
    """
    env = os.environ.get("DREAMLAB_TORCH_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        threads = int(env)
    if threads is None:
        try:
            threads = len(os.sched_getaffinity(0))
        except AttributeError:  # macOS, Windows
            threads = os.cpu_count() or 1
    torch.set_num_threads(max(1, threads))
    # set_num_interop_threads raises once parallel work has started: then keep what is set
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
    return torch.get_num_threads()
