"""Name rules for the container-start path, checked without ``re``.

``leger secrets fetch`` and ``leger driver lookup`` check a service name, env names and
podman's secret id on every container start; importing ``re`` for that costs about 6 ms here
(half a bare interpreter start). A :class:`NameRule` is the regular expression
``[first][rest]{0,max_len-1}`` as two sets of characters and a length, with ``fullmatch``'s
name so it stands where a compiled pattern stood. ``tests/test_core_names.py`` holds each
rule in use to its regular expression.
"""

from __future__ import annotations

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ALNUM = LETTERS + "0123456789"


class NameRule:
    """Text whose first character is in ``first``, every other in ``rest``, 1 to ``max_len``
    characters long (no limit when ``max_len`` is None)."""

    __slots__ = ("first", "max_len", "rest")

    def __init__(self, first: str, rest: str, max_len: int | None = None) -> None:
        self.first = frozenset(first)
        self.rest = frozenset(rest)
        self.max_len = max_len

    def fullmatch(self, text: str) -> bool:
        if not text or (self.max_len is not None and len(text) > self.max_len):
            return False
        return text[0] in self.first and self.rest.issuperset(text[1:])

    def __repr__(self) -> str:
        first, rest = "".join(sorted(self.first)), "".join(sorted(self.rest))
        return f"NameRule({first!r}, {rest!r}, {self.max_len})"


# An environment variable name, as POSIX shells accept it: the one rule for every strategy
# (envfile, podman, initscript) and the config's service tables.
ENV_NAME = NameRule(LETTERS + "_", ALNUM + "_")  # [A-Za-z_][A-Za-z0-9_]*
