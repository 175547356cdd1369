"""The base of DreamLab's user-facing errors: an English one-line message plus a machine-readable kind.

The backend speaks English (the CLI prints ``str(exc)``). A user interface in another language
translates by ``kind`` and ``params`` instead of parsing the message: ``kind`` names what went wrong
(``"not_an_image"``), ``params`` holds the values the message was made from (``{"name": "a.png"}``).
An error raised without a kind (``kind == ""``) is shown as its English message.
"""

from __future__ import annotations

__all__ = ["DreamLabError"]


class DreamLabError(ValueError):
    """A one-line error fit to show a user, with ``kind`` and ``params`` for translation."""

    def __init__(self, message: str, kind: str = "", /, **params: object) -> None:
        super().__init__(message)
        self.kind = kind
        self.params = params

    def __reduce__(self):  # picklable (st.cache_data, multiprocessing) with its kind and params
        return (
            _rebuild,
            (type(self), str(self.args[0]) if self.args else "", self.kind, self.params),
        )


def _rebuild(cls: type[DreamLabError], message: str, kind: str, params: dict) -> DreamLabError:
    err = cls.__new__(cls)
    DreamLabError.__init__(err, message, kind, **params)
    return err
