"""Download one file with progress and an integrity check (model weights, data sets).

A generator of ``(bytes done, bytes total)`` so the UI can draw a bar (rule 2); the file appears
at its destination only once complete and verified, so a failed or corrupted download leaves
nothing behind.
"""

from __future__ import annotations

import hashlib
import urllib.request
from collections.abc import Generator
from pathlib import Path

__all__ = ["DownloadError", "fetch"]


class DownloadError(ValueError):
    """A download that failed or arrived corrupted; the message is one line."""


def fetch(
    url: str,
    dest: Path,
    *,
    digest: str,
    expected: str | None,
    chunk: int = 1 << 20,
    done: int = 0,
    total: int = 0,
) -> Generator[tuple[int, int], None, tuple[int, int]]:
    """Fetch ``url`` into ``dest``, yielding cumulative (done, total) bytes.

    ``digest`` names a hashlib algorithm ("sha256", "md5"); the file's hex digest must start with
    ``expected`` (a prefix, as in torchvision's file names, or the whole digest), unless it is None.
    ``done`` and ``total`` carry progress over from earlier files of the same download; the final
    pair is returned.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    hasher = hashlib.new(digest, usedforsecurity=False)
    try:
        with urllib.request.urlopen(url, timeout=30) as resp, open(tmp, "wb") as out:
            total += int(resp.headers.get("Content-Length") or 0)
            while block := resp.read(chunk):
                out.write(block)
                hasher.update(block)
                done += len(block)
                yield done, total
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DownloadError(f"download failed: {exc}") from None
    if expected and not hasher.hexdigest().startswith(expected):
        tmp.unlink(missing_ok=True)
        raise DownloadError(
            f"download of {dest.name} corrupted: hash check failed ({digest} mismatch); try again"
        )
    tmp.replace(dest)
    return done, total
