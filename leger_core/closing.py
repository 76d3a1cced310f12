"""``with client: ...`` for anything with a ``close()``: a base class, not ``contextlib``.

``contextlib.closing`` would do, but ``contextlib`` costs an import on the container-start path
(it pulls in ``collections`` and ``functools``); the clients that hold a connection open (the
setec client, its HTTP connection, the cloud client) inherit these three lines instead.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from typing import Self


class Closing:
    """A context manager that calls ``self.close()`` on the way out, error or not."""

    __slots__ = ()

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
