"""Every name rule a strategy applies, in one place, checked without ``re``.

Three kinds of name reach a delivery strategy (docs/index.md, "Names"):

* a **service** (:data:`SERVICE_NAME`): ``[services.NAME]`` in the config, the argument of
  ``leger secrets fetch|clean`` and ``leger inject …``, the stem of a release's quadlet;
* a **secret** (:data:`SECRET_NAME`): the NAME of a ``[BACKEND:]NAME`` reference
  (:mod:`leger_core.backends`), optionally followed by a backend's own ``#OPTION``
  (:data:`SECRET_OPTION`, pass's ``#whole``);
* a **podman secret** (:data:`PODMAN_SECRET_NAME`): what podman itself accepts, for the
  release's ``Secret=NAME`` lines, the podman strategy's derived ``SERVICE_env`` names and the
  init script's ``leger-token-SERVICE``.

Every strategy calls the ``check_*`` functions below, so they accept and refuse the same names
with the same message (``tests/test_name_rules.py``). Other names (legerd token names, the
account service's key names, deployment names) are separate namespaces with rules of their own.

``leger secrets fetch`` and ``leger driver lookup`` check names on every container start;
importing ``re`` for that costs about 6 ms here (half a bare interpreter start). A
:class:`NameRule` is the regular expression ``[first]([rest]{0,max_len-2}[last])?`` (``last``
defaults to ``rest``) as sets of characters and a length, with ``fullmatch``'s name so it stands
where a compiled pattern stood. ``tests/test_core_names.py`` holds each rule to its regular
expression.
"""

from __future__ import annotations

from leger_core.errors import InvalidInputError

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ALNUM = LETTERS + "0123456789"
_LOWER = "abcdefghijklmnopqrstuvwxyz"


class NameRule:
    """Text whose first character is in ``first``, its last (when it has two or more) in
    ``last`` (default ``rest``), every other in ``rest``, 1 to ``max_len`` characters long
    (no limit when ``max_len`` is None)."""

    __slots__ = ("first", "last", "max_len", "rest")

    def __init__(
        self, first: str, rest: str, max_len: int | None = None, last: str | None = None
    ) -> None:
        self.first = frozenset(first)
        self.rest = frozenset(rest)
        self.last = frozenset(rest if last is None else last)
        self.max_len = max_len

    def fullmatch(self, text: str) -> bool:
        if not text or (self.max_len is not None and len(text) > self.max_len):
            return False
        if text[0] not in self.first:
            return False
        if len(text) == 1:
            return True
        return text[-1] in self.last and self.rest.issuperset(text[1:-1])

    def __repr__(self) -> str:
        first, rest = "".join(sorted(self.first)), "".join(sorted(self.rest))
        if self.last == self.rest:
            return f"NameRule({first!r}, {rest!r}, {self.max_len})"
        last = "".join(sorted(self.last))
        return f"NameRule({first!r}, {rest!r}, {self.max_len}, last={last!r})"


# An environment variable name, as POSIX shells accept it.
ENV_NAME = NameRule(LETTERS + "_", ALNUM + "_")  # [A-Za-z_][A-Za-z0-9_]*

# A Leger service: the union of the rules the strategies once had each (envfile's 128
# characters with '@', podman's and initscript's 101 without), so no name that worked breaks;
# '@' for systemd template instances (web@1).
SERVICE_NAME = NameRule(ALNUM + "_", ALNUM + "_.@-", 128)  # [A-Za-z0-9_][A-Za-z0-9_.@-]{0,127}
SERVICE_RULE = "1 to 128 letters, digits, '_', '.', '@' and '-', the first a letter, digit or '_'"

# A secret's name in its backend. legerd and setec accept any name without control
# characters; Leger's strategies take these, none of which needs quoting in JSON, a shell word,
# a podman label or an env file comment. A leading '/' is allowed (legerd allows it).
_SECRET_CHARS = ALNUM + "_.@:+=/-"
SECRET_NAME = NameRule(_SECRET_CHARS, _SECRET_CHARS, 256)  # [A-Za-z0-9_.@:+=/-]{1,256}
SECRET_RULE = "1 to 256 letters, digits and _ . @ : + = / -"
# What may follow NAME after a '#': an option of the backend's own (pass: NAME#whole).
SECRET_OPTION = NameRule(ALNUM, ALNUM + "_.,=-", 64)  # [A-Za-z0-9][A-Za-z0-9_.,=-]{0,63}

# podman's secret names: the stricter of podman 4.3 (Debian 12) and podman 5.4 (Debian 13).
# 4.3 says "only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be
# [a-zA-Z0-9]" but takes a trailing '_' (tried: a_ and 63 a's + '_' are accepted, a. and a- are
# not); 5.4 takes 1 to 253 characters without '=', '/', ',' or NUL, so all of these.
PODMAN_SECRET_NAME = NameRule(ALNUM, ALNUM + "_.-", 64, last=ALNUM + "_")
# [A-Za-z0-9]([A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?
PODMAN_SECRET_RULE = (
    "1 to 64 letters, digits, '_', '.' and '-', the first a letter or digit, "
    "the last not '.' or '-'"
)

# The account's secret names on leger-server (leger_server.secret_store.NAME_RE, apart from
# "." and ".."): what a release's manifest may ask for (leger secrets sync brings
# <prefix>NAME) and what a cloud:NAME reference can name. A subset of SECRET_NAME.
_ACCOUNT_CHARS = ALNUM + "_.-"
ACCOUNT_SECRET_NAME = NameRule(_ACCOUNT_CHARS, _ACCOUNT_CHARS, 128)  # [A-Za-z0-9_.-]{1,128}
ACCOUNT_SECRET_RULE = "1 to 128 letters, digits, '_', '.' and '-'"

# A secret backend's registered name (the BACKEND of BACKEND:NAME).
BACKEND_NAME = NameRule(_LOWER, _LOWER + "0123456789_-", 32)  # [a-z][a-z0-9_-]{0,31}


def check_service(service: str) -> str:
    """``service`` when it is a Leger service name, else :class:`InvalidInputError`."""
    if not SERVICE_NAME.fullmatch(service):
        raise InvalidInputError(
            f"invalid service name {service!r}: a service name is {SERVICE_RULE}"
        )
    return service


def secret_name_fits(name: str) -> bool:
    """``NAME`` or ``NAME#OPTION`` (the part of a reference after its backend)."""
    base, sep, option = name.partition("#")
    return SECRET_NAME.fullmatch(base) and (not sep or SECRET_OPTION.fullmatch(option))


def check_secret_name(name: str, env: str | None = None, *, options: bool = True) -> str:
    """``name`` when it is a secret name (``NAME#OPTION`` too when ``options``), else
    :class:`InvalidInputError` naming ``env`` when given."""
    fits = secret_name_fits(name) if options else SECRET_NAME.fullmatch(name)
    if not fits:
        where = f"{env}: " if env else ""
        raise InvalidInputError(
            f"{where}invalid secret name {name!r}: a secret name is {SECRET_RULE}"
            + (", optionally followed by #OPTION (pass: #whole)" if options else "")
        )
    return name


def check_podman_secret_name(name: str, what: str = "", hint: str | None = None) -> str:
    """``name`` when podman accepts it as a secret name, else :class:`InvalidInputError`
    (before podman is asked anything); ``what`` says where the name came from, ``hint`` the
    way out."""
    if not PODMAN_SECRET_NAME.fullmatch(name):
        raise InvalidInputError(
            f"podman would refuse the secret name {name!r}{what}: a podman secret name is "
            f"{PODMAN_SECRET_RULE}",
            hint=hint,
        )
    return name
