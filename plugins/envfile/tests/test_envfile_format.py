"""The env file format: what is written, what is refused, and how the file is written."""

import os
import stat

import pytest

from leger_core.errors import InvalidInputError
from leger_plugin_envfile import envformat
from leger_plugin_envfile.envformat import parse, render, value_problem, write_private


@pytest.mark.parametrize(
    "value",
    [b"sk-proj-abc123", b"", b"a b", b"with=equals==", b"#not-a-comment", b"$HOME", b"x'y\"z",
     "üñïçødé".encode(), b"semi;colon", b"tab\tinside"],
)  # fmt: skip
def test_writable_values_round_trip_exactly(value):
    data = render([("KEY", "name", value)])
    assert parse(data) == {"KEY": value}


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (b"line1\nline2", "newline"),
        (b"trailing\n", "newline"),
        (b"cr\rhere", "carriage return"),
        (b"nul\x00byte", "NUL"),
        (b"\xff\xfe", "UTF-8"),
        (b"bell\x07", "control character"),
        (b"back\\slash", "backslash"),
        (b" padded", "whitespace"),
        (b"padded\t", "whitespace"),
        (b'"quoted"', "quote"),
    ],
)
def test_values_that_would_be_read_differently_are_refused(value, why):
    assert why in (value_problem(value) or "")
    with pytest.raises(InvalidInputError) as err:
        render([("OK", "good/one", b"fine"), ("OPENAI_API_KEY", "leger/u/openai", value)])
    message = str(err.value)
    assert "'leger/u/openai'" in message and "OPENAI_API_KEY" in message
    if len(value) > 2:
        assert value.decode("latin-1") not in message


def test_error_names_the_secret_never_the_value():
    secret_value = b"sk-live-do-not-print\nsecond-line"
    with pytest.raises(InvalidInputError) as err:
        render([("K", "team/key", secret_value)])
    assert "sk-live" not in str(err.value) and "sk-live" not in repr(err.value)


def test_bad_env_name_and_duplicates_are_refused():
    with pytest.raises(InvalidInputError):
        render([("BAD NAME", "x", b"v")])
    with pytest.raises(InvalidInputError):
        render([("1ABC", "x", b"v")])
    with pytest.raises(InvalidInputError):
        render([("A", "x", b"v"), ("A", "y", b"w")])


def test_overlong_line_is_refused():
    with pytest.raises(InvalidInputError, match="too long"):
        render([("K", "big", b"x" * envformat.MAX_LINE)])


def test_write_private_is_0600_from_the_first_byte(tmp_path, monkeypatch):
    os.umask(0o000)
    try:
        seen = {}
        real_replace = os.replace

        def spy(src, dst):
            seen["mode"] = stat.S_IMODE(os.stat(src).st_mode)
            with open(src, "rb") as fh:
                seen["content"] = fh.read()
            return real_replace(src, dst)

        monkeypatch.setattr(os, "replace", spy)
        target = tmp_path / "svc.env"
        write_private(str(target), b"A=1\n")
    finally:
        os.umask(0o022)
    assert seen == {"mode": 0o600, "content": b"A=1\n"}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_bytes() == b"A=1\n"


def test_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "svc.env"
    target.write_bytes(b"OLD=1\n")

    def boom(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        write_private(str(target), b"NEW=2\n")
    assert target.read_bytes() == b"OLD=1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["svc.env"]
