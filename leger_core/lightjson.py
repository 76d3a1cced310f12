"""JSON for the container-start path, from the standard library's C accelerator.

``import json`` costs more than the rest of ``leger secrets fetch`` together: its pure-Python
decoder and encoder compile regular expressions at import, which pulls in ``re`` and ``enum``
(about 8 ms on these machines, against 12 ms for the whole bare interpreter start). ``_json`` is
the C module ``json`` itself uses for speed; its scanner and encoder work on their own, so this
module builds them with ``json.loads``'/``json.dumps``' default settings and nothing else.

Where ``_json`` is missing or takes other arguments (another Python implementation or a future
CPython), :data:`loads` and :data:`dumps` are plain ``json.loads`` and compact ``json.dumps``:
slower, and the same answers. One difference is deliberate: bytes are read as UTF-8, which is
what legerd sends and the caches hold; ``json.loads`` would also guess UTF-16 or UTF-32 and
skip a byte-order mark. ``tests/test_core_lightjson.py`` holds both to ``json``'s answers.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_WHITESPACE = " \t\n\r"  # JSON's insignificant whitespace (RFC 8259 §2)


class _DecoderSettings:
    """What ``_json.make_scanner`` reads from a ``json.JSONDecoder``: its defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # NaN, Infinity, -Infinity: json.loads accepts them too


def _unserializable(obj: Any) -> Any:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _fast() -> tuple[Callable[[str | bytes], Any], Callable[[Any], str]]:
    from _json import encode_basestring_ascii, make_encoder, make_scanner

    # typeshed types the context as a scanner; CPython only reads the attributes above.
    scan = make_scanner(_DecoderSettings)  # type: ignore[arg-type]
    # json.dumps' defaults (ensure_ascii, allow_nan, no sort, no indent), compact separators.
    encode = make_encoder(
        None, _unserializable, encode_basestring_ascii, None, ":", ",", False, False, True
    )

    def loads(data: str | bytes) -> Any:
        """``json.loads(data)`` (bytes as UTF-8); malformed input is a ValueError, as in json."""
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
        start = len(text) - len(text.lstrip(_WHITESPACE))
        try:
            value, end = scan(text, start)
        except StopIteration:
            raise ValueError("invalid JSON") from None
        if text[end:].strip(_WHITESPACE):
            raise ValueError("invalid JSON: extra data after the value")
        return value

    def dumps(obj: Any) -> str:
        """``json.dumps(obj, separators=(",", ":"))``."""
        return "".join(encode(obj, 0))

    # A probe, so a changed signature falls back here instead of failing a container start.
    if loads(dumps({"a": [1, 2.5, None, True, "\u00e9"]})) != {"a": [1, 2.5, None, True, "é"]}:
        raise ImportError("_json does not answer as json does")
    return loads, dumps


def _pure() -> tuple[Callable[[str | bytes], Any], Callable[[Any], str]]:
    import json

    def loads(data: str | bytes) -> Any:
        return json.loads(data.decode("utf-8") if isinstance(data, bytes | bytearray) else data)

    def dumps(obj: Any) -> str:
        return json.dumps(obj, separators=(",", ":"))

    return loads, dumps


try:
    loads, dumps = _fast()
except (ImportError, TypeError, ValueError, AttributeError):
    loads, dumps = _pure()
