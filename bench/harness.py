"""What the browser benchmarks and the browser tests share, in one place.

- Servers: a free localhost port, ``streamlit run streamlit_app.py`` and ``dreamlab serve``
  started and waited on until they answer, and stopped with their whole process tree.
- CPUs: the split of the machine's cores between a server and its browsers, pinning this process
  meanwhile, and a one-core busy neighbour.
- Containers: a cgroup (v2, or v1 memory + cpu) with a memory limit and a CPU quota that a server
  is started inside, removed afterwards.
- Meters: the load average, a process tree's CPU seconds and resident memory, percentiles.

Importable as ``bench.harness`` (tests, from the repository root) and as ``harness`` (the scripts,
run as ``python bench/NAME.py``). It starts nothing at import.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import psutil

__all__ = [
    "CGROUP",
    "ROOT",
    "CgroupError",
    "Container",
    "CpuMeter",
    "RssSampler",
    "free_port",
    "loadavg",
    "neighbour",
    "pct",
    "pinned",
    "split_cpus",
    "start_serve",
    "start_streamlit",
    "stop_serve",
    "stop_tree",
    "streamlit_server",
    "wait_http",
]

ROOT = Path(__file__).resolve().parents[1]
CGROUP = Path(os.environ.get("DREAMLAB_CGROUP_ROOT", "/sys/fs/cgroup"))
_PERIOD_US = 100_000
_STREAMLIT_HEALTH = "/_stcore/health"

# ---------------------------------------------------------------- servers


def free_port() -> int:
    """A TCP port free on localhost now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(
    url: str,
    proc: subprocess.Popen | None = None,
    timeout: float = 90,
    path: str = _STREAMLIT_HEALTH,
) -> None:
    """Wait until ``url + path`` answers 200; RuntimeError if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:4]} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + path, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer {path} within {timeout:.0f} s")


def _affinity(cpus: set[int] | None):
    """A ``preexec_fn`` that pins the child to ``cpus`` (None: inherit this process's)."""
    return (lambda: os.sched_setaffinity(0, cpus)) if cpus else None


def start_streamlit(
    port: int,
    env_extra: dict[str, str] | None = None,
    cpus: set[int] | None = None,
    wrap: list[str] | None = None,
    log: Path | None = None,
    timeout: float = 90,
) -> subprocess.Popen:
    """``streamlit run streamlit_app.py`` on ``127.0.0.1:port``, offline, ready when returned.

    ``cpus`` pins it to its own cores; ``wrap`` is a command prefix that execs the rest (a
    :class:`Container` joins its cgroup with it); ``log`` receives its output (else discarded).
    """
    env = {**os.environ, "DREAMLAB_OFFLINE": "1", "HF_HUB_OFFLINE": "1", **(env_extra or {})}
    command = [*(wrap or []), sys.executable, "-m", "streamlit", "run", "streamlit_app.py"]
    command += ["--server.port", str(port), "--server.address", "127.0.0.1"]
    command += ["--server.headless", "true", "--server.fileWatcherType", "none"]
    command += ["--browser.gatherUsageStats", "false"]
    with _output(log) as out:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
            preexec_fn=_affinity(cpus),
        )
    try:
        wait_http(f"http://127.0.0.1:{port}", proc, timeout)
    except RuntimeError:
        stop_tree(proc)
        raise
    return proc


@contextlib.contextmanager
def _output(log: Path | None) -> Iterator[IO[bytes] | int]:
    """The log file opened for the child (closed here: the child keeps its own copy), or DEVNULL."""
    if log is None:
        yield subprocess.DEVNULL
        return
    with open(log, "wb") as out:
        yield out


def stop_tree(proc: subprocess.Popen, timeout: float = 30, sig: int = signal.SIGTERM) -> None:
    """Send ``sig`` (SIGTERM; SIGKILL after ``timeout`` s), then kill any child left behind."""
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        children = []
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()


@contextlib.contextmanager
def streamlit_server(
    env_extra: dict[str, str] | None = None, log: Path | None = None, timeout: float = 90
) -> Iterator[str]:
    """A ``streamlit run`` on a free port for the ``with`` block: yields its URL."""
    port = free_port()
    proc = start_streamlit(port, env_extra, log=log, timeout=timeout)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_tree(proc)


def start_serve(
    port: int,
    tmp: Path,
    token: str,
    args: list[str] | None = None,
    cpus: set[int] | None = None,
    timeout: float = 240,
) -> subprocess.Popen:
    """``dreamlab serve`` on ``127.0.0.1:port`` with a token file, its Ray files and log under
    ``tmp``, ready (``/healthz``) when returned; ``args`` adds options (``--device cpu``, ...)."""
    token_file = tmp / "token"
    token_file.write_text(token + "\n")
    env = {
        **os.environ,
        "DREAMLAB_OFFLINE": "1",
        "PYTHONPATH": str(ROOT),
        "RAY_TMPDIR": str(tmp),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "disabled",
        # no Ray OOM killer: on a shared machine other processes' memory made it kill the replica
        # mid-run (the kernel's own OOM killer still applies)
        "RAY_memory_monitor_refresh_ms": "0",
    }
    command = [sys.executable, "-m", "dreamlab", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--token-file", str(token_file), *(args or [])]
    with _output(tmp / "serve.log") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=out,
            preexec_fn=_affinity(cpus),
        )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}", proc, timeout, path="/healthz")
    except RuntimeError as exc:
        stop_serve(proc, tmp)
        raise RuntimeError(f"dreamlab serve did not start ({exc}): see {tmp}/serve.log") from None
    return proc


def stop_serve(proc: subprocess.Popen, tmp: Path) -> None:
    """Ctrl-C (Serve and Ray shut down), then end what is left of this service's own Ray (the
    processes whose command line names its temp dir), by process id."""
    stop_tree(proc, timeout=60, sig=signal.SIGINT)
    for p in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error, TypeError):
            if str(tmp) in " ".join(p.info["cmdline"] or []):
                p.kill()


# ---------------------------------------------------------------- CPUs


def split_cpus(pin: bool) -> tuple[set[int] | None, set[int] | None]:
    """(server cores, client cores): the first half for the server (at least one), the rest for
    this script and its browsers; (None, None) when not pinning or on one core."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return None, None
    if not pin or len(cpus) < 2:
        return None, None
    half = max(1, len(cpus) // 2)
    return set(cpus[:half]), set(cpus[half:])


@contextlib.contextmanager
def pinned(cpus: set[int] | None) -> Iterator[None]:
    """This process (and the Playwright driver and Chromium it starts) on ``cpus`` meanwhile."""
    before = os.sched_getaffinity(0) if cpus else None
    if cpus:
        os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        if before:
            os.sched_setaffinity(0, before)


def neighbour(server_cpus: set[int] | None, wanted: bool) -> contextlib.AbstractContextManager:
    """A one-core busy process on the server's first core meanwhile (``wanted``), else nothing:
    the same neighbour as ``dreamlab benchmark --only contention``."""
    if not wanted:
        return contextlib.nullcontext()
    from dreamlab.benchmark.contention import busy_neighbour

    return busy_neighbour(min(server_cpus) if server_cpus else 0)


# ---------------------------------------------------------------- containers

# The wrapper a server starts through: join the cgroup(s), then become the server (same PID).
_WRAPPER = (
    "import os, sys\n"
    "files, cmd = sys.argv[1].split(os.pathsep), sys.argv[2:]\n"
    "for f in files:\n"
    "    open(f, 'w').write(str(os.getpid()))\n"
    "os.execvp(cmd[0], cmd)\n"
)


class CgroupError(RuntimeError):
    """No cgroup can be made here (the message is one line)."""


class Container:
    """A memory limit and a CPU quota as one cgroup (v2) or two (v1 memory + cpu)."""

    def __init__(self, name: str, memory_mb: int, cpus: float) -> None:
        self.memory_mb, self.cpus = memory_mb, cpus
        self.version = 2 if (CGROUP / "cgroup.controllers").exists() else 1
        self.dirs: list[Path] = []
        try:
            self._make(name)
        except OSError as exc:
            self.remove()
            raise CgroupError(f"cannot make cgroups under {CGROUP}: {exc}") from None
        atexit.register(self.remove)

    def _make(self, name: str) -> None:
        limit = str(self.memory_mb * 2**20)
        quota = str(round(self.cpus * _PERIOD_US))
        if self.version == 2:
            with contextlib.suppress(OSError):  # enable the controllers for children
                (CGROUP / "cgroup.subtree_control").write_text("+memory +cpu")
            d = self._mkdir(CGROUP / name)
            (d / "memory.max").write_text(limit)
            with contextlib.suppress(OSError):
                (d / "memory.swap.max").write_text("0")
            (d / "cpu.max").write_text(f"{quota} {_PERIOD_US}")
            return
        mem, cpu = self._mkdir(CGROUP / "memory" / name), self._mkdir(CGROUP / "cpu" / name)
        (mem / "memory.limit_in_bytes").write_text(limit)
        with contextlib.suppress(OSError):  # no swap inside (where swap accounting exists)
            (mem / "memory.memsw.limit_in_bytes").write_text(limit)
        (cpu / "cpu.cfs_period_us").write_text(str(_PERIOD_US))
        (cpu / "cpu.cfs_quota_us").write_text(quota)

    def _mkdir(self, path: Path) -> Path:
        path.mkdir()
        self.dirs.append(path)
        return path

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    @property
    def memory_dir(self) -> Path:
        return self.dirs[0]

    def wrap(self) -> list[str]:
        """The command prefix that starts a process inside this container."""
        return [sys.executable, "-c", _WRAPPER, os.pathsep.join(self.procs_files)]

    def peak_mb(self) -> int | None:
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        with contextlib.suppress(OSError, ValueError):
            return round(int((self.memory_dir / name).read_text()) / 2**20)
        return None

    def oom_kills(self) -> int:
        """The kernel's OOM kills in this cgroup (0 where the kernel does not count them)."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        with contextlib.suppress(OSError):
            for line in (self.memory_dir / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def pids(self) -> list[int]:
        out: list[int] = []
        for f in self.procs_files:
            with contextlib.suppress(OSError):
                out += [int(p) for p in Path(f).read_text().split()]
        return out

    def remove(self) -> None:
        """Kill what is left inside (only processes started in it) and remove it."""
        for pid in set(self.pids()):
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()
        for d in reversed(self.dirs):
            deadline = time.monotonic() + 10
            while d.exists() and time.monotonic() < deadline:
                try:
                    d.rmdir()
                except OSError:
                    time.sleep(0.2)
        self.dirs = [d for d in self.dirs if d.exists()]


# ---------------------------------------------------------------- meters


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded: how busy the machine was."""
    return [round(x, 2) for x in os.getloadavg()]


def pct(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (nearest rank) of ``values``, rounded to 0.01; None when empty."""
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return round(values[k], 2)


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    return [proc, *proc.children(recursive=True)]


class CpuMeter:
    """CPU seconds (user + system) of a process and its children, from a start point on."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.start = self.seconds()

    def seconds(self) -> float:
        total = 0.0
        try:
            procs = _tree(self.proc)
        except psutil.Error:
            return 0.0
        for p in procs:
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
        return total

    def used(self) -> float:
        return round(self.seconds() - self.start, 2)


class RssSampler(threading.Thread):
    """Samples a process tree's resident memory every ``period`` seconds; ``stop()`` gives the
    peak in bytes."""

    def __init__(self, pid: int, period: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.period = period
        self.samples: list[tuple[float, int]] = []
        self._halt = threading.Event()

    def rss(self) -> int:
        try:
            return sum(p.memory_info().rss for p in _tree(self.proc) if p.is_running())
        except psutil.Error:
            return 0

    def run(self) -> None:
        t0 = time.monotonic()
        while not self._halt.is_set():
            self.samples.append((time.monotonic() - t0, self.rss()))
            self._halt.wait(self.period)

    def stop(self) -> int:
        self._halt.set()
        self.join(timeout=5)
        return max((r for _, r in self.samples), default=0)
